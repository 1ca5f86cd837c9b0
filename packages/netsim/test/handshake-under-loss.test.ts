import t from 'tap';
import { runScenario, seedFromEnv } from '@braid/netsim';
import { allConfirmed, manyClients } from './support/many-clients.js';

const seed = seedFromEnv(process.env, 2026);

for (const pattern of ['xx', 'ik'] as const) {
  t.test(
    `50 ${pattern.toUpperCase()} handshakes under 30% loss each way all complete`,
    async (t) => {
      const m = await manyClients(seed, 50, { delayMs: 25, loss: 0.3 }, pattern);
      await runScenario(seed, () => {
        const r = m.sim.run({ until: () => allConfirmed(m), maxVirtualMs: 120_000 });
        t.ok(allConfirmed(m), `all 50 confirmed at ${r.nowMs} virtual ms`);
        return allConfirmed(m);
      });
      t.equal(m.server.sessionIds().length, 50, 'exactly one session per client at the server');
      const failed = m.clientEvents.flat().filter((e) => e.type === 'closed');
      t.same(failed, [], 'no handshake failed');
      const lost = m.sim.stats().links.reduce((n, l) => n + l.dropped.loss, 0);
      t.ok(lost > 50, `the links really dropped packets (${lost})`);
      const retransmits = m.clients.reduce(
        (n, c) => n + c.sessionInfo(c.sessionIds()[0]!).stats.handshakeRetransmits,
        0,
      );
      t.ok(retransmits > 0, `handshake messages were retransmitted (${retransmits})`);
    },
  );
}
