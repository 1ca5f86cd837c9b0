import t from 'tap';
import { createSodiumCrypto } from '@braid/protocol';
import { runDatagramExchange, seedFromEnv } from '@braid/netsim';

const base = seedFromEnv(process.env, 100);

t.test('corrupted packets are refused, never delivered (20 seeds, 20% corruption)', async (t) => {
  const crypto = await createSodiumCrypto();
  let corrupted = 0;
  let refused = 0;
  for (let seed = base; seed < base + 20; seed++) {
    const r = runDatagramExchange({
      seed,
      crypto,
      messages: 40,
      pattern: seed % 2 ? 'ik' : 'xx',
      link: { delayMs: 10, corrupt: 0.2, loss: 0.02 },
    });
    t.ok(r.verified, `seed ${seed}: ${r.failure ?? 'verified'}`);
    corrupted += r.links.reduce((n, l) => n + l.corrupted, 0);
    for (const e of [r.endpoints.a, r.endpoints.b])
      refused +=
        (e.rejected.bad_mac ?? 0) +
        (e.rejected.auth_failed ?? 0) +
        (e.rejected.malformed ?? 0) +
        (e.rejected.unknown_cid ?? 0) +
        (e.rejected.bad_version ?? 0);
  }
  t.ok(corrupted > 100, `links corrupted ${corrupted} packets`);
  // A corrupted packet that arrives is refused by one check or another (a corrupted duplicate
  // of a packet already lost might instead count as replay; a corrupted packet can also be lost).
  t.ok(refused >= corrupted * 0.8, `refused ${refused} of ${corrupted} corrupted packets`);
});
