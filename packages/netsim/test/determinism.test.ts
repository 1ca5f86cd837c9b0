import t from 'tap';
import {
  ConstantRateSender,
  EchoNode,
  gilbertElliottFromMeanLoss,
  readSequence,
  Simulator,
  SinkNode,
} from '@braid/netsim';

const A = '198.51.100.1:4433';
const A6 = '[2001:db8::1]:4433';
const B = '203.0.113.7:4433';
const B6 = '[2001:db8::7]:4433';

/** Two hosts, two paths, every fault on, a flap in the middle. */
function scenario(seed: number) {
  const sim = new Simulator({ seed, traceCapacity: 64 });
  const sender4 = new ConstantRateSender({
    from: A,
    to: B,
    count: 2000,
    intervalMs: 0.5,
    sizeBytes: 300,
  });
  const sender6 = new ConstantRateSender({
    from: A6,
    to: B6,
    count: 2000,
    intervalMs: 0.7,
    sizeBytes: 900,
  });
  sim.addNode('a4', sender4, [A]);
  sim.addNode('a6', sender6, [A6]);
  sim.addNode('b', new EchoNode(), [B, B6]);
  const faults = {
    delayMs: 15,
    jitterMs: 4,
    loss: 0.02,
    duplicate: 0.02,
    reorder: 0.03,
    corrupt: 0.01,
    rateBps: 8_000_000,
    queuePackets: 40,
  };
  const v4 = sim.addDuplexLink(A, B, faults);
  sim.addDuplexLink(A6, B6, {
    ...faults,
    gilbertElliott: gilbertElliottFromMeanLoss({ lossRate: 0.03, meanBurstLength: 3 }),
  });
  sim.at(300, () => v4.setBlackhole(true));
  sim.at(450, () => v4.setBlackhole(false));
  sim.run({ maxVirtualMs: 5000 });
  return { hash: sim.traceHash(), stats: sim.stats(), trace: sim.trace() };
}

t.test('the same seed gives the same trace hash, stats and trace', (t) => {
  const first = scenario(42);
  const second = scenario(42);
  t.match(first.hash, /^[0-9a-f]{16}$/);
  t.equal(first.hash, second.hash);
  t.same(first.stats, second.stats);
  t.same(first.trace, second.trace);
  t.equal(first.trace.length, 64, 'the ring buffer keeps only traceCapacity events');
  t.end();
});

t.test('a different seed gives a different run', (t) => {
  const first = scenario(42);
  const other = scenario(43);
  t.not(first.hash, other.hash);
  t.notSame(first.stats.links, other.stats.links);
  t.end();
});

t.test('the trace hash covers datagram contents, not only timing', (t) => {
  const run = (fill: number) => {
    const sim = new Simulator({ seed: 1 });
    let sent = false;
    sim.addNode(
      'a',
      {
        handleDatagram: () => {},
        handleTimeout: () => {},
        pollTransmit: () => {
          if (sent) return undefined;
          sent = true;
          return { from: A, to: B, bytes: new Uint8Array(20).fill(fill) };
        },
        pollTimeout: () => undefined,
      },
      [A],
    );
    sim.addNode('b', new SinkNode(), [B]);
    sim.addLink(A, B, { delayMs: 1 });
    sim.run({ maxVirtualMs: 10 });
    return sim.traceHash();
  };
  t.equal(run(1), run(1));
  t.not(run(1), run(2));
  t.end();
});

t.test('each link has its own random stream: adding a link does not change another', (t) => {
  const run = (withOtherLink: boolean) => {
    const sim = new Simulator({ seed: 7 });
    const sink = new SinkNode();
    if (withOtherLink) {
      sim.addNode('c', new ConstantRateSender({ from: B6, to: A6, count: 500, intervalMs: 1 }), [
        B6,
      ]);
      sim.addNode('d', new SinkNode(), [A6]);
      sim.addLink(B6, A6, { loss: 0.3, jitterMs: 3 });
    }
    sim.addNode('a', new ConstantRateSender({ from: A, to: B, count: 500, intervalMs: 1 }), [A]);
    sim.addNode('b', sink, [B]);
    sim.addLink(A, B, { loss: 0.3, jitterMs: 3 });
    sim.run({ maxVirtualMs: 1000 });
    return sink.arrivals.map((a) => [readSequence(a.bytes), a.atMs]);
  };
  t.same(run(true), run(false));
  t.end();
});

t.test('the two directions of a duplex link draw different random choices', (t) => {
  const sim = new Simulator({ seed: 9 });
  sim.addNode('a', new ConstantRateSender({ from: A, to: B, count: 1000, intervalMs: 1 }), [A]);
  sim.addNode('b', new ConstantRateSender({ from: B, to: A, count: 1000, intervalMs: 1 }), [B]);
  const duplex = sim.addDuplexLink(A, B, { loss: 0.5 });
  sim.run({ maxVirtualMs: 2000 });
  const lostForward = duplex.forward.stats().dropped.loss;
  const lostReverse = duplex.reverse.stats().dropped.loss;
  t.ok(lostForward > 400 && lostForward < 600);
  t.not(lostForward, lostReverse);
  t.end();
});
