import t from 'tap';
import {
  bytesEqual,
  createSodiumCrypto,
  type CryptoProvider,
  type EndpointOptions,
  type StreamPolicy,
} from '@braid/protocol';
import {
  connected,
  eventsOf,
  payload,
  readBoth,
  Reader,
  runDelayed,
  type Connected,
} from './support/sessions.js';
import { A } from './support/pair.js';
import type { Pair } from './support/pair.js';

const LOW_LATENCY: StreamPolicy = { mode: 'low-latency', fec: 'off' };
const BULK: StreamPolicy = { mode: 'bulk', fec: 'off' };
function closedStreams(p: Pair, side: 'a' | 'b'): number[] {
  return eventsOf(p, side, 'stream_closed').map((e) => e.streamId);
}

/** One full-size packet's worth of stream bytes is a little less than this. */
const PACKET_BYTES = 1200;

t.test('one stream, both directions, each half closed on its own', async (t) => {
  const { p, a, b } = await connected(101);
  const up = payload(100_000, 1);
  const down = payload(70_000, 2);
  const ra = new Reader(p, 'a', a);
  const rb = new Reader(p, 'b', b);
  const sid = p.a.openStream(p.now, a);
  t.equal(p.a.streamWrite(p.now, a, sid, up), up.length);
  p.a.streamEnd(p.now, a, sid);
  p.run(p.now + 5_000, readBoth(ra, rb));
  t.same(
    eventsOf(p, 'b', 'stream_opened').map((e) => e.streamId),
    [sid],
  );
  t.ok(bytesEqual(rb.data(sid), up), 'b read every byte a wrote');
  t.ok(rb.record(sid).fin, 'and the end');
  t.same(eventsOf(p, 'a', 'stream_closed'), [], 'b has not finished its half: still open');
  t.same(eventsOf(p, 'b', 'stream_closed'), []);

  // b answers on the same stream after a's half is over.
  t.equal(p.b.streamWrite(p.now, b, sid, down), down.length);
  p.run(p.now + 5_000, readBoth(ra, rb));
  t.ok(bytesEqual(ra.data(sid), down), 'a reads what b wrote');
  t.notOk(ra.record(sid).fin, 'no end yet');
  t.same(eventsOf(p, 'a', 'stream_closed'), []);
  p.b.streamEnd(p.now, b, sid);
  p.run(p.now + 5_000, readBoth(ra, rb));
  t.ok(ra.record(sid).fin);
  t.same(closedStreams(p, 'a'), [sid], 'stream_closed on a');
  t.same(closedStreams(p, 'b'), [sid], 'stream_closed on b');
  t.throws(() => p.a.streamRead(p.now, a, sid), { code: 'ERR_BRAID_UNKNOWN_STREAM' });
  t.equal(p.a.sessionInfo(a).stats.streamsOpen, 0);
  t.equal(p.b.sessionInfo(b).stats.streamsOpen, 0);
  t.equal(p.a.sessionInfo(a).stats.deliveredBytes, up.length);
  t.equal(p.b.sessionInfo(b).stats.readBytes, up.length);
});

t.test('50 streams written at once progress together (round robin)', async (t) => {
  const { p, a, b } = await connected(102);
  const STREAMS = 50;
  const SIZE = 20_000;
  const ids: number[] = [];
  let taken = 0;
  for (let i = 0; i < STREAMS; i++) {
    const id = p.a.openStream(p.now, a);
    ids.push(id);
    taken += p.a.streamWrite(p.now, a, id, payload(SIZE, 100 + i));
    p.a.streamEnd(p.now, a, id);
  }
  t.equal(taken, STREAMS * SIZE, 'every write taken whole');
  // Everything is written before the first packet is built, so every stream competes from
  // the start; a fair scheduler keeps them within about a packet of each other.
  const rb = new Reader(p, 'b', b);
  let spreadMax = 0;
  let firstFinAllStarted: boolean | undefined;
  rb.onDrain = () => {
    const counts = ids.map((id) => rb.record(id).bytes);
    spreadMax = Math.max(spreadMax, Math.max(...counts) - Math.min(...counts));
    if (firstFinAllStarted === undefined && ids.some((id) => rb.record(id).fin))
      firstFinAllStarted = counts.every((n) => n > 0);
  };
  p.run(p.now + 30_000, rb.tap());
  t.equal(firstFinAllStarted, true, 'no stream ended before every stream had data');
  t.ok(spreadMax <= 2 * PACKET_BYTES, `streams stayed within ${spreadMax} bytes of each other`);
  for (const [i, id] of ids.entries()) {
    if (!bytesEqual(rb.data(id), payload(SIZE, 100 + i))) t.fail(`stream ${id} differs`);
    if (!rb.record(id).fin) t.fail(`stream ${id} did not end`);
  }
  t.equal(p.b.sessionInfo(b).stats.readBytes, STREAMS * SIZE);
});

/** Reads everything b has, then lets the session run; returns the rounds it took. */
function readInRounds(
  c: Connected,
  rb: Reader,
  done: () => boolean,
  onRound: () => void,
  roundsMax = 500,
): number {
  let rounds = 0;
  while (!done() && rounds < roundsMax) {
    rounds++;
    rb.drain();
    c.p.run(c.p.now + 1_000);
    onRound();
  }
  return rounds;
}

t.test('stream flow control: the writer moves only as fast as the reader reads', async (t) => {
  const STREAM_WINDOW = 4096;
  // Fixed windows (auto-tuning off): this sim delivers in no time, so every read would look
  // like a reader outrunning its window.
  const c = await connected(103, {
    streamWindowBytes: STREAM_WINDOW,
    connectionWindowBytes: 8192,
    streamWindowMaxBytes: STREAM_WINDOW,
    connectionWindowMaxBytes: 8192,
  });
  const { p, a, b } = c;
  const data = payload(100 * 1024, 3);
  const sid = p.a.openStream(p.now, a);
  t.equal(p.a.streamWrite(p.now, a, sid, data), data.length, 'the send buffer takes it all');
  p.a.streamEnd(p.now, a, sid);
  const delivered = () => p.a.sessionInfo(a).stats.deliveredBytes;
  const read = () => p.b.sessionInfo(b).stats.readBytes;
  p.run(p.now + 10_000);
  t.equal(delivered(), STREAM_WINDOW, 'a filled exactly the stream window');
  t.equal(read(), 0);
  p.run(p.now + 60_000);
  t.equal(delivered(), STREAM_WINDOW, 'and stays stalled for a minute while b does not read');
  t.equal(p.b.sessionInfo(b).state, 'established');

  const rb = new Reader(p, 'b', b);
  let bufferedMax = 0;
  const rounds = readInRounds(
    c,
    rb,
    () => rb.record(sid).fin,
    () => (bufferedMax = Math.max(bufferedMax, delivered() - read())),
  );
  t.ok(rb.record(sid).fin, `finished after ${rounds} read rounds`);
  t.ok(rounds >= data.length / STREAM_WINDOW, 'at least one read round per window of data');
  t.ok(bufferedMax <= STREAM_WINDOW, `at most ${bufferedMax} bytes unread at b`);
  t.ok(bytesEqual(rb.data(sid), data), 'byte-exact');
});

t.test('session flow control: streams together stop at the session window', async (t) => {
  const SESSION_WINDOW = 8192;
  const c = await connected(104, {
    streamWindowBytes: 4096,
    connectionWindowBytes: SESSION_WINDOW,
    streamWindowMaxBytes: 4096,
    connectionWindowMaxBytes: SESSION_WINDOW,
  });
  const { p, a, b } = c;
  const ids = [0, 1, 2].map((i) => {
    const id = p.a.openStream(p.now, a);
    p.a.streamWrite(p.now, a, id, payload(10_000, 40 + i));
    p.a.streamEnd(p.now, a, id);
    return id;
  });
  const delivered = () => p.a.sessionInfo(a).stats.deliveredBytes;
  const read = () => p.b.sessionInfo(b).stats.readBytes;
  p.run(p.now + 30_000);
  t.equal(delivered(), SESSION_WINDOW, 'three 4 KiB stream windows, but only 8 KiB in all');
  const rb = new Reader(p, 'b', b);
  let bufferedMax = 0;
  readInRounds(
    c,
    rb,
    () => ids.every((id) => rb.record(id).fin),
    () => (bufferedMax = Math.max(bufferedMax, delivered() - read())),
  );
  t.ok(bufferedMax <= SESSION_WINDOW, `at most ${bufferedMax} bytes unread at b`);
  ids.forEach((id, i) => t.ok(bytesEqual(rb.data(id), payload(10_000, 40 + i)), `stream ${id}`));
});

/**
 * One stream over a 20 ms round trip (10 ms each way), starting from 16 KiB windows that may
 * grow to `maxWindow`, read by `reader`: 'fast' reads 2 MB at every delivery, 'slow' 200 kB once
 * every `slowEveryMs`. Returns the virtual time it took and the most data ever waiting at b unread.
 */
async function windowedTransfer(
  seed: number,
  maxWindow: number,
  reader: 'fast' | { slowEveryMs: number },
): Promise<{ ms: number; unreadMax: number; ok: boolean }> {
  const WINDOW = 16 * 1024;
  const options = {
    streamWindowBytes: WINDOW,
    connectionWindowBytes: 2 * WINDOW,
    streamWindowMaxBytes: maxWindow,
    connectionWindowMaxBytes: 2 * maxWindow,
    streamSendBufferBytes: WINDOW,
  };
  const c = await connected(seed, options, options, 10);
  const { p, a, b } = c;
  const data = payload(reader === 'fast' ? 2_000_000 : 200_000, seed);
  const sid = p.a.openStream(p.now, a);
  let written = 0;
  const pump = () => {
    if (written < data.length) written += p.a.streamWrite(p.now, a, sid, data.subarray(written));
    if (written === data.length) p.a.streamEnd(p.now, a, sid);
  };
  const rb = new Reader(p, 'b', b);
  const delivered = () => p.a.sessionInfo(a).stats.deliveredBytes;
  const read = () => p.b.sessionInfo(b).stats.readBytes;
  let unreadMax = 0;
  const start = p.now;
  let finMs: number | undefined;
  const afterDeliver = () => {
    pump();
    unreadMax = Math.max(unreadMax, delivered() - read());
    if (reader === 'fast') rb.drain();
    if (finMs === undefined && rb.record(sid).fin) finMs = p.now;
  };
  pump();
  if (reader === 'fast') runDelayed(p, p.now + 60_000, { delayMs: 10, afterDeliver });
  else
    // One run per read: a run ends with nothing in flight (the sender waits on the window long
    // before the second is up), so nothing is lost between runs.
    for (let round = 0; round < 1_000 && !rb.record(sid).fin; round++) {
      runDelayed(p, p.now + reader.slowEveryMs, { delayMs: 10, afterDeliver });
      rb.drain();
      pump();
    }
  return { ms: (finMs ?? p.now) - start, unreadMax, ok: bytesEqual(rb.data(sid), data) };
}

t.test(
  'window auto-tuning: a reader that keeps up grows the windows past their start',
  async (t) => {
    const fixed = await windowedTransfer(120, 16 * 1024, 'fast');
    const tuned = await windowedTransfer(120, 4 << 20, 'fast');
    t.ok(fixed.ok && tuned.ok, 'byte-exact both times');
    // 16 KiB per 20 ms round trip is at most 0.8 MB/s: 2 MB take 2.5 s at least.
    t.ok(fixed.ms >= 2_400, `fixed 16 KiB windows: ${fixed.ms.toFixed(0)} ms`);
    t.ok(
      tuned.ms * 4 < fixed.ms,
      `auto-tuned: ${tuned.ms.toFixed(0)} ms, under a quarter of the fixed windows' time`,
    );
  },
);

t.test('window auto-tuning: a slow reader does not grow them', async (t) => {
  // Reads once a second, and then drains everything: the window must stay where it started,
  // and what waits unread at b with it.
  const slow = await windowedTransfer(121, 4 << 20, { slowEveryMs: 1_000 });
  t.ok(slow.ok, 'byte-exact');
  t.ok(slow.unreadMax <= 16 * 1024, `at most ${slow.unreadMax} bytes unread at b`);
});

t.test('a full send buffer takes less; stream_writable says when to write again', async (t) => {
  const BUFFER = 16_384;
  // The peer's window as small as the buffer and fixed: the buffer, not its credit, is the bound.
  const { p, a, b } = await connected(105, {
    streamSendBufferBytes: BUFFER,
    streamWindowBytes: BUFFER,
    streamWindowMaxBytes: BUFFER,
  });
  const data = payload(40_000, 5);
  const sid = p.a.openStream(p.now, a);
  let offset = p.a.streamWrite(p.now, a, sid, data);
  t.equal(offset, BUFFER, 'took what fits');
  t.equal(p.a.streamWrite(p.now, a, sid, data.subarray(offset)), 0, 'nothing more for now');
  const rb = new Reader(p, 'b', b);
  const writable = () => eventsOf(p, 'a', 'stream_writable').length;
  let partialWrites = 1;
  while (offset < data.length) {
    const before = writable();
    p.run(p.now + 1_000, rb.tap());
    t.equal(writable(), before + 1, 'one stream_writable once the peer acknowledged');
    const n = p.a.streamWrite(p.now, a, sid, data.subarray(offset));
    t.ok(n > 0);
    offset += n;
    if (offset < data.length) partialWrites++;
  }
  p.a.streamEnd(p.now, a, sid);
  p.run(p.now + 1_000, rb.tap());
  t.equal(partialWrites, 2);
  t.equal(writable(), partialWrites, 'no event after a write that took everything');
  t.same(eventsOf(p, 'a', 'stream_writable')[0], {
    type: 'stream_writable',
    session: a,
    streamId: sid,
  });
  t.ok(bytesEqual(rb.data(sid), data));
  t.ok(rb.record(sid).fin);
});

t.test('a reset reaches the peer as stream_reset with its code', async (t) => {
  const { p, a, b } = await connected(106);
  const ra = new Reader(p, 'a', a);
  const rb = new Reader(p, 'b', b);
  const sid = p.a.openStream(p.now, a);
  p.a.streamWrite(p.now, a, sid, payload(5_000, 6));
  p.run(p.now + 1_000, readBoth(ra, rb));
  t.equal(rb.record(sid).bytes, 5_000);
  p.a.streamReset(p.now, a, sid, 42);
  t.throws(() => p.a.streamWrite(p.now, a, sid, new Uint8Array(1)), {
    code: 'ERR_BRAID_STREAM_STATE',
  });
  p.run(p.now + 1_000, readBoth(ra, rb));
  t.same(eventsOf(p, 'b', 'stream_reset'), [
    { type: 'stream_reset', session: b, streamId: sid, code: 42 },
  ]);
  t.equal(rb.record(sid).bytes, 5_000, 'nothing read after the reset');

  // A reset before anything was sent: the peer learns of the stream and its reset at once.
  const unsent = p.a.openStream(p.now, a);
  p.a.streamWrite(p.now, a, unsent, payload(200_000, 7));
  p.a.streamReset(p.now, a, unsent, 7);
  p.run(p.now + 1_000, readBoth(ra, rb));
  t.same(
    eventsOf(p, 'b', 'stream_reset').map((e) => [e.streamId, e.code]),
    [
      [sid, 42],
      [unsent, 7],
    ],
  );
  t.equal(rb.record(unsent).bytes, 0, 'no byte of the abandoned data arrived');
  t.ok(p.a.sessionInfo(a).stats.bytesSent < 100_000, 'and it was never sent');

  // The stream goes away once b finishes its half too.
  p.b.streamEnd(p.now, b, sid);
  p.run(p.now + 1_000, readBoth(ra, rb));
  t.same(closedStreams(p, 'a'), [sid], 'stream_closed on a');
  t.same(closedStreams(p, 'b'), [sid], 'stream_closed on b');
});

t.test('STOP_SENDING: the writer sees stream_stopped with the code', async (t) => {
  const { p, a, b } = await connected(107);
  const rb = new Reader(p, 'b', b);
  const sid = p.a.openStream(p.now, a);
  p.a.streamWrite(p.now, a, sid, payload(10_000, 8));
  p.run(p.now + 1_000, rb.tap());
  t.equal(rb.record(sid).bytes, 10_000);
  p.b.streamStopSending(p.now, b, sid, 77);
  p.run(p.now + 1_000, rb.tap());
  t.same(eventsOf(p, 'a', 'stream_stopped'), [
    { type: 'stream_stopped', session: a, streamId: sid, code: 77 },
  ]);
  t.throws(() => p.a.streamWrite(p.now, a, sid, new Uint8Array(1)), {
    code: 'ERR_BRAID_STREAM_STATE',
  });
  t.same(eventsOf(p, 'b', 'stream_reset'), [], 'b asked for it: no reset event of its own');
  t.equal(p.b.sessionInfo(b).state, 'established');
});

t.test(
  'STOP_SENDING after our own half ended still reaches the writer, which resets; then the stream is freed',
  async (t) => {
    // a asks and ends its half (a request), b answers with more than a's window, a reads some
    // and gives up. a's half is done, so stopping finished the stream on a's side: it used to be
    // freed before its STOP_SENDING went out, and b wrote into a closed window for good.
    const { p, a, b } = await connected(109);
    const ra = new Reader(p, 'a', a);
    const rb = new Reader(p, 'b', b);
    const sid = p.a.openStream(p.now, a);
    p.a.streamWrite(p.now, a, sid, payload(100, 9));
    p.a.streamEnd(p.now, a, sid);
    p.run(p.now + 1_000, rb.tap());
    t.ok(rb.record(sid).fin, 'b read the request and its end');
    const answer = payload(2_000_000, 10);
    const taken = p.b.streamWrite(p.now, b, sid, answer);
    p.run(p.now + 1_000, ra.tap());
    t.ok(ra.record(sid).bytes > 0, 'a read part of the answer');
    p.a.streamStopSending(p.now, a, sid, 77);
    p.run(p.now + 1_000, readBoth(ra, rb));
    t.same(
      eventsOf(p, 'b', 'stream_stopped').map((e) => [e.streamId, e.code]),
      [[sid, 77]],
      'the writer was told to stop',
    );
    t.same(closedStreams(p, 'a'), [sid], 'freed on a once b reset its half');
    t.same(closedStreams(p, 'b'), [sid], 'and on b');
    t.throws(() => p.b.streamWrite(p.now, b, sid, new Uint8Array(1)), {
      code: 'ERR_BRAID_UNKNOWN_STREAM',
    });
    t.ok(taken > 0 && taken < answer.length, 'b had more to send than a took');
    // Session flow control came out even: a new stream carries a full window's worth.
    const next = p.b.openStream(p.now, b);
    const more = payload(300_000, 11);
    let written = 0;
    for (let turn = 0; turn < 50 && written < more.length; turn++) {
      written += p.b.streamWrite(p.now, b, next, more.subarray(written));
      p.run(p.now + 200, readBoth(ra, rb));
    }
    t.equal(ra.record(next).bytes, more.length, 'a new stream still gets every byte through');
  },
);

t.test('openStream beyond the peer limit throws; streams_available follows', async (t) => {
  const { p, a, b } = await connected(108, {}, { maxStreams: 4 });
  const ra = new Reader(p, 'a', a);
  const rb = new Reader(p, 'b', b);
  const ids = [0, 1, 2, 3].map(() => p.a.openStream(p.now, a));
  t.same(ids, [0, 4, 8, 12], 'initiator stream ids (RFC 9000 §2.1)');
  t.throws(() => p.a.openStream(p.now, a), {
    code: 'ERR_BRAID_STREAM_LIMIT',
    name: 'StreamLimitError',
  });
  for (const id of ids) p.a.streamWrite(p.now, a, id, payload(100, id));
  p.run(p.now + 1_000, readBoth(ra, rb));
  t.same(eventsOf(p, 'a', 'streams_available'), [], 'nothing freed yet');
  t.throws(() => p.a.openStream(p.now, a), { code: 'ERR_BRAID_STREAM_LIMIT' });

  // A request/response on stream 0: both halves end, the stream is freed on b.
  p.a.streamEnd(p.now, a, 0);
  p.b.streamWrite(p.now, b, 0, payload(10, 99));
  p.b.streamEnd(p.now, b, 0);
  p.run(p.now + 1_000, readBoth(ra, rb));
  t.same(closedStreams(p, 'b'), [0]);
  t.same(eventsOf(p, 'a', 'streams_available'), [
    { type: 'streams_available', session: a, available: 1 },
  ]);
  t.equal(p.a.openStream(p.now, a), 16, 'the next stream opens');
  t.throws(() => p.a.openStream(p.now, a), { code: 'ERR_BRAID_STREAM_LIMIT' }, 'and no more');
});

/**
 * Writes `small` on a second stream while `bulk` bytes are queued on a bulk stream; returns the
 * bulk bytes b received between that write and the moment `small` was complete.
 */
async function bulkBytesDuringSmall(
  seed: number,
  setup: (c: Connected, second: number) => void,
  secondPolicy?: StreamPolicy,
): Promise<{ during: number; queuedBefore: number }> {
  const c = await connected(seed);
  const { p, a, b } = c;
  const rb = new Reader(p, 'b', b);
  const bulk = p.a.openStream(p.now, a);
  const bulkData = payload(300_000, 10);
  p.a.streamWrite(p.now, a, bulk, bulkData);
  p.run(p.now); // what congestion control and pacing allow now; the rest stays queued
  rb.drain();
  const before = rb.record(bulk).bytes;
  const second = p.a.openStream(p.now, a, secondPolicy);
  const small = payload(2_000, 11);
  setup(c, second);
  p.a.streamWrite(p.now, a, second, small);
  let atSmallDone: number | undefined;
  rb.onDrain = () => {
    if (atSmallDone === undefined && rb.record(second).bytes === small.length)
      atSmallDone = rb.record(bulk).bytes;
  };
  p.run(p.now + 30_000, rb.tap());
  if (!bytesEqual(rb.data(second), small) || !bytesEqual(rb.data(bulk), bulkData))
    throw new Error('a stream was not delivered byte-exact');
  return { during: (atSmallDone ?? Infinity) - before, queuedBefore: bulkData.length - before };
}

t.test('a low-latency stream goes ahead of a bulk stream queued before it', async (t) => {
  const none = () => {};
  const urgent = await bulkBytesDuringSmall(109, none, LOW_LATENCY);
  t.ok(urgent.queuedBefore > 100_000, `${urgent.queuedBefore} bulk bytes were still queued`);
  t.ok(urgent.during < PACKET_BYTES, `only ${urgent.during} bulk bytes went first`);
  // The control: as bulk, the same stream only takes turns.
  const bulk = await bulkBytesDuringSmall(109, none, BULK);
  t.ok(bulk.during > PACKET_BYTES, `as bulk, ${bulk.during} bulk bytes went first`);
});

t.test('setStreamPolicy: the policy set after opening is the one applied', async (t) => {
  const toUrgent = await bulkBytesDuringSmall(110, ({ p, a }, id) =>
    p.a.setStreamPolicy(a, id, LOW_LATENCY),
  );
  t.ok(toUrgent.during < PACKET_BYTES, `bulk → low-latency: ${toUrgent.during} bulk bytes first`);
  const roundTrip = await bulkBytesDuringSmall(
    110,
    ({ p, a }, id) => p.a.setStreamPolicy(a, id, BULK),
    LOW_LATENCY,
  );
  t.ok(roundTrip.during > PACKET_BYTES, `low-latency → bulk: ${roundTrip.during} bulk bytes first`);
});

t.test('setStreamPolicy on a stream with bytes already queued takes effect', async (t) => {
  const c = await connected(111);
  const { p, a, b } = c;
  const rb = new Reader(p, 'b', b);
  const bulk = p.a.openStream(p.now, a);
  const later = p.a.openStream(p.now, a);
  p.a.streamWrite(p.now, a, bulk, payload(300_000, 12));
  p.a.streamWrite(p.now, a, later, payload(100_000, 13));
  p.run(p.now);
  rb.drain();
  const bulkBefore = rb.record(bulk).bytes;
  const laterBefore = rb.record(later).bytes;
  t.ok(laterBefore < 50_000, 'the second stream still has most of its bytes queued');
  p.a.setStreamPolicy(a, later, LOW_LATENCY);
  let bulkAtLaterDone: number | undefined;
  rb.onDrain = () => {
    if (bulkAtLaterDone === undefined && rb.record(later).bytes === 100_000)
      bulkAtLaterDone = rb.record(bulk).bytes;
  };
  p.run(p.now + 30_000, rb.tap());
  const during = (bulkAtLaterDone ?? Infinity) - bulkBefore;
  t.ok(
    during < 2 * PACKET_BYTES,
    `while ${100_000 - laterBefore} low-latency bytes went, ${during} bulk bytes did`,
  );
});

t.test('datagrams: the size limit follows maxDatagramBytes, with a clear error', async (t) => {
  for (const [seed, maxDatagramBytes, expected] of [
    [112, 1200, 1200 - 13 - 16 - 3],
    [113, 1400, 1400 - 13 - 16 - 3],
  ] as const) {
    const { p, a, b } = await connected(seed, { maxDatagramBytes });
    const limit = p.a.sessionInfo(a).maxDatagramBytes;
    t.equal(limit, expected, `${maxDatagramBytes}-byte packets: header, tag and frame header off`);
    t.equal(p.b.sessionInfo(b).maxDatagramBytes, expected, 'the same both ways');
    const biggest = payload(limit, 14);
    p.a.sendDatagram(p.now, a, biggest);
    p.run(p.now + 1_000);
    const got = eventsOf(p, 'b', 'datagram');
    t.equal(got.length, 1);
    t.ok(got[0] && bytesEqual(got[0].data, biggest), 'the largest datagram arrives whole');
    t.throws(() => p.a.sendDatagram(p.now, a, new Uint8Array(limit + 1)), {
      code: 'ERR_BRAID_DATAGRAM_TOO_LARGE',
      name: 'DatagramTooLargeError',
      message: `datagram of ${limit + 1} bytes exceeds the limit of ${limit}`,
    });
  }
  // Different sizes: each side is held to the smaller one.
  const { p, a, b } = await connected(114, { maxDatagramBytes: 1400 }, { maxDatagramBytes: 1200 });
  t.equal(p.a.sessionInfo(a).maxDatagramBytes, 1168, "a is held to b's limit");
  t.equal(p.b.sessionInfo(b).maxDatagramBytes, 1168, 'b to its own packet size');
});

/**
 * 300 kB on an FEC-protected stream with key updates every 100 packets, every 23rd datagram
 * from a lost, over a 5 ms link; `options` apply to both endpoints. Returns the sender's and
 * receiver's stats, and whether the bytes arrived exact.
 */
async function lossyFecTransfer(
  seed: number,
  options: Partial<EndpointOptions>,
  wrap: (p: Pair) => void = () => {},
) {
  const { p, a, b } = await connected(seed, options, options, 5);
  wrap(p);
  const data = payload(300_000, seed);
  const sid = p.a.openStream(p.now, a, { mode: 'bulk', fec: { k: 4, m: 1 } });
  let written = 0;
  const pump = () => {
    if (written < data.length) written += p.a.streamWrite(p.now, a, sid, data.subarray(written));
    if (written === data.length) p.a.streamEnd(p.now, a, sid);
  };
  const rb = new Reader(p, 'b', b);
  let sent = 0;
  pump();
  runDelayed(p, p.now + 60_000, {
    delayMs: 5,
    drop: (d) => d.from === A && ++sent % 23 === 0,
    afterDeliver: () => {
      pump();
      rb.drain();
    },
  });
  return {
    exact: rb.record(sid).fin && bytesEqual(rb.data(sid), data),
    sa: p.a.sessionInfo(a).stats,
    sb: p.b.sessionInfo(b).stats,
  };
}

t.test(
  'owned datagrams are opened over themselves, never an FEC source, through loss and key updates',
  async (t) => {
    const base = await createSodiumCrypto();
    let inPlace = 0;
    let protectedInPlace = 0;
    // The default provider has no in-place open: this one does what sodium-native's does,
    // zeroing the bytes on a bad tag as libsodium does.
    const crypto: CryptoProvider = Object.create(base) as CryptoProvider;
    crypto.aeadOpenInPlace = (key, nonce, ad, sealed) => {
      inPlace++;
      if (ad[0]! & 0x08) protectedInPlace++; // the header's FEC bit
      const plain = base.aeadOpen(key, nonce, ad, sealed);
      if (!plain) {
        sealed.fill(0);
        return null;
      }
      sealed.set(plain);
      return sealed.subarray(0, plain.length);
    };
    const { exact, sa, sb } = await lossyFecTransfer(130, {
      crypto,
      receivedDatagramsOwned: true,
      keyUpdateAfterPackets: 100,
    });
    t.ok(exact, 'byte-exact');
    t.ok(sa.fecProtectedPackets > 0, `${sa.fecProtectedPackets} packets FEC-protected`);
    t.ok(sb.fecRecoveredPackets > 0, `${sb.fecRecoveredPackets} rebuilt by FEC`);
    t.ok(sb.keyUpdates > 0 && sa.keyUpdates > 0, 'keys updated on both sides');
    t.ok(inPlace > 100, `${inPlace} packets opened in place`);
    t.equal(protectedInPlace, 0, 'no FEC source was opened in place');
  },
);

t.test(
  'borrowed transmits: packets lent from one buffer, through FEC, loss and key updates',
  async (t) => {
    let lent = 0;
    let polled = 0;
    // The caller's side of the contract: each datagram is copied as it is taken, before the
    // next call in (the delayed link delivers it later).
    const copying = (p: Pair) => {
      for (const e of [p.a, p.b]) {
        const poll = e.pollTransmit.bind(e);
        let last: Uint8Array | undefined;
        e.pollTransmit = (now) => {
          const got = poll(now);
          if (!got) return got;
          polled++;
          if (last && got.bytes.buffer === last.buffer && got.bytes.byteOffset === last.byteOffset)
            lent++;
          last = got.bytes;
          return { ...got, bytes: got.bytes.slice() };
        };
      }
    };
    const { exact, sa, sb } = await lossyFecTransfer(
      131,
      { borrowedTransmits: true, keyUpdateAfterPackets: 100 },
      copying,
    );
    t.ok(exact, 'byte-exact');
    t.ok(sb.fecRecoveredPackets > 0, `${sb.fecRecoveredPackets} rebuilt by FEC`);
    t.ok(sa.keyUpdates > 0, 'keys updated');
    t.ok(lent > polled / 10, `${lent} of ${polled} datagrams lent from the same buffer`);
  },
);
