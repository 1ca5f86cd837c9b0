import t from 'tap';
import { createSodiumCrypto } from '@braid/protocol';
import { runMultipath, SEED_ENV } from '@braid/netsim';

// BRAID_SEED=N replays that one seed (also `pnpm sim -- --scenario random --seed N`);
// BRAID_SWEEP_SEEDS sets how many (default 150).
const single = process.env[SEED_ENV];
const count = single ? 1 : Number(process.env.BRAID_SWEEP_SEEDS ?? 150);
const first = single ? Number(single) : 1;

t.test(`multipath sweep: ${count} random two-path fault configurations`, async (t) => {
  // Safety during each run: every byte compared as read, one session, the 3× rule and no
  // stream data to an unvalidated address. Liveness after the faults heal at 20 s: the
  // transfer completes. A failing seed replays with BRAID_SEED=<seed>, or in `pnpm sim`.
  const crypto = await createSodiumCrypto();
  const failures: string[] = [];
  let dropped = 0;
  let suspensions = 0;
  let recoveries = 0;
  let rebinds = 0;
  let bytes = 0;
  for (let seed = first; seed < first + count; seed++) {
    const r = runMultipath({ scenario: 'random', seed, crypto });
    if (!r.verified) failures.push(`seed ${seed}: ${r.failure}`);
    bytes += r.bytes;
    for (const l of r.links) for (const n of Object.values(l.dropped)) dropped += n;
    suspensions += r.events.filter((e) => e.type === 'suspended').length;
    recoveries += r.events.filter((e) => e.change === 'recovered').length;
    rebinds += r.events.filter((e) => e.change === 'rebound').length;
  }
  t.same(failures, [], 'no safety or liveness failure');
  t.ok(dropped > count * 10, `${dropped} datagrams dropped by the faults`);
  t.ok(bytes > count * 16 * 1024, `${bytes} stream bytes verified`);
  if (count >= 50) {
    t.ok(recoveries > 0, `${recoveries} paths came back after going down`);
    t.ok(suspensions > 0, `${suspensions} suspensions (both links down at once) resumed`);
    t.ok(rebinds > 0, `${rebinds} paths moved after a NAT rebinding`);
  }
});

t.test('same seed, same run: a multipath scenario is deterministic', async (t) => {
  const crypto = await createSodiumCrypto();
  const one = runMultipath({ scenario: 'random', seed: first, crypto });
  const two = runMultipath({ scenario: 'random', seed: first, crypto });
  t.same(two, one, 'identical results, event for event');
});

t.test('seeds that once found a bug', async (t) => {
  // 1202 and 2657: B's side of a path, at its 3× limit after challenging a binding the NAT had
  // dropped, owed an ACK it could not send, and its ACK timer came due again and again.
  const crypto = await createSodiumCrypto();
  for (const seed of [1202, 2657]) {
    const r = runMultipath({ scenario: 'random', seed, crypto });
    t.ok(r.verified, `seed ${seed}: ${r.failure ?? 'verified'}`);
  }
});
