/**
 * The benchmark arithmetic of delivery.ts on timelines worked by hand, and the lab peers'
 * line protocol on good and bad input. No root needed: nothing here touches the network.
 */
import { PassThrough } from 'node:stream';
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import t from 'tap';
import {
  BUCKET_MS,
  failoverFigures,
  goodputBps,
  toTimeline,
  type Timeline,
} from '../../scripts/netns/delivery.js';
import { PeerProcess } from '../../scripts/netns/peer-process.js';
import { parseNamespaceList } from '../../scripts/netns/lab.js';

/** `count` buckets from `first`, each with `bytes`. */
function steady(first: number, count: number, bytes: number): [number, number][] {
  return Array.from({ length: count }, (_, i) => [first + i, bytes]);
}

t.test('failoverFigures: a 200 ms hole after the fault, then full rate at once', async (t) => {
  // 12 500 bytes per 10 ms = 10 Mbit/s, for 2 s; the fault at bucket 1000 (10 000 ms);
  // nothing in buckets 1001–1020; full rate again from 1021.
  const timeline: Timeline = [...steady(800, 201, 12_500), ...steady(1_021, 100, 12_500)];
  const f = failoverFigures(timeline, 1_000 * BUCKET_MS + 3);
  t.equal(f.stallMs, 210, 'from bucket 1000 to 1021: 21 buckets');
  t.equal(f.rateBeforeBps, 10_000_000, 'the second before the fault: 10 Mbit/s');
  // First 50 ms window wholly after the fault with ≥ 5 Mbit/s (31 250 bytes): buckets
  // 1021–1025 hold 62 500; 1019–1023 hold 37 500 and are the first to reach it: ends at 1024.
  t.equal(f.halfRateMs, 1_024 * BUCKET_MS - 10_003, 'half rate back at the end of bucket 1023');
});

t.test('failoverFigures: steady delivery through the fault is a 10 ms "stall"', async (t) => {
  const f = failoverFigures(steady(0, 300, 1_000), 1_500);
  t.equal(f.stallMs, BUCKET_MS, 'consecutive buckets only');
  t.equal(f.halfRateMs, 156 * BUCKET_MS - 1_500, 'the first full window after the fault');
});

t.test('failoverFigures: nothing after the fault', async (t) => {
  const f = failoverFigures(steady(0, 100, 1_000), 2_000);
  t.equal(f.stallMs, 0, 'no delivery after the fault: no gap to measure');
  t.equal(f.halfRateMs, null, 'never back');
});

t.test('failoverFigures: a gap wholly before the fault does not count', async (t) => {
  const timeline: Timeline = [...steady(0, 10, 1_000), ...steady(50, 100, 1_000)];
  t.equal(failoverFigures(timeline, 1_000).stallMs, BUCKET_MS);
  t.equal(failoverFigures(timeline, 300).stallMs, 410, 'but one spanning it does');
});

t.test('goodputBps over first to last bucket', async (t) => {
  t.equal(goodputBps([]), 0);
  t.equal(goodputBps(steady(5, 100, 12_500)), 10_000_000, '1.25 MB in 1 s');
  t.equal(
    goodputBps([
      [0, 1_000],
      [9, 1_000],
    ]),
    160_000,
    '2 000 bytes in 100 ms',
  );
});

t.test('toTimeline refuses what a peer should never send', async (t) => {
  t.same(
    toTimeline([
      [1, 2],
      [3, 4],
    ]),
    [
      [1, 2],
      [3, 4],
    ],
  );
  for (const bad of [
    'no',
    [[1]],
    [[1, 2, 3]],
    [[1, 0]],
    [[1, -5]],
    [[1.5, 2]],
    [
      [2, 1],
      [2, 1],
    ],
    [
      [3, 1],
      [2, 1],
    ],
    [['1', 2]],
  ])
    t.throws(() => toTimeline(bad), TypeError, JSON.stringify(bad));
});

t.test('parseNamespaceList reads both forms of `ip netns list`', async (t) => {
  t.same(parseNamespaceList('braid-1-abcdef-a (id: 3)\nbraid-1-abcdef-b\n\n'), [
    'braid-1-abcdef-a',
    'braid-1-abcdef-b',
  ]);
  t.same(parseNamespaceList(''), []);
});

/** A stand-in child process whose stdout the test writes. */
function fakeChild() {
  const child = new EventEmitter() as ChildProcess & EventEmitter;
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  Object.assign(child, { stdout, stderr });
  return { child, stdout, stderr };
}

t.test('PeerProcess: ready, progress, events, done', async (t) => {
  const { child, stdout } = fakeChild();
  const peer = new PeerProcess('peer', child);
  const seen: number[] = [];
  peer.onProgress((b) => seen.push(b));
  stdout.write('{"type":"ready","eid":"braid1x"}\n{"type":"progress","bytes":10}\n{"type":"ev');
  stdout.write('ent","event":"path"}\n');
  t.same(await peer.ready(1_000), { type: 'ready', eid: 'braid1x' });
  await peer.progressAtLeast(10, 1_000);
  t.same(seen, [10]);
  t.same(peer.events, [{ type: 'event', event: 'path' }], 'a line split across chunks');
  const two = peer.eventsAtLeast(2, 1_000);
  stdout.write('{"type":"event","event":"again"}\n');
  t.same((await two).length, 2, 'waits for the second event');
  await t.rejects(peer.eventsAtLeast(3, 10), /no 3 events within 10 ms/, 'or times out');
  stdout.write('{"type":"done","bytes":10}\n');
  t.same(await peer.done(1_000), { type: 'done', bytes: 10 });
  child.emit('exit', 0, null);
  t.ok(peer.hasExited);
});

t.test('PeerProcess: garbage, an error line, an early exit, silence', async (t) => {
  {
    const { child, stdout } = fakeChild();
    const peer = new PeerProcess('garbage', child);
    stdout.write('not json\n');
    await t.rejects(peer.done(1_000), { code: 'ERR_BRAID_LAB_PEER', message: /unreadable line/ });
  }
  {
    const { child, stdout } = fakeChild();
    const peer = new PeerProcess('typeless', child);
    stdout.write('[1,2]\n');
    await t.rejects(peer.ready(1_000), { code: 'ERR_BRAID_LAB_PEER' });
  }
  {
    const { child, stdout } = fakeChild();
    const peer = new PeerProcess('failing', child);
    stdout.write('{"type":"error","code":"ERR_X","message":"it broke"}\n');
    await t.rejects(peer.done(1_000), { message: /ERR_X: it broke/ });
  }
  {
    const { child, stderr } = fakeChild();
    const peer = new PeerProcess('dying', child);
    stderr.write('a stack trace\n');
    await new Promise((r) => setImmediate(r));
    child.emit('exit', 1, null);
    await t.rejects(peer.done(1_000), { message: /exited \(code 1\).*a stack trace/s });
  }
  {
    const { child } = fakeChild();
    const peer = new PeerProcess('silent', child);
    await t.rejects(peer.ready(20), { message: /no ready within 20 ms/ });
  }
});
