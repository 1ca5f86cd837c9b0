import t from 'tap';
import { readSequence } from '@braid/netsim';
import { overOneLink, sequenced } from './support/one-link.js';

t.test('serialization takes bytes * 8 / rateBps, one datagram at a time', (t) => {
  // 1250 bytes at 1 Mbit/s = 10 ms each.
  const sender = sequenced(5, 0, 1250);
  const { arrivals } = overOneLink(1, sender, { rateBps: 1_000_000, delayMs: 5 });
  t.same(
    arrivals.map((a) => a.atMs),
    [15, 25, 35, 45, 55],
  );
  t.same(
    arrivals.map((a) => readSequence(a.bytes)),
    [0, 1, 2, 3, 4],
  );
  t.end();
});

t.test('an idle link serializes a lone datagram immediately', (t) => {
  const sender = sequenced(3, 100, 500);
  const { arrivals } = overOneLink(2, sender, { rateBps: 8_000_000 });
  // 500 bytes at 8 Mbit/s = 0.5 ms; each finds the link idle.
  t.same(
    arrivals.map((a) => a.atMs),
    [0.5, 100.5, 200.5],
  );
  t.end();
});

t.test('datagrams beyond queuePackets are dropped and counted as queue', (t) => {
  const sender = sequenced(10, 0, 1250);
  const { arrivals, stats } = overOneLink(3, sender, { rateBps: 1_000_000, queuePackets: 3 });
  // One on the transmitter, three waiting; drop-tail keeps the first four.
  t.same(
    arrivals.map((a) => readSequence(a.bytes)),
    [0, 1, 2, 3],
  );
  t.equal(stats.dropped.queue, 6);
  t.equal(stats.delivered + stats.dropped.queue, stats.sent);
  t.end();
});

t.test('queueBytes bounds the bytes waiting', (t) => {
  const sender = sequenced(10, 0, 1250);
  const { arrivals, stats } = overOneLink(4, sender, { rateBps: 1_000_000, queueBytes: 2500 });
  t.equal(arrivals.length, 3);
  t.equal(stats.dropped.queue, 7);
  t.end();
});

t.test('the queue drains: a datagram sent once the queue has room is accepted', (t) => {
  // 10 ms per datagram, one sent every 6 ms, queue of 2: the queue grows by one every 15 ms.
  const sender = sequenced(200, 6, 1250);
  const { arrivals, stats } = overOneLink(5, sender, { rateBps: 1_000_000, queuePackets: 2 });
  t.ok(stats.dropped.queue > 0, `dropped ${stats.dropped.queue}`);
  t.ok(arrivals.length > 100, `delivered ${arrivals.length}`);
  t.equal(stats.delivered + stats.dropped.queue, 200);
  t.end();
});

t.test('throughput never exceeds rateBps', (t) => {
  const rateBps = 2_000_000;
  const sizeBytes = 1000; // 4 ms each
  // Offered load 2x the rate for one second.
  const sender = sequenced(500, 2, sizeBytes);
  const { arrivals, stats } = overOneLink(6, sender, { rateBps, queuePackets: 50, delayMs: 3 });
  t.ok(stats.dropped.queue > 100, `queue drops ${stats.dropped.queue}`);
  const serializationMs = (sizeBytes * 8 * 1000) / rateBps;
  let tooClose = 0;
  for (let i = 1; i < arrivals.length; i++) {
    if (arrivals[i]!.atMs - arrivals[i - 1]!.atMs < serializationMs - 1e-9) tooClose++;
  }
  t.equal(tooClose, 0, 'consecutive deliveries are at least one serialization time apart');
  // Over any window [first, last], bytes delivered <= rate * window + one datagram.
  const first = arrivals[0]!;
  const last = arrivals[arrivals.length - 1]!;
  const windowMs = last.atMs - first.atMs;
  t.ok(arrivals.length * sizeBytes <= (rateBps * windowMs) / 8000 + sizeBytes);
  // ...and the link is kept busy: it is not much slower than the rate either.
  t.ok(arrivals.length * sizeBytes >= ((rateBps * windowMs) / 8000) * 0.95);
  t.end();
});

t.test('a datagram lost on the wire still used its share of the rate', (t) => {
  const sender = sequenced(200, 0, 1250);
  const { arrivals } = overOneLink(7, sender, {
    rateBps: 1_000_000,
    loss: 0.5,
    queuePackets: 1000,
  });
  t.ok(arrivals.length > 50 && arrivals.length < 150);
  for (const a of arrivals) {
    const seq = readSequence(a.bytes);
    if (a.atMs !== (seq + 1) * 10) t.fail(`datagram ${seq} arrived at ${a.atMs}`);
  }
  t.end();
});
