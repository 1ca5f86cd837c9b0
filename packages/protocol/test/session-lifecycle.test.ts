import t from 'tap';
import { bytesEqual, CloseCode, closeCodeName, type Transmit } from '@braid/protocol';
import { A, B, type Pair } from './support/pair.js';
import { connected, eventsOf, payload, readBoth, Reader, runDelayed } from './support/sessions.js';

const KIB = 1024;
const dropAll = () => undefined;

function closes(p: Pair, side: 'a' | 'b'): [string, boolean][] {
  return eventsOf(p, side, 'closed').map((e) => [closeCodeName(e.code), e.byPeer]);
}

/** The 32-bit packet number field of a short-header datagram. */
function wirePacketNumber(bytes: Uint8Array): number {
  return Buffer.from(bytes).readUInt32BE(9);
}

const isShort = (tx: Transmit) => (tx.bytes[0]! & 0x80) === 0;

t.test('idle timeout: a quiet session closes on both sides after idleTimeoutMs', async (t) => {
  const { p } = await connected(301, { keepaliveIntervalMs: 0, idleTimeoutMs: 5_000 });
  const quietFrom = p.now;
  p.run(quietFrom + 4_900);
  t.same(closes(p, 'a'), [], 'still up at 4.9 s');
  t.same(closes(p, 'b'), []);
  p.run(quietFrom + 60_000);
  t.same(closes(p, 'a'), [['IDLE_TIMEOUT', false]]);
  t.same(closes(p, 'b'), [['IDLE_TIMEOUT', false]]);
  t.ok(p.now >= quietFrom + 5_000 && p.now <= quietFrom + 5_200, `closed at ${p.now} ms`);
  t.same(p.a.sessionIds(), [], 'forgotten');
  t.equal(p.a.pollTimeout(), undefined, 'no timer left behind');
});

t.test('keepalives keep an idle session up', async (t) => {
  const { p, a, b } = await connected(302, { keepaliveIntervalMs: 1_000, idleTimeoutMs: 5_000 });
  const sentBefore = p.a.sessionInfo(a).stats.packetsSent;
  p.run(60_000);
  t.ok(p.now > 59_000, `virtual time ran to ${p.now} ms`);
  t.same(closes(p, 'a'), []);
  t.equal(p.a.sessionInfo(a).state, 'established');
  t.equal(p.b.sessionInfo(b).state, 'established');
  const pings = p.a.sessionInfo(a).stats.packetsSent - sentBefore;
  t.ok(pings >= 30 && pings <= 130, `${pings} packets in a minute: about one a second`);
});

t.test('a peer that vanishes is detected by the idle timeout despite keepalives', async (t) => {
  // Without suspension: with it, a session whose every path is down waits for one to return.
  const { p } = await connected(303, {
    keepaliveIntervalMs: 1_000,
    idleTimeoutMs: 5_000,
    suspendTimeoutMs: 0,
  });
  const vanishedAt = p.now;
  p.run(vanishedAt + 60_000, dropAll);
  t.same(closes(p, 'a'), [['IDLE_TIMEOUT', false]]);
  t.same(closes(p, 'b'), [['IDLE_TIMEOUT', false]]);
  // RFC 9000 §10.1: the timer restarts at the first ack-eliciting send after a receipt, so
  // the first keepalive (at 1 s) pushes it back once, and only once: 1 s + 5 s.
  const after = p.now - vanishedAt;
  t.ok(after >= 5_900 && after <= 6_500, `both gave up ${after} ms after the peer vanished`);
});

t.test('graceful close: every written byte is read, then NO_ERROR on both sides', async (t) => {
  const { p, a, b } = await connected(304);
  const data = payload(200 * KIB, 4);
  const sid = p.a.openStream(p.now, a);
  t.equal(p.a.streamWrite(p.now, a, sid, data), data.length);
  p.a.streamEnd(p.now, a, sid);
  p.a.closeGracefully(p.now, a, 'done');
  t.equal(p.a.sessionInfo(a).state, 'established', 'not closed while data is unacknowledged');
  const rb = new Reader(p, 'b', b);
  let readWhenClosed: number | undefined;
  rb.onDrain = () => {
    if (readWhenClosed === undefined && eventsOf(p, 'b', 'closed').length > 0)
      readWhenClosed = rb.record(sid).bytes;
  };
  p.run(p.now + 30_000, rb.tap());
  t.ok(bytesEqual(rb.data(sid), data), 'b read every byte');
  t.ok(rb.record(sid).fin);
  t.equal(readWhenClosed, data.length, 'all of it before the close arrived');
  t.same(
    eventsOf(p, 'a', 'closed').map((e) => [e.code, e.reason, e.byPeer]),
    [[CloseCode.NO_ERROR, 'done', false]],
  );
  t.same(
    eventsOf(p, 'b', 'closed').map((e) => [e.code, e.reason, e.byPeer]),
    [[CloseCode.NO_ERROR, 'done', true]],
  );
});

t.test('graceful close towards a black hole gives up at its timeout', async (t) => {
  const { p, a } = await connected(305);
  const sid = p.a.openStream(p.now, a);
  p.a.streamWrite(p.now, a, sid, payload(200 * KIB, 5));
  const start = p.now;
  p.a.closeGracefully(p.now, a, 'bye', 2_000);
  p.run(start + 1_990, dropAll);
  t.same(closes(p, 'a'), [], 'still draining just before the timeout');
  p.run(start + 2_100, dropAll);
  const closed = eventsOf(p, 'a', 'closed');
  t.equal(closed.length, 1);
  t.match(closed[0]?.reason, /^bye \(drain timed out\)$/);
  t.equal(closed[0]?.byPeer, false);
});

t.test('key update by packet count: many updates, data intact', async (t) => {
  const { p, a, b } = await connected(306, { keyUpdateAfterPackets: 50 });
  const data = payload(1024 * KIB, 6);
  const sid = p.a.openStream(p.now, a);
  t.equal(p.a.streamWrite(p.now, a, sid, data), data.length);
  p.a.streamEnd(p.now, a, sid);
  const rb = new Reader(p, 'b', b);
  const phases = { a: new Set<number>(), b: new Set<number>() };
  rb.onDrain = () => {
    phases.a.add(p.a.sessionInfo(a).stats.keyPhase);
    phases.b.add(p.b.sessionInfo(b).stats.keyPhase);
  };
  p.run(p.now + 60_000, rb.tap());
  t.ok(bytesEqual(rb.data(sid), data), 'byte-exact');
  const sa = p.a.sessionInfo(a).stats;
  const sb = p.b.sessionInfo(b).stats;
  t.ok(
    sa.keyUpdates >= sa.packetsSent / 50 / 2,
    `a: ${sa.keyUpdates} updates, ${sa.packetsSent} packets`,
  );
  t.ok(sb.keyUpdates > 0, `b: ${sb.keyUpdates} updates`);
  t.same([...phases.a].sort(), [0, 1], 'a sent under both phases');
  t.same([...phases.b].sort(), [0, 1], 'b followed');
  t.equal(p.b.stats().rejected.auth_failed, 0, 'no packet lost to a key change');
  t.equal(p.a.stats().rejected.auth_failed, 0);
});

t.test('key update by age: several updates over 10 s of keepalives', async (t) => {
  const { p, a, b } = await connected(307, {
    keyUpdateAfterMs: 1_000,
    keepaliveIntervalMs: 1_000,
  });
  p.run(p.now + 10_000);
  const ua = p.a.sessionInfo(a).stats.keyUpdates;
  const ub = p.b.sessionInfo(b).stats.keyUpdates;
  t.ok(ua >= 3, `a: ${ua} updates`);
  t.ok(ub >= 3, `b: ${ub} updates`);
  t.ok(Math.abs(ua - ub) <= 1, 'the sides stay in step');
  t.equal(p.a.sessionInfo(a).state, 'established');
  t.equal(p.b.stats().rejected.auth_failed + p.a.stats().rejected.auth_failed, 0);
});

t.test('a packet from the previous key phase: accepted for 3 PTO, refused after', async (t) => {
  const { p, a, b } = await connected(308, { keyUpdateAfterPackets: 20, datagramFec: 'off' });
  // Hold back two of a's packets, each carrying one datagram, sealed under phase 0.
  const held: Uint8Array[] = [];
  for (const marker of [0xe0, 0xe1]) {
    p.a.sendDatagram(p.now, a, Uint8Array.of(marker));
    p.run(p.now, (tx) => {
      if (tx.to === B && isShort(tx) && held.length < 2) {
        held.push(tx.bytes);
        return undefined;
      }
      return tx.bytes;
    });
  }
  t.equal(held.length, 2);
  t.same(
    held.map((h) => h[0]! & 0x04),
    [0, 0],
    'both sealed under phase 0',
  );
  // Traffic until b has followed a's first key update, without letting time pass.
  for (let i = 0; i < 200 && p.b.sessionInfo(b).stats.keyUpdates === 0; i++) {
    p.a.sendDatagram(p.now, a, Uint8Array.of(i));
    p.run(p.now);
  }
  t.equal(p.a.sessionInfo(a).stats.keyPhase, 1, 'a moved to phase 1');
  t.equal(p.b.sessionInfo(b).stats.keyUpdates, 1, 'b followed once');
  const markers = () =>
    eventsOf(p, 'b', 'datagram')
      .map((e) => e.data[0]!)
      .filter((x) => x >= 0xe0);
  const authFailed = () => p.b.stats().rejected.auth_failed;

  p.b.handleDatagram(p.now, { local: B, remote: A }, held[0]!);
  p.run(p.now);
  t.same(markers(), [0xe0], 'the late packet is opened with the previous key');
  t.equal(authFailed(), 0);

  p.run(p.now + 10_000); // far beyond 3 PTO: the previous key is erased
  p.b.handleDatagram(p.now, { local: B, remote: A }, held[1]!);
  p.run(p.now);
  t.same(markers(), [0xe0], 'not this one');
  t.equal(authFailed(), 1, 'refused as auth_failed');
  t.equal(p.b.sessionInfo(b).state, 'established', 'and nothing else happens');
});

t.test('packet numbers exhausted: the session closes with AEAD_LIMIT_REACHED', async (t) => {
  // Without FEC: its repairs would take packet numbers of their own (one per 8 datagrams at
  // first, before the loss estimate settles).
  const { p, a } = await connected(309, { datagramFec: 'off' });
  p.a.fastForwardPacketNumbers(a, 1_000, 1_010);
  const mark = p.wire.length;
  for (let i = 0; i < 20 && p.a.sessionInfo(a).state === 'established'; i++) {
    p.a.sendDatagram(p.now, a, Uint8Array.of(i));
    p.run(p.now);
  }
  p.run(p.now + 5_000);
  t.same(closes(p, 'a'), [['AEAD_LIMIT_REACHED', false]]);
  t.same(closes(p, 'b'), [['AEAD_LIMIT_REACHED', true]], 'b was told');
  // One datagram per packet, numbered from 1000: all the numbers below the limit were used.
  const got = eventsOf(p, 'b', 'datagram').length;
  t.ok(got >= 9 && got <= 10, `${got} datagrams arrived`);
  // No packet, not even the CONNECTION_CLOSE, may carry a number at or beyond the limit: at
  // the real limit (2^48) the receiver's replay window refuses it, and the close is never heard.
  const numbers = p.wire
    .slice(mark)
    .filter((tx) => tx.to === B && isShort(tx))
    .map((tx) => wirePacketNumber(tx.bytes));
  t.ok(numbers.length >= 10, `${numbers.length} packets from a`);
  t.same(
    numbers.filter((pn) => pn < 1_000 || pn >= 1_010),
    [],
    'every packet numbered in 1000..1009',
  );
});

t.test('packet numbers cross 2^32 (the wire carries 32 bits): data intact', async (t) => {
  const { p, a, b } = await connected(310);
  const ra = new Reader(p, 'a', a);
  const rb = new Reader(p, 'b', b);
  // Jumps under 2^31, with traffic after each, so each receiver's largest follows.
  for (const next of [2 ** 30, 2 ** 31, 3 * 2 ** 30, 2 ** 32 - 40]) {
    p.a.fastForwardPacketNumbers(a, next);
    p.b.fastForwardPacketNumbers(b, next);
    p.a.sendDatagram(p.now, a, Uint8Array.of(1));
    p.b.sendDatagram(p.now, b, Uint8Array.of(2));
    p.run(p.now + 2_000, readBoth(ra, rb));
  }
  t.equal(eventsOf(p, 'b', 'datagram').length, 4, 'every jump was followed');
  const mark = p.wire.length;
  const up = payload(150 * KIB, 10);
  const down = payload(150 * KIB, 11);
  const sid = p.a.openStream(p.now, a);
  p.a.streamWrite(p.now, a, sid, up);
  p.a.streamEnd(p.now, a, sid);
  p.run(p.now + 5_000, readBoth(ra, rb));
  p.b.streamWrite(p.now, b, sid, down);
  p.b.streamEnd(p.now, b, sid);
  p.run(p.now + 5_000, readBoth(ra, rb));
  t.ok(bytesEqual(rb.data(sid), up) && rb.record(sid).fin, 'a → b byte-exact');
  t.ok(bytesEqual(ra.data(sid), down) && ra.record(sid).fin, 'b → a byte-exact');
  const wrapped = p.wire
    .slice(mark)
    .filter((tx) => isShort(tx) && wirePacketNumber(tx.bytes) < 1000);
  t.ok(
    wrapped.some((tx) => tx.to === B),
    'a sent past 2^32',
  );
  t.ok(
    wrapped.some((tx) => tx.to !== B),
    'b sent past 2^32',
  );
  for (const side of ['a', 'b'] as const) {
    const rejected = p[side].stats().rejected;
    t.equal(rejected.auth_failed + rejected.replay, 0, `${side} refused nothing`);
  }
});

t.test('stats after a lossy transfer over a 10 ms link tell the story', async (t) => {
  const ONE_WAY_MS = 10;
  const { p, a, b } = await connected(311, {}, {}, ONE_WAY_MS);
  const data = payload(300 * KIB, 12);
  const sid = p.a.openStream(p.now, a);
  p.a.streamWrite(p.now, a, sid, data);
  p.a.streamEnd(p.now, a, sid);
  const rb = new Reader(p, 'b', b);
  let datagrams = 0;
  runDelayed(p, p.now + 60_000, {
    delayMs: ONE_WAY_MS,
    drop: () => ++datagrams % 10 === 0,
    afterDeliver: () => rb.drain(),
  });
  t.ok(bytesEqual(rb.data(sid), data), 'byte-exact despite every 10th datagram lost');
  const s = p.a.sessionInfo(a).stats;
  t.ok(s.packetsLost > 0, `${s.packetsLost} packets lost`);
  t.ok(s.bytesLost > 0, `${s.bytesLost} bytes lost`);
  t.ok(s.retransmittedBytes > 0, `${s.retransmittedBytes} bytes retransmitted`);
  t.ok(s.congestionEvents > 0, `${s.congestionEvents} congestion events`);
  // Samples are 2 x 10 ms, plus up to max_ack_delay (25 ms) for a lone packet. Virtual times
  // are sums of fractional timer deadlines, hence the tolerance.
  const rtt = 2 * ONE_WAY_MS - 1e-6;
  t.ok(s.rttMs >= rtt && s.rttMs <= rtt + 25, `smoothed RTT ${s.rttMs} ms`);
  t.ok(s.minRttMs >= rtt && s.minRttMs <= s.rttMs + 1e-6, `min RTT ${s.minRttMs} ms`);
  t.ok(s.latestRttMs >= s.minRttMs, `latest RTT ${s.latestRttMs} ms`);
  t.ok(s.rttVarMs >= 0, `RTT variation ${s.rttVarMs} ms`);
  t.ok(s.cwndBytes > 0, `window ${s.cwndBytes} bytes`);
  t.equal(s.deliveredBytes, data.length, 'every byte acknowledged once');
  t.equal(s.congestionAlgorithm, 'cubic');
  t.equal(p.b.sessionInfo(b).stats.readBytes, data.length);
});
