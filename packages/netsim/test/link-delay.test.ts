import t from 'tap';
import {
  ConstantRateSender,
  EchoNode,
  readSentAtMs,
  readSequence,
  Simulator,
  SinkNode,
} from '@braid/netsim';

const A = '198.51.100.1:4433';
const B = '203.0.113.7:4433';

t.test('a datagram sent at t arrives at exactly t + delayMs', (t) => {
  const sim = new Simulator({ seed: 1 });
  const sender = new ConstantRateSender({ from: A, to: B, count: 50, intervalMs: 3.5, startMs: 2 });
  const sink = new SinkNode();
  sim.addNode('a', sender, [A]);
  sim.addNode('b', sink, [B]);
  sim.addLink(A, B, { delayMs: 25 });
  const result = sim.run({ maxVirtualMs: 1000 });
  t.equal(result.stoppedBy, 'idle');
  t.equal(sim.now, 1000, 'time passes to the limit when nothing is left');
  t.equal(sink.arrivals.length, 50);
  for (const [i, arrival] of sink.arrivals.entries()) {
    t.equal(readSequence(arrival.bytes), i);
    t.equal(arrival.atMs, 2 + i * 3.5 + 25);
    t.equal(arrival.local, B);
    t.equal(arrival.remote, A);
  }
  t.end();
});

t.test('jitter stays within [delayMs, delayMs + jitterMs) and never reorders', (t) => {
  const sim = new Simulator({ seed: 2 });
  const sender = new ConstantRateSender({ from: A, to: B, count: 5000, intervalMs: 0.5 });
  const sink = new SinkNode();
  sim.addNode('a', sender, [A]);
  sim.addNode('b', sink, [B]);
  sim.addLink(A, B, { delayMs: 10, jitterMs: 5 });
  sim.run({ maxVirtualMs: 10_000 });
  t.equal(sink.arrivals.length, 5000);
  let minDelayMs = Infinity;
  let maxDelayMs = -Infinity;
  let outOfOrder = 0;
  let lastAtMs = -Infinity;
  let timeWentBack = 0;
  for (const [i, arrival] of sink.arrivals.entries()) {
    if (readSequence(arrival.bytes) !== i) outOfOrder++;
    const delayMs = arrival.atMs - readSentAtMs(arrival.bytes);
    minDelayMs = Math.min(minDelayMs, delayMs);
    maxDelayMs = Math.max(maxDelayMs, delayMs);
    if (arrival.atMs < lastAtMs) timeWentBack++;
    lastAtMs = arrival.atMs;
  }
  t.equal(outOfOrder, 0, 'FIFO without reorder');
  t.equal(timeWentBack, 0, 'arrival times never decrease');
  t.ok(minDelayMs >= 10, `min one-way delay ${minDelayMs}`);
  t.ok(maxDelayMs < 15, `max one-way delay ${maxDelayMs}`);
  t.ok(maxDelayMs - minDelayMs > 4, 'the jitter range is actually used');
  t.end();
});

t.test('an echo over a duplex link returns after exactly two one-way delays', (t) => {
  const sim = new Simulator({ seed: 3 });
  const sender = new ConstantRateSender({ from: A, to: B, count: 10, intervalMs: 100 });
  sim.addNode('a', sender, [A]);
  sim.addNode('b', new EchoNode(), [B]);
  sim.addDuplexLink(A, B, { delayMs: 7 });
  sim.run({ maxVirtualMs: 2000 });
  t.equal(sender.received.length, 10);
  for (const arrival of sender.received) {
    t.equal(arrival.atMs - readSentAtMs(arrival.bytes), 14);
    t.equal(arrival.local, A);
    t.equal(arrival.remote, B);
  }
  t.end();
});

t.test('the clock jumps straight to the next event', (t) => {
  const sim = new Simulator({ seed: 4, startMs: 1_000_000 });
  const sender = new ConstantRateSender({
    from: A,
    to: B,
    count: 2,
    intervalMs: 3_600_000,
    startMs: 1_000_000,
  });
  const sink = new SinkNode();
  sim.addNode('a', sender, [A]);
  sim.addNode('b', sink, [B]);
  sim.addLink(A, B, { delayMs: 1 });
  const result = sim.run({ until: () => sink.arrivals.length === 2, maxVirtualMs: 10_000_000 });
  t.equal(result.stoppedBy, 'until');
  t.equal(sim.now, 1_000_000 + 3_600_000 + 1);
  t.ok(result.steps <= 4, `only ${result.steps} events for two datagrams`);
  t.end();
});
