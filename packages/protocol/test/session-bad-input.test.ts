import t from 'tap';
import fc from 'fast-check';
import {
  encodeLongHeader,
  handshakeMacKey,
  computeHandshakeMac,
  LongType,
  PatternId,
  parsePacket,
  type RejectReason,
} from '@braid/protocol';
import { A, B, makePair, type Pair } from './support/pair.js';

async function established(seed: number): Promise<{ p: Pair; id: number; bId: number }> {
  const p = await makePair(seed);
  const id = p.a.connect(0, { remoteEid: p.bId.eid, local: A, remote: B });
  p.run();
  return { p, id, bId: p.b.sessionIds()[0]! };
}

function deliverToB(p: Pair, bytes: Uint8Array): void {
  p.b.handleDatagram(p.now, { local: B, remote: A }, bytes);
}

function rejectedAt(p: Pair, reason: RejectReason): number {
  return p.b.stats().rejected[reason];
}

/** Sends one datagram A→B after the session is up, and returns its bytes as seen on the wire. */
function captureShort(p: Pair, id: number, payload: number[]): Uint8Array {
  p.a.sendDatagram(p.now, id, new Uint8Array(payload));
  const tx = p.a.pollTransmit(p.now)!;
  return tx.bytes;
}

t.test(
  'garbage, truncated, wrong version and unknown CID: typed rejects, session unharmed',
  async (t) => {
    const { p, id, bId } = await established(11);
    const before = p.b.stats().rejected;
    deliverToB(p, new Uint8Array(0));
    deliverToB(p, new Uint8Array(100)); // fixed bit clear
    deliverToB(p, Uint8Array.from([0x40, 1, 2])); // truncated short header
    const wrongVersion = Uint8Array.from(p.wire[0]!.bytes);
    wrongVersion[4] = 7;
    deliverToB(p, wrongVersion);
    const good = captureShort(p, id, [1]);
    const unknown = Uint8Array.from(good);
    unknown[1]! ^= 0xff;
    deliverToB(p, unknown);
    const after = p.b.stats().rejected;
    t.equal(after.malformed - before.malformed, 3);
    t.equal(after.bad_version - before.bad_version, 1);
    t.equal(after.unknown_cid - before.unknown_cid, 1);
    deliverToB(p, good);
    p.run();
    t.equal(p.b.sessionInfo(bId).state, 'established');
    t.equal(
      p.events.b.filter((e) => e.type === 'datagram').length,
      1,
      'the real packet still lands',
    );
  },
);

t.test('a replayed packet is refused and delivered once', async (t) => {
  const { p, id } = await established(12);
  const pkt = captureShort(p, id, [42]);
  deliverToB(p, pkt);
  deliverToB(p, pkt);
  deliverToB(p, pkt);
  p.run();
  t.equal(rejectedAt(p, 'replay'), 2);
  t.equal(p.events.b.filter((e) => e.type === 'datagram').length, 1);
});

t.test('every single-byte corruption of a short packet is refused', async (t) => {
  const { p, id } = await established(13);
  const pkt = captureShort(p, id, [1, 2, 3, 4, 5, 6, 7, 8]);
  let accepted = 0;
  for (let i = 0; i < pkt.length; i++) {
    for (const flip of [0x01, 0x80, 0xff]) {
      const bad = Uint8Array.from(pkt);
      bad[i]! ^= flip;
      deliverToB(p, bad);
      p.run(p.now); // no timers: keep the original's packet number inside the replay window
      accepted += p.events.b.filter((e) => e.type === 'datagram').length;
    }
  }
  t.equal(accepted, 0, 'no corrupted packet produced a datagram');
  deliverToB(p, pkt);
  p.run();
  t.equal(p.events.b.filter((e) => e.type === 'datagram').length, 1, 'the original still opens');
});

t.test('forged short packets (random bytes on a live CID) never authenticate', async (t) => {
  const { p, id } = await established(14);
  const template = captureShort(p, id, [0]);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 17, maxLength: 1187 }), (body) => {
      const forged = new Uint8Array(13 + body.length);
      forged.set(template.subarray(0, 9)); // flags and the real CID
      forged.set(body, 13);
      forged[9] = body[0]!;
      deliverToB(p, forged);
      p.run();
      // The one genuine datagram (the captured packet, which FEC may rebuild from a repair)
      // is the only one B may see.
      return p.events.b.every(
        (e) => e.type !== 'datagram' || (e.data.length === 1 && e.data[0] === 0),
      );
    }),
    { seed: 5, numRuns: 500 },
  );
  t.equal(p.b.sessionInfo(p.b.sessionIds()[0]!).state, 'established');
  t.ok(rejectedAt(p, 'auth_failed') + rejectedAt(p, 'replay') >= 500);
});

t.test('an INITIAL with a low-order ephemeral is refused as low_order_point', async (t) => {
  const p = await makePair(15);
  const macKey = handshakeMacKey(p.crypto, p.bId.eid);
  // XX message 1 is just `e`: put a low-order point there (all zero; Wycheproof lists more).
  for (const point of [
    new Uint8Array(32),
    Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0)),
  ]) {
    const initial = encodeLongHeader(
      {
        type: LongType.INITIAL,
        dcid: new Uint8Array(8).fill(1),
        scid: new Uint8Array(8).fill(2),
        pattern: PatternId.XX,
        message: point,
        padToBytes: 1200,
      },
      (a) => computeHandshakeMac(p.crypto, macKey, a),
    );
    deliverToB(p, initial);
  }
  t.equal(rejectedAt(p, 'low_order_point'), 2);
  t.equal(p.b.sessionIds().length, 0);
  t.equal(p.b.pollTransmit(0), undefined, 'nothing sent back');
});

t.test('an unpadded INITIAL is refused (anti-amplification)', async (t) => {
  const p = await makePair(16);
  p.a.connect(0, { remoteEid: p.bId.eid, local: A, remote: B });
  const initial = p.a.pollTransmit(0)!.bytes;
  const parsed = parsePacket(initial);
  t.ok(parsed.ok);
  const macKey = handshakeMacKey(p.crypto, p.bId.eid);
  if (!parsed.ok || parsed.packet.form !== 'long') throw new Error('expected a long packet');
  const small = encodeLongHeader(
    {
      type: LongType.INITIAL,
      dcid: parsed.packet.dcid,
      scid: parsed.packet.scid,
      pattern: PatternId.XX,
      message: parsed.packet.message,
    },
    (a) => computeHandshakeMac(p.crypto, macKey, a),
  );
  deliverToB(p, small);
  t.equal(rejectedAt(p, 'malformed'), 1);
  t.equal(p.b.pollTransmit(0), undefined);
});

t.test('the responder never sends more than 3x what it received before validation', async (t) => {
  const p = await makePair(17);
  p.a.connect(0, { remoteEid: p.bId.eid, local: A, remote: B });
  const initial = p.a.pollTransmit(0)!.bytes;
  let received = 0;
  let sent = 0;
  for (let i = 0; i < 50; i++) {
    deliverToB(p, initial);
    received += initial.length;
    for (let tx = p.b.pollTransmit(0); tx; tx = p.b.pollTransmit(0)) sent += tx.bytes.length;
    t.ok(sent <= 3 * received, `after ${i + 1} INITIALs: sent ${sent} <= 3 x ${received}`);
  }
  t.equal(p.b.stats().rejected.duplicate, 49, 'duplicates answered from cache, no new session');
  t.equal(p.b.stats().handshakesAccepted, 1);
});

t.test('fuzz: arbitrary datagrams never throw and never create a session', async (t) => {
  const p = await makePair(18);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
      p.b.handleDatagram(0, { local: B, remote: A }, bytes);
      return p.b.sessionIds().length === 0 && p.b.pollTransmit(0) === undefined;
    }),
    { seed: 9, numRuns: 2000 },
  );
  const s = p.b.stats();
  const total = Object.values(s.rejected).reduce((x, y) => x + y, 0);
  t.equal(total, s.datagramsReceived, 'every datagram counted under exactly one reason');
});

t.test('fuzz: mutations of real handshake packets never throw', async (t) => {
  const p = await makePair(19);
  p.a.connect(0, { remoteEid: p.bId.eid, local: A, remote: B });
  p.run();
  const samples = p.wire.map((w) => w.bytes);
  fc.assert(
    fc.property(
      fc.nat({ max: samples.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
      fc.nat({ max: 1300 }),
      (which, flips, cut) => {
        const bytes = Uint8Array.from(samples[which]!).subarray(0, cut);
        for (const [pos, x] of flips) if (bytes.length > 0) bytes[pos % bytes.length]! ^= x;
        p.a.handleDatagram(p.now, { local: A, remote: B }, bytes);
        p.b.handleDatagram(p.now, { local: B, remote: A }, bytes);
        return true;
      },
    ),
    { seed: 3, numRuns: 1500 },
  );
  p.run();
  t.equal(p.b.sessionIds().length, 1, 'still exactly the one session');
  t.equal(
    p.events.a.filter((e) => e.type === 'closed').length,
    0,
    'the live session was not disturbed',
  );
});

t.test('a forged HANDSHAKE with a valid tag does not kill the handshake', async (t) => {
  // Someone who knows B's EID can compute the integrity tag. Their message 2 fails to decrypt;
  // the initiator drops it, rolls its Noise state back and completes with the genuine one.
  const p = await makePair(20);
  const id = p.a.connect(0, { remoteEid: p.bId.eid, local: A, remote: B });
  const macKey = handshakeMacKey(p.crypto, p.bId.eid);
  let forged = 0;
  p.run(undefined, (tx) => {
    const parsed = parsePacket(tx.bytes);
    if (
      forged === 0 &&
      parsed.ok &&
      parsed.packet.form === 'long' &&
      parsed.packet.type === LongType.HANDSHAKE
    ) {
      forged++;
      const message = Uint8Array.from(parsed.packet.message);
      message[50]! ^= 0x01;
      const fake = encodeLongHeader(
        { type: LongType.HANDSHAKE, dcid: parsed.packet.dcid, scid: parsed.packet.scid, message },
        (a) => computeHandshakeMac(p.crypto, macKey, a),
      );
      p.a.handleDatagram(p.now, { local: A, remote: B }, fake);
    }
    return tx.bytes;
  });
  t.equal(forged, 1);
  t.equal(p.a.stats().rejected.handshake_failed, 1, 'the forgery was counted');
  t.equal(p.a.sessionInfo(id).state, 'established');
  t.ok(p.a.sessionInfo(id).confirmed);
});

t.test('half-open handshakes are bounded by pendingHandshakesMax', async (t) => {
  const p = await makePair(21, {}, { pendingHandshakesMax: 2 });
  for (let i = 0; i < 3; i++) p.a.connect(0, { remoteEid: p.bId.eid, local: A, remote: B });
  for (let tx = p.a.pollTransmit(0); tx; tx = p.a.pollTransmit(0)) deliverToB(p, tx.bytes);
  t.equal(p.b.stats().handshakesAccepted, 2);
  t.equal(rejectedAt(p, 'handshake_limit'), 1);
  // Once they complete, they no longer count: a new handshake is accepted.
  p.run();
  t.equal(p.b.sessionIds().length, 3, 'the refused one got in on retransmission');
  t.equal(p.b.stats().handshakesAccepted, 3);
});
