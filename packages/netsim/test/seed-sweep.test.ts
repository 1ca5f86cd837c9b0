import t from 'tap';
import { createSodiumCrypto } from '@braid/protocol';
import {
  randomFaults,
  randomTransfer,
  runDatagramExchange,
  runStreamTransfer,
  SEED_ENV,
} from '@braid/netsim';

// BRAID_SEED=N replays that one seed; BRAID_SWEEP_SEEDS sets how many (default 500 per sweep).
const single = process.env[SEED_ENV];
const count = single ? 1 : Number(process.env.BRAID_SWEEP_SEEDS ?? 500);
const first = single ? Number(single) : 1;

interface Faulted {
  links: {
    corrupted: number;
    duplicated: number;
    reordered: number;
    dropped: Record<string, number>;
  }[];
}

function faultsOf(r: Faulted): number {
  return r.links.reduce(
    (n, l) =>
      n +
      l.corrupted +
      l.duplicated +
      l.reordered +
      Object.values(l.dropped).reduce((a, b) => a + b, 0),
    0,
  );
}

t.test(`datagram sweep: ${count} random fault configurations hold every check`, async (t) => {
  const crypto = await createSodiumCrypto();
  const failures: string[] = [];
  let messages = 0;
  let faults = 0;
  for (let seed = first; seed < first + count; seed++) {
    const r = runDatagramExchange({ ...randomFaults(seed), crypto });
    messages += r.messages.deliveredAtA + r.messages.deliveredAtB;
    faults += faultsOf(r);
    if (!r.verified) failures.push(`seed ${seed}: ${r.failure}`);
  }
  t.same(failures, [], 'no safety or liveness failure');
  t.ok(faults > count * 10, `${faults} faults injected over ${count} seeds`);
  t.ok(messages > count * 10, `${messages} messages verified`);
});

t.test(`stream sweep: ${count} random fault configurations, byte-exact streams`, async (t) => {
  // Safety is checked during each run (every byte compared as read, in order, once; a second
  // session is a violation); liveness after the faults heal at 60 s (every stream complete).
  const crypto = await createSodiumCrypto();
  const failures: string[] = [];
  let bytes = 0;
  let faults = 0;
  let retransmitted = 0;
  for (let seed = first; seed < first + count; seed++) {
    const r = runStreamTransfer({ ...randomTransfer(seed), crypto });
    bytes += r.bytes;
    faults += faultsOf(r);
    retransmitted += r.retransmittedBytes;
    if (!r.verified) failures.push(`seed ${seed}: ${r.failure}`);
  }
  t.same(failures, [], 'no safety or liveness failure');
  t.ok(faults > count * 10, `${faults} faults injected over ${count} seeds`);
  t.ok(bytes > count * 50_000, `${bytes} stream bytes verified`);
  t.ok(retransmitted > 0, `${retransmitted} bytes recovered by retransmission`);
});
