import t from 'tap';
import { createSodiumCrypto } from '@braid/protocol';
import { randomFaults, runDatagramExchange, SEED_ENV } from '@braid/netsim';

// BRAID_SEED=N replays that one seed; BRAID_SWEEP_SEEDS sets how many (default 500).
const single = process.env[SEED_ENV];
const count = single ? 1 : Number(process.env.BRAID_SWEEP_SEEDS ?? 500);
const first = single ? Number(single) : 1;

t.test(`seed sweep: ${count} random fault configurations hold every safety check`, async (t) => {
  const crypto = await createSodiumCrypto();
  const failures: string[] = [];
  let messages = 0;
  let faults = 0;
  for (let seed = first; seed < first + count; seed++) {
    const r = runDatagramExchange({ ...randomFaults(seed), crypto });
    messages += r.messages.deliveredAtA + r.messages.deliveredAtB;
    faults += r.links.reduce(
      (n, l) =>
        n +
        l.corrupted +
        l.duplicated +
        l.reordered +
        Object.values(l.dropped).reduce((a, b) => a + b, 0),
      0,
    );
    if (!r.verified) failures.push(`seed ${seed}: ${r.failure}`);
  }
  t.same(failures, [], 'no safety or liveness failure');
  t.ok(faults > count * 10, `${faults} faults injected over ${count} seeds`);
  t.ok(messages > count * 10, `${messages} messages verified`);
});
