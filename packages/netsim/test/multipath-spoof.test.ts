import t from 'tap';
import { MP_A, MP_B, type SimNode, type Transmit } from '@braid/netsim';
import { holds, multipath } from './support/multipath.js';

/** Mallory: sends what it is given, keeps what it receives (it cannot read it). */
class Injector implements SimNode {
  readonly queue: Transmit[] = [];
  bytesReceived = 0;
  handleDatagram(_now: number, _path: unknown, bytes: Uint8Array): void {
    this.bytesReceived += bytes.length;
  }
  handleTimeout(): void {}
  pollTransmit(): Transmit | undefined {
    return this.queue.shift();
  }
  pollTimeout(): number | undefined {
    return undefined;
  }
}

const MALLORY = '192.0.2.66:4433';

t.test(
  'genuine packets re-sent from another address cannot move the session, whether they arrive first or late',
  async (t) => {
    const mallory = new Injector();
    let raced = 0;
    let replayed = 0;
    const r = await multipath({
      scenario: 'aggregate',
      onePathBaseline: false,
      bytes: 3_000_000,
      attach({ sim, a }) {
        sim.addNode('mallory', mallory, [MALLORY]);
        // Mallory is closer to B than A is (0.5 ms against 5 ms): a copy of a packet A has
        // just sent reaches B before the packet itself.
        sim.addDuplexLink(MALLORY, MP_B[0], { delayMs: 0.5 });
        let armed = false;
        let early: Uint8Array | undefined;
        a.onTransmit = (_now, tx) => {
          if (tx.from !== MP_A[0] || tx.to !== MP_B[0]) return;
          early ??= tx.bytes.slice();
          if (!armed) return;
          armed = false;
          raced++;
          mallory.queue.push({ from: MALLORY, to: MP_B[0], bytes: tx.bytes.slice() });
        };
        for (let i = 0; i < 20; i++) sim.at(200 + 47 * i, () => (armed = true));
        // And an old packet, already delivered, replayed from Mallory's address.
        for (let i = 0; i < 5; i++)
          sim.at(250 + 151 * i, () => {
            replayed++;
            mallory.queue.push({ from: MALLORY, to: MP_B[0], bytes: early! });
          });
      },
    });
    holds(t, r);
    t.equal(raced, 20, 'twenty packets raced by Mallory');
    t.equal(r.events.filter((e) => e.change === 'rebound').length, 0, 'no path ever moved');
    for (const p of r.paths.b)
      t.ok(
        (MP_A as readonly string[]).includes(p.remote),
        `B's path ${p.id} still goes to ${p.remote}`,
      );
    const ledger = r.addresses.b.find((l) => l.address === MALLORY)!;
    t.ok(ledger.received > 0, `${ledger.received} bytes reached B from Mallory's address`);
    // B challenges a new address only for an authenticated packet that was the newest yet:
    // Mallory's copies did arrive first, and were accepted (their frames are genuine).
    t.ok(mallory.bytesReceived > 0, 'B challenged that address (Mallory cannot answer)');
    t.ok(ledger.worstRatio <= 3, `and sent it at most 3× what came from it`);
    t.equal(ledger.streamBytes, 0, 'no stream data went to Mallory');
    t.ok(
      (r.endpoints.b.rejected.replay ?? 0) >= replayed,
      `${r.endpoints.b.rejected.replay} replays refused (the old packet, and genuine copies that came second)`,
    );
    const p0 = r.paths.a.find((p) => p.id === 0)!;
    t.equal(p0.status, 'active', "A's path 0 kept working");
    t.ok(p0.streamBytesSent > 0.2 * r.bytes, `it carried ${p0.streamBytesSent} stream bytes`);
  },
);
