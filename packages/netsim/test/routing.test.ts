import t from 'tap';
import {
  ConstantRateSender,
  EchoNode,
  readSequence,
  Simulator,
  SinkNode,
  type SimNode,
  type Transmit,
} from '@braid/netsim';

const A = '198.51.100.1:4433';
const B = '203.0.113.7:4433';
const B6 = '[2001:db8::7]:4433';
const NAT = '203.0.113.200:61000';
const NAT2 = '203.0.113.200:61001';

/** Sends the given transmits at the given times, in the order listed. */
class ScriptedSender implements SimNode {
  #next = 0;
  constructor(readonly script: { atMs: number; tx: Transmit }[]) {}
  handleDatagram(): void {}
  handleTimeout(): void {}
  pollTransmit(now: number): Transmit | undefined {
    const item = this.script[this.#next];
    if (item === undefined || item.atMs > now) return undefined;
    this.#next++;
    return item.tx;
  }
  pollTimeout(): number | undefined {
    return this.script[this.#next]?.atMs;
  }
}

const bytes = (n: number) => new Uint8Array([n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

t.test('a datagram with no link to its destination is dropped as no_route', (t) => {
  const sim = new Simulator({ seed: 1 });
  const sink = new SinkNode();
  sim.addNode(
    'a',
    new ScriptedSender([
      { atMs: 0, tx: { from: A, to: B, bytes: bytes(1) } },
      { atMs: 0, tx: { from: A, to: B6, bytes: bytes(2) } },
    ]),
    [A],
  );
  sim.addNode('b', sink, [B, B6]);
  sim.addLink(A, B);
  sim.run({ maxVirtualMs: 10 });
  t.equal(sink.arrivals.length, 1);
  t.equal(sink.arrivals[0]!.local, B);
  t.equal(sim.stats().dropped.no_route, 1);
  t.end();
});

t.test('a node sending from a locator it does not own is dropped as foreign_source', (t) => {
  const sim = new Simulator({ seed: 2 });
  const sink = new SinkNode();
  sim.addNode('a', new ScriptedSender([{ atMs: 0, tx: { from: B6, to: B, bytes: bytes(1) } }]), [
    A,
  ]);
  sim.addNode('b', sink, [B, B6]);
  sim.addLink(B6, B);
  sim.run({ maxVirtualMs: 10 });
  t.equal(sink.arrivals.length, 0);
  t.equal(sim.stats().dropped.foreign_source, 1);
  t.end();
});

t.test('a locator removed while a datagram is in flight makes it no_route on arrival', (t) => {
  const sim = new Simulator({ seed: 3 });
  const sink = new SinkNode();
  sim.addNode('a', new ConstantRateSender({ from: A, to: B, count: 4, intervalMs: 10 }), [A]);
  sim.addNode('b', sink, [B]);
  const link = sim.addLink(A, B, { delayMs: 15 });
  sim.at(20, (s) => s.removeLocator(B));
  sim.at(40, (s) => s.addLocator('b', B));
  sim.run({ maxVirtualMs: 100 });
  // Sent at 0, 10, 20, 30; arriving at 15, 25, 35, 45; B is gone during [20, 40).
  t.same(
    sink.arrivals.map((a) => readSequence(a.bytes)),
    [0, 3],
  );
  t.equal(link.stats().dropped.no_route, 2);
  t.end();
});

t.test('NAT rewriting shows the translated source, and a rebinding changes it mid-flow', (t) => {
  const sim = new Simulator({ seed: 4 });
  const sender = new ConstantRateSender({ from: A, to: B, count: 4, intervalMs: 10 });
  const echo = new EchoNode();
  const seenByB: string[] = [];
  sim.addNode('a', sender, [A]);
  sim.addNode(
    'b',
    {
      handleDatagram(now, path, data) {
        seenByB.push(path.remote);
        echo.handleDatagram(now, path, data);
      },
      handleTimeout: () => {},
      pollTransmit: () => echo.pollTransmit(),
      pollTimeout: () => undefined,
    },
    [B],
  );
  const out = sim.addLink(A, B, { delayMs: 1, rewriteFrom: NAT });
  sim.addLink(B, NAT, { delayMs: 1, rewriteTo: A });
  sim.addLink(B, NAT2, { delayMs: 1, rewriteTo: A });
  sim.at(15, () => out.update({ rewriteFrom: NAT2 }));
  sim.run({ maxVirtualMs: 100 });
  t.same(seenByB, [NAT, NAT, NAT2, NAT2]);
  t.equal(sender.received.length, 4);
  t.ok(sender.received.every((a) => a.local === A && a.remote === B));
  t.end();
});

t.test('simultaneous events run in a fixed order', (t) => {
  const sim = new Simulator({ seed: 5 });
  const order: string[] = [];
  const node: SimNode = {
    handleDatagram: (_now, _path, data) => {
      order.push(`deliver ${data[0]}`);
    },
    handleTimeout: () => {
      order.push('timeout');
      deadline = undefined;
    },
    pollTransmit: () => undefined,
    pollTimeout: () => deadline,
  };
  let deadline: number | undefined = 10;
  sim.addNode(
    'a',
    new ScriptedSender([
      { atMs: 5, tx: { from: A, to: B, bytes: bytes(1) } },
      { atMs: 5, tx: { from: A, to: B, bytes: bytes(2) } },
    ]),
    [A],
  );
  sim.addNode('b', node, [B]);
  sim.addLink(A, B, { delayMs: 5 });
  sim.at(10, () => order.push('action 1'));
  sim.at(10, () => order.push('action 2'));
  sim.run({ maxVirtualMs: 100 });
  // Scheduled events in scheduling order (the actions were scheduled first), then deadlines.
  t.same(order, ['action 1', 'action 2', 'deliver 1', 'deliver 2', 'timeout']);
  t.end();
});

t.test('a deadline already in the past is serviced at the current time', (t) => {
  const sim = new Simulator({ seed: 6, startMs: 100 });
  const calls: number[] = [];
  let deadline: number | undefined = 40;
  sim.addNode(
    'a',
    {
      handleDatagram: () => {},
      handleTimeout: (now) => {
        calls.push(now);
        deadline = undefined;
      },
      pollTransmit: () => undefined,
      pollTimeout: () => deadline,
    },
    [A],
  );
  const result = sim.run({ maxVirtualMs: 10 });
  t.same(calls, [100]);
  t.equal(result.stoppedBy, 'idle');
  t.end();
});

t.test('run() stops on until, on idle, or at the time limit', (t) => {
  const sim = new Simulator({ seed: 7 });
  const sink = new SinkNode();
  sim.addNode('a', new ConstantRateSender({ from: A, to: B, count: 10, intervalMs: 10 }), [A]);
  sim.addNode('b', sink, [B]);
  sim.addLink(A, B, { delayMs: 1 });
  const first = sim.run({ until: () => sink.arrivals.length >= 3, maxVirtualMs: 1000 });
  t.same([first.stoppedBy, first.nowMs], ['until', 21]);
  // Events at exactly the limit still run: the arrival at 51 is included.
  const second = sim.run({ maxVirtualMs: 30 });
  t.same([second.stoppedBy, second.nowMs, sink.arrivals.length], ['time_limit', 51, 6]);
  const third = sim.run({ maxVirtualMs: 1000 });
  t.same([third.stoppedBy, third.nowMs, sink.arrivals.length], ['idle', 1051, 10]);
  const already = sim.run({ until: () => true, maxVirtualMs: 1000 });
  t.same([already.stoppedBy, already.steps, already.nowMs], ['until', 0, 1051]);
  t.end();
});

t.test('datagrams beyond maxInFlight are dropped as overflow', (t) => {
  const sim = new Simulator({ seed: 8, maxInFlight: 10 });
  const sink = new SinkNode();
  sim.addNode('a', new ConstantRateSender({ from: A, to: B, count: 25, intervalMs: 0 }), [A]);
  sim.addNode('b', sink, [B]);
  const link = sim.addLink(A, B, { delayMs: 100 });
  sim.run({ maxVirtualMs: 50 });
  t.equal(sim.stats().inFlight, 10);
  t.equal(link.stats().inFlight, 10);
  sim.run({ maxVirtualMs: 100 });
  t.equal(sink.arrivals.length, 10);
  t.equal(link.stats().dropped.overflow, 15);
  t.equal(sim.stats().inFlight, 0);
  t.end();
});

t.test(
  'every datagram is accounted for: sent + duplicated = delivered + dropped + in flight',
  (t) => {
    const sim = new Simulator({ seed: 9 });
    sim.addNode(
      'a',
      new ConstantRateSender({ from: A, to: B, count: 3000, intervalMs: 0.2, sizeBytes: 600 }),
      [A],
    );
    sim.addNode('b', new EchoNode(), [B]);
    sim.addDuplexLink(A, B, {
      delayMs: 20,
      jitterMs: 5,
      loss: 0.05,
      duplicate: 0.05,
      reorder: 0.05,
      corrupt: 0.05,
      mtu: 1000,
      rateBps: 10_000_000,
      queuePackets: 20,
    });
    for (const limitMs of [100, 250, 700, 5000]) {
      sim.run({ maxVirtualMs: limitMs - sim.now });
      for (const l of sim.stats().links) {
        const dropped = Object.values(l.dropped).reduce((s, n) => s + n, 0);
        t.equal(
          l.sent + l.duplicated,
          l.delivered + dropped + l.inFlight,
          `${l.from}->${l.to} at ${limitMs} ms`,
        );
      }
    }
    t.end();
  },
);

t.test('configuration mistakes throw ERR_BRAID_INVALID_OPTION', (t) => {
  const code = { code: 'ERR_BRAID_INVALID_OPTION' };
  t.throws(() => new Simulator({ seed: -1 }), code);
  t.throws(() => new Simulator({ seed: 2 ** 32 }), code);
  t.throws(() => new Simulator({ seed: 1, maxSteps: 0 }), code);
  const sim = new Simulator({ seed: 1, startMs: 50 });
  sim.addNode('a', new SinkNode(), [A]);
  t.throws(() => sim.addNode('a', new SinkNode(), [B]), code, 'duplicate name');
  t.throws(() => sim.addNode('b', new SinkNode(), [A]), code, 'locator already owned');
  sim.addLink(A, B);
  t.throws(() => sim.addLink(A, B), code, 'duplicate link');
  t.throws(() => sim.link(B, A), code, 'unknown link');
  t.throws(() => sim.at(49, () => {}), code, 'in the past');
  t.throws(() => sim.run({ maxVirtualMs: -1 }), code);
  sim.at(60, (s) => s.run({ maxVirtualMs: 1 }));
  t.throws(() => sim.run({ maxVirtualMs: 100 }), code, 'run is not re-entrant');
  t.end();
});
