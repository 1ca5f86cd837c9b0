import t from 'tap';
import { MP_A, MP_B } from '@braid/netsim';
import { holds, multipath } from './support/multipath.js';

// Two ways a path's timer used to come due again and again without anything being sendable,
// which the simulator reports as a livelock (found by the multipath seed sweep).

t.test(
  'a path the peer opened before its PATH_CID arrived arms no timer until it has one',
  async (t) => {
    // What A sends on link 0 in the 100 ms after its FINISH is lost (its PATH_CIDs among it);
    // A opens path 1 on link 1 as soon as it has B's, so B sees path 1 (and owes it an ACK)
    // well before it has a connection ID to send anything there.
    let sent = 0;
    let finishAtMs = -1;
    const r = await multipath({
      scenario: 'aggregate',
      onePathBaseline: false,
      bytes: 1_000_000,
      attach({ sim, a }) {
        const forward = sim.link(MP_A[0], MP_B[0]);
        a.onTransmit = (now, tx) => {
          if (tx.from !== MP_A[0]) return;
          if (++sent === 2) finishAtMs = now; // INITIAL, then FINISH
          forward.setBlackhole(sent > 2 && now < finishAtMs + 100);
        };
      },
    });
    holds(t, r);
    t.ok(sent > 3, 'A sent past the lossy 100 ms');
    const added = r.events.find((e) => e.side === 'b' && e.change === 'added')!;
    t.ok(added, 'B accepted path 1');
    t.ok(
      r.events.some((e) => e.side === 'b' && e.change === 'validated' && e.pathId === added.pathId),
      'and validated it once the connection ID came',
    );
  },
);

t.test('a path at its 3× limit arms no probe timer (RFC 9002 §6.2.2.1)', async (t) => {
  // After A's first datagram on link 1, nothing more gets from A to B there: B's side of path
  // 1 stays unvalidated, with a challenge in flight and no budget to probe for it.
  const r = await multipath({
    scenario: 'aggregate',
    onePathBaseline: false,
    bytes: 3_500_000,
    rateBps: 2e6,
    attach({ sim, a }) {
      const forward = sim.link(MP_A[1], MP_B[1]);
      a.onTransmit = (_now, tx) => {
        if (tx.from === MP_A[1] && !forward.options.blackhole)
          sim.at(sim.now, () => forward.setBlackhole(true));
      };
    },
  });
  holds(t, r);
  t.ok(
    r.virtualMs > 12_000,
    `the run outlasted the probe backoff cap (${Math.round(r.virtualMs)} ms)`,
  );
  const b1 = r.paths.b.find((p) => p.id === 1);
  t.ok(!b1 || b1.status === 'validating', "B's side of path 1 was never validated");
  const ledger = r.addresses.b.find((l) => l.address === MP_A[1])!;
  t.ok(ledger.worstRatio <= 3, `B kept to 3× (${ledger.sentUnvalidated}/${ledger.received})`);
});
