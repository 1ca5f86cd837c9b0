import t from 'tap';
import {
  ConstantRateSender,
  readSequence,
  Simulator,
  SinkNode,
  type LinkOptions,
} from '@braid/netsim';
import { A, B, overOneLink, sequenced } from './support/one-link.js';

const A2 = '198.51.100.2:4433';

function sendOver(seed: number, count: number, options: LinkOptions, sizeBytes = 100) {
  return overOneLink(seed, sequenced(count, 1, sizeBytes), options, count + 1000);
}

function differingBytes(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n + Math.abs(a.length - b.length);
}

t.test('datagrams longer than the MTU are dropped and counted as mtu', (t) => {
  const sim = new Simulator({ seed: 1 });
  sim.addNode(
    'a',
    new ConstantRateSender({ from: A, to: B, count: 5, intervalMs: 1, sizeBytes: 1200 }),
    [A],
  );
  sim.addNode(
    'a2',
    new ConstantRateSender({ from: A2, to: B, count: 5, intervalMs: 1, sizeBytes: 1201 }),
    [A2],
  );
  const sink = new SinkNode();
  sim.addNode('b', sink, [B]);
  const fits = sim.addLink(A, B, { mtu: 1200 });
  const tooBig = sim.addLink(A2, B, { mtu: 1200 });
  sim.run({ maxVirtualMs: 100 });
  t.equal(sink.arrivals.length, 5);
  t.ok(sink.arrivals.every((a) => a.remote === A && a.bytes.length === 1200));
  t.equal(fits.stats().dropped.mtu, 0);
  t.equal(tooBig.stats().dropped.mtu, 5);
  t.equal(tooBig.stats().delivered, 0);
  t.end();
});

t.test('duplication delivers some datagrams twice, byte for byte', (t) => {
  const count = 5000;
  const { sender, arrivals, stats } = sendOver(2, count, {
    duplicate: 0.3,
    delayMs: 5,
    jitterMs: 3,
  });
  const copies = new Map<number, number>();
  for (const a of arrivals) {
    const seq = readSequence(a.bytes);
    copies.set(seq, (copies.get(seq) ?? 0) + 1);
    if (differingBytes(a.bytes, sender.packet(seq)) !== 0) t.fail(`copy of ${seq} differs`);
  }
  t.equal(copies.size, count, 'every datagram arrives');
  const twice = [...copies.values()].filter((n) => n === 2).length;
  t.ok([...copies.values()].every((n) => n === 1 || n === 2));
  t.equal(twice, stats.duplicated);
  t.equal(arrivals.length, count + stats.duplicated);
  t.ok(Math.abs(twice / count - 0.3) < 0.03, `duplicated ${twice}`);
  t.end();
});

t.test('a duplicate has its own buffer, so decrypting in place cannot spoil it', (t) => {
  const sim = new Simulator({ seed: 3 });
  const sender = new ConstantRateSender({ from: A, to: B, count: 200, intervalMs: 1 });
  const seen: Uint8Array[] = [];
  // Wipes every buffer it is given, as an in-place decrypt would.
  const wiper = new SinkNode(0);
  sim.addNode('a', sender, [A]);
  sim.addNode(
    'b',
    {
      handleDatagram(now, path, bytes) {
        seen.push(bytes.slice());
        bytes.fill(0);
        wiper.handleDatagram(now, path, bytes);
      },
      handleTimeout() {},
      pollTransmit: () => undefined,
      pollTimeout: () => undefined,
    },
    [B],
  );
  sim.addLink(A, B, { duplicate: 1, delayMs: 2 });
  sim.run({ maxVirtualMs: 1000 });
  t.equal(seen.length, 400);
  t.ok(seen.every((bytes) => differingBytes(bytes, sender.packet(readSequence(bytes))) === 0));
  t.end();
});

t.test('reordering produces out-of-order arrivals; without it there are none', (t) => {
  const count = 2000;
  const reordered = sendOver(4, count, { delayMs: 10, reorder: 0.05, reorderDelayMs: 5 });
  let outOfOrder = 0;
  let maxSeq = -1;
  for (const a of reordered.arrivals) {
    const seq = readSequence(a.bytes);
    if (seq < maxSeq) outOfOrder++;
    maxSeq = Math.max(maxSeq, seq);
  }
  t.equal(reordered.arrivals.length, count, 'reordering loses nothing');
  t.ok(reordered.stats.reordered > 50, `held back ${reordered.stats.reordered}`);
  // Sent 1 ms apart and held back 5 ms: each held-back datagram is overtaken.
  t.equal(outOfOrder, reordered.stats.reordered);

  const inOrder = sendOver(4, count, { delayMs: 10, jitterMs: 8 });
  t.ok(
    inOrder.arrivals.every((a, i) => readSequence(a.bytes) === i),
    'jitter alone never reorders',
  );
  t.end();
});

t.test('corruption changes exactly one byte of a corrupted datagram', (t) => {
  const count = 2000;
  const { sender, arrivals, stats } = sendOver(5, count, { corrupt: 0.2, delayMs: 1 });
  t.equal(arrivals.length, count);
  const histogram = [0, 0, 0];
  for (const [i, a] of arrivals.entries()) {
    const d = differingBytes(a.bytes, sender.packet(i));
    histogram[Math.min(d, 2)]!++;
  }
  t.equal(histogram[2], 0, 'never more than one byte');
  t.equal(histogram[1], stats.corrupted, 'each counted corruption changed a byte');
  t.ok(Math.abs(stats.corrupted / count - 0.2) < 0.03, `corrupted ${stats.corrupted}`);
  t.end();
});

t.test('corruption reaches every byte position, header included', (t) => {
  const { sender, arrivals } = sendOver(6, 3000, { corrupt: 1 }, 16);
  const positions = new Set<number>();
  for (const [i, a] of arrivals.entries()) {
    const expected = sender.packet(i);
    for (let j = 0; j < expected.length; j++) if (a.bytes[j] !== expected[j]) positions.add(j);
  }
  t.equal(positions.size, 16);
  t.end();
});
