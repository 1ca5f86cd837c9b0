import t from 'tap';
import { EchoNode, NatNode, Simulator, SinkNode, type Transmit } from '@braid/netsim';

const INSIDE = '192.0.2.1:4433';
const OUTSIDE = '198.51.100.1:4433';
const REBOUND = '198.51.100.1:40001';
const PEER = '203.0.113.1:4433';

/** Sends what is queued in `out`; keeps what arrives. */
class Client extends SinkNode {
  readonly out: Transmit[] = [];
  override pollTransmit(): Transmit | undefined {
    return this.out.shift();
  }
}

t.test(
  'the NAT rewrites the source, maps replies back in, and drops what reaches a stale binding',
  async (t) => {
    const sim = new Simulator({ seed: 1 });
    const client = new Client();
    const nat = new NatNode(client, [[INSIDE, OUTSIDE]]);
    const peer = new EchoNode();
    sim.addNode('a', nat, [OUTSIDE]);
    sim.addNode('b', peer, [PEER]);
    sim.addDuplexLink(OUTSIDE, PEER, { delayMs: 10 });
    sim.addDuplexLink(REBOUND, PEER, { delayMs: 10 });
    const send = (n: number) =>
      client.out.push({ from: INSIDE, to: PEER, bytes: new Uint8Array([n]) });

    send(1);
    sim.run({ maxVirtualMs: 30 });
    t.equal(client.arrivals.length, 1, 'the echo came back in');
    t.same(
      { local: client.arrivals[0]!.local, remote: client.arrivals[0]!.remote },
      { local: INSIDE, remote: PEER },
      'seen inside: to the inside locator, from the peer',
    );

    // A datagram is on its way back when the binding changes: it finds no mapping.
    send(2);
    sim.run({ maxVirtualMs: 15 });
    sim.addLocator('a', REBOUND);
    t.equal(nat.rebind(INSIDE, REBOUND), OUTSIDE, 'rebind returns the old outside locator');
    t.equal(nat.outsideOf(INSIDE), REBOUND);
    sim.run({ maxVirtualMs: 15 });
    t.equal(client.arrivals.length, 1, 'the reply to the old binding was dropped');

    send(3);
    sim.run({ maxVirtualMs: 30 });
    t.equal(client.arrivals.length, 2, 'the peer answered the new outside locator');
    t.same(nat.stats(), { outbound: 3, inbound: 2, unmapped: 1, noMapping: 0, rebinds: 1 });
    const toPeer = sim.stats().links.filter((l) => l.to === PEER);
    t.same(
      toPeer.map((l) => [l.from, l.sent]),
      [
        [OUTSIDE, 2],
        [REBOUND, 1],
      ],
      'the peer saw the old source, then the new one',
    );
  },
);

t.test('an inside locator without a mapping cannot send', async (t) => {
  const client = new Client();
  const nat = new NatNode(client, [[INSIDE, OUTSIDE]]);
  nat.unmap(INSIDE);
  client.out.push({ from: INSIDE, to: PEER, bytes: new Uint8Array(1) });
  t.equal(nat.pollTransmit(0), undefined);
  t.equal(nat.stats().noMapping, 1);
  t.throws(
    () =>
      new NatNode(client, [
        [INSIDE, OUTSIDE],
        ['192.0.2.2:4433', OUTSIDE],
      ]),
    {
      code: 'ERR_BRAID_INVALID_OPTION',
    },
  );
});
