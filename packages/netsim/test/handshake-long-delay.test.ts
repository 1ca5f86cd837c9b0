import t from 'tap';
import { runScenario, seedFromEnv } from '@braid/netsim';
import { allConfirmed, manyClients } from './support/many-clients.js';

const seed = seedFromEnv(process.env, 750);

t.test(
  '750 ms one-way delay: handshakes complete, retransmissions make no duplicate session',
  async (t) => {
    // RTT 1500 ms is above the initial probe timeout (3 × 333 ms), so every INITIAL is
    // retransmitted before its answer can arrive: the responder sees duplicates.
    const m = await manyClients(seed, 20, { delayMs: 750, jitterMs: 20 });
    await runScenario(seed, () => {
      m.sim.run({ until: () => allConfirmed(m), maxVirtualMs: 60_000 });
      return allConfirmed(m);
    });
    t.equal(m.server.sessionIds().length, 20, 'one session per client');
    t.equal(m.server.stats().handshakesAccepted, 20, 'no INITIAL created a second handshake');
    t.ok(m.server.stats().rejected.duplicate >= 20, 'duplicates were seen and answered from cache');
    const established = m.serverEvents.filter((e) => e.type === 'established');
    t.equal(established.length, 20, 'the application saw 20 sessions, no more');
    for (const c of m.clients) {
      const info = c.sessionInfo(c.sessionIds()[0]!);
      t.ok(info.stats.handshakeRetransmits >= 1, `client ${info.shortId} retransmitted`);
    }
  },
);

t.test('IK at 750 ms: same guarantees', async (t) => {
  const m = await manyClients(seed + 1, 10, { delayMs: 750 }, 'ik');
  await runScenario(seed + 1, () => {
    m.sim.run({ until: () => allConfirmed(m), maxVirtualMs: 60_000 });
    return allConfirmed(m);
  });
  t.equal(m.server.sessionIds().length, 10);
  t.equal(m.serverEvents.filter((e) => e.type === 'established').length, 10);
});
