import t from 'tap';
import { firstEvent, holds, inOrder, multipath, trail } from './support/multipath.js';

t.test(
  'every path down for 60 s, then A comes back on a new address: suspended, then resumed without a new handshake',
  async (t) => {
    const r = await multipath({ scenario: 'outage-resume', bytes: 2_000_000 });
    holds(t, r);
    for (const side of ['a', 'b'] as const) {
      const after = trail(r, side, r.faultAtMs!);
      t.ok(inOrder(after, ['suspended', 'resumed']), `${side.toUpperCase()}: ${after.join(', ')}`);
      const resumed = firstEvent(r, side, 'resumed', r.faultAtMs!)!;
      t.ok(resumed.atMs >= r.restoredAtMs!, `${side.toUpperCase()} resumed after A's new address`);
      // Longer than the 30 s idle timeout: a suspended session is kept, not closed.
      t.ok(resumed.suspendedMs! > 55_000, `suspended for ${Math.round(resumed.suspendedMs!)} ms`);
    }
    const moved = r.events.find((e) => e.side === 'b' && e.change === 'rebound');
    t.equal(moved?.remote, '198.51.100.3:4433', "B's path moved to A's new address");
    t.ok(
      r.paths.a.some((p) => p.local === '198.51.100.3:4433' && p.status === 'active'),
      "A's path runs from the new address",
    );
  },
);

t.test(
  "at 5, 50 and 150 ms RTT: B's answers to A's new address keep within 3× of what came from it",
  async (t) => {
    // B hears A's new address first from A's challenge: its response and its own challenge
    // go there before the address is validated (RFC 9000 §8: at most 3× what arrived).
    for (const rttMs of [5, 50, 150]) {
      const r = await multipath({ scenario: 'outage-resume', rttMs, bytes: 1_000_000 });
      holds(t, r, `${rttMs} ms`);
      const ledger = r.addresses.b.find((l) => l.address === '198.51.100.3:4433')!;
      t.ok(
        ledger.sentUnvalidated > 0,
        `${rttMs} ms: B sent to the new address before validating it`,
      );
      t.ok(
        ledger.worstRatio <= 3,
        `${rttMs} ms: at most ${ledger.worstRatio.toFixed(2)}× what it had received from there`,
      );
    }
  },
);
