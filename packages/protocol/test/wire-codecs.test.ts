import t from 'tap';
import fc from 'fast-check';
import {
  ByteReader,
  ByteWriter,
  CID_BYTES,
  decodeFrames,
  decodePacketNumber,
  decodeTransportParams,
  encodeFrames,
  encodeLongHeader,
  encodeShortHeader,
  encodeTransportParams,
  LongType,
  parsePacket,
  PatternId,
  WireDecodeError,
  type Frame,
} from '@braid/protocol';

const onlyWireErrors = (fn: () => unknown): boolean => {
  try {
    fn();
    return true;
  } catch (err) {
    return err instanceof WireDecodeError;
  }
};

t.test('varint: RFC 9000 §A.1 examples and round trips up to 2^53-1', async (t) => {
  const examples: [string, number][] = [
    ['c2197c5eff14e88c', -1], // 151 288 809 941 952 652: above 2^53-1, refused
    ['9d7f3e7d', 494_878_333],
    ['7bbd', 15_293],
    ['25', 37],
    ['4025', 37],
  ];
  for (const [hex, value] of examples) {
    const bytes = Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
    if (value < 0)
      t.throws(() => new ByteReader(bytes).varint(), WireDecodeError, `${hex} exceeds 2^53-1`);
    else t.equal(new ByteReader(bytes).varint(), value, hex);
  }
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (v) => {
      const bytes = new ByteWriter().varint(v).finish();
      const r = new ByteReader(bytes);
      return r.varint() === v && r.remaining === 0;
    }),
    { seed: 1, numRuns: 2000 },
  );
});

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.constant<Frame>({ type: 'ping' }),
  fc.constant<Frame>({ type: 'handshake_done' }),
  fc.uint8Array({ maxLength: 300 }).map<Frame>((data) => ({ type: 'datagram', data })),
  fc
    .tuple(fc.nat({ max: 2 ** 30 }), fc.string({ maxLength: 100, unit: 'grapheme-ascii' }))
    .map<Frame>(([code, reason]) => ({
      type: 'connection_close',
      code,
      reason: reason.replace(/[^\x20-\x7e]/g, '?'),
    })),
);

t.test('frames: encode/decode round trip; garbage only ever raises WireDecodeError', async (t) => {
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 8 }), (frames) => {
      const decoded = decodeFrames(encodeFrames(frames).finish());
      return JSON.stringify(decoded) === JSON.stringify(frames);
    }),
    { seed: 2, numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) =>
      onlyWireErrors(() => decodeFrames(bytes)),
    ),
    { seed: 3, numRuns: 5000 },
  );
  t.throws(() => decodeFrames(Uint8Array.from([0x7f])), { message: /unknown frame type 0x7f/ });
  t.throws(() => decodeFrames(Uint8Array.from([0x31, 0x05, 1, 2])), { message: /truncated/ });
});

t.test('transport parameters: round trip, unknown types skipped, bad blocks refused', async (t) => {
  const params = {
    connectionId: Uint8Array.from({ length: CID_BYTES }, (_, i) => i + 1),
    maxDatagramFrameBytes: 1168,
    idleTimeoutMs: 30_000,
    initialMaxData: 2 ** 40 + 5,
    initialMaxStreamData: 1 << 20,
    initialMaxStreams: 1024,
    maxAckDelayMs: 25,
    maxUdpPayloadBytes: 1400,
  };
  const encoded = encodeTransportParams(params);
  t.same(decodeTransportParams(encoded), params);
  const withUnknown = new ByteWriter()
    .bytes(encoded)
    .u8(0x77)
    .u16(3)
    .bytes(Uint8Array.from([1, 2, 3]))
    .finish();
  t.same(decodeTransportParams(withUnknown), params, 'unknown parameter skipped');
  const duplicate = new ByteWriter().bytes(encoded).bytes(encoded.subarray(0, 11)).finish();
  t.throws(() => decodeTransportParams(duplicate), { message: /duplicate/ });
  t.throws(() => decodeTransportParams(encoded.subarray(11)), { message: /lack a connection ID/ });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) =>
      onlyWireErrors(() => decodeTransportParams(bytes)),
    ),
    { seed: 4, numRuns: 5000 },
  );
});

t.test('packets: long and short headers round trip; parsePacket never throws', async (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom(LongType.INITIAL, LongType.HANDSHAKE, LongType.FINISH),
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.nat({ max: 1400 }),
      (type, dcid, scid, message, pad) => {
        const mac = new Uint8Array(16).fill(0xaa);
        const bytes = encodeLongHeader(
          {
            type,
            dcid,
            scid,
            message,
            padToBytes: pad,
            ...(type === LongType.INITIAL ? { pattern: PatternId.IK } : {}),
          },
          () => mac,
        );
        const r = parsePacket(bytes);
        if (!r.ok || r.packet.form !== 'long') return false;
        return (
          r.packet.type === type &&
          bytes.length >= pad &&
          r.packet.message.length === message.length &&
          r.packet.message.every((b, i) => b === message[i]) &&
          r.packet.dcid.every((b, i) => b === dcid[i])
        );
      },
    ),
    { seed: 5, numRuns: 500 },
  );
  const header = encodeShortHeader(new Uint8Array(8).fill(3), 2 ** 40 + 5, 0);
  const short = parsePacket(new Uint8Array([...header, ...new Uint8Array(17)]));
  t.ok(short.ok && short.packet.form === 'short' && short.packet.truncatedPacketNumber === 5);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
      const r = parsePacket(bytes);
      return r.ok || r.reason === 'malformed' || r.reason === 'bad_version';
    }),
    { seed: 6, numRuns: 10_000 },
  );
});

t.test('packet numbers: the candidate nearest the next expected (RFC 9000 §A.3)', async (t) => {
  t.equal(decodePacketNumber(-1, 0), 0);
  t.equal(decodePacketNumber(0xffff_fffe, 0x0000_0001), 0x1_0000_0001, 'wraps forward');
  t.equal(decodePacketNumber(0x1_0000_0002, 0xffff_ffff), 0xffff_ffff, 'late packet before a wrap');
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 48 }),
      fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }),
      (largest, delta) => {
        const pn = largest + 1 + delta;
        if (pn < 0) return true;
        return decodePacketNumber(largest, pn % 2 ** 32) === pn;
      },
    ),
    { seed: 7, numRuns: 5000 },
  );
});
