import t from 'tap';
import { MP_A, MP_A_INSIDE, MP_B } from '@braid/netsim';
import { holds, multipath } from './support/multipath.js';

t.test(
  "NAT rebinding of A's port, then of its address and port, every 5 s during 10 MB to A",
  async (t) => {
    const r = await multipath({ scenario: 'rebind', bytes: 10_000_000 });
    holds(t, r);
    t.ok(
      r.script.some((s) => s.what === 'NAT rebinding (port)') &&
        r.script.some((s) => s.what === 'NAT rebinding (address and port)'),
      'the port changed, then the address and the port',
    );
    t.ok(r.nat!.unmapped > 0, `${r.nat!.unmapped} datagrams to a stale binding were dropped`);
    const mappings = r.script.flatMap((s) => {
      const m = /^NAT maps (\S+) to (\S+) /.exec(s.what);
      return m ? [{ atMs: s.atMs, inside: m[1]!, outside: m[2]! }] : [];
    });
    t.ok(mappings.length >= 4, `${mappings.length} mappings changed`);
    for (const m of mappings) {
      const rebound = r.events.find(
        (e) =>
          e.side === 'b' && e.change === 'rebound' && e.remote === m.outside && e.atMs >= m.atMs,
      );
      // The transfer may end before A says anything from its last binding.
      if (!rebound && m.atMs + 2_000 > r.virtualMs) continue;
      t.ok(rebound, `B moved path ${rebound?.pathId} to ${m.outside} (${m.inside} behind the NAT)`);
      const ledger = r.addresses.b.find((l) => l.address === m.outside)!;
      t.ok(ledger.sentUnvalidated > 0, `B challenged ${m.outside} before moving there`);
      t.ok(
        ledger.worstRatio <= 3,
        `before validation B sent ${m.outside} ${ledger.sentUnvalidated} bytes for ${ledger.received} received (≤ 3×)`,
      );
      t.equal(
        ledger.streamBytesUnvalidated,
        0,
        `no stream data to ${m.outside} before it answered`,
      );
    }
    // Data goes to the newest bindings once they are validated.
    const last = new Map(mappings.map((m) => [m.inside, m.outside]));
    for (const inside of MP_A_INSIDE) {
      const outside = last.get(inside)!;
      const ledger = r.addresses.b.find((l) => l.address === outside);
      if (ledger && r.paths.b.some((p) => p.remote === outside))
        t.ok(ledger.streamBytes > 0, `${ledger.streamBytes} stream bytes to ${outside}`);
    }
  },
);

t.test(
  'a NAT rebinding while the handshake is still going on (its first reply was lost)',
  async (t) => {
    const r = await multipath({
      scenario: 'rebind',
      bytes: 500_000,
      rebindEveryMs: 1e9, // only the rebinding below
      attach({ sim, topo, nat }) {
        const toA = sim.link(MP_B[0], MP_A[0]);
        toA.setBlackhole(true); // B's replies are lost...
        sim.at(500, () => {
          // ...until after the NAT gave A a new port.
          topo.attach(0, '198.51.100.1:40001');
          sim.addLocator('a', '198.51.100.1:40001');
          nat!.rebind(MP_A_INSIDE[0], '198.51.100.1:40001');
        });
        sim.at(1_000, () => toA.setBlackhole(false));
      },
    });
    holds(t, r);
  },
);
