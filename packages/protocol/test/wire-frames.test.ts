import t from 'tap';
import fc from 'fast-check';
import {
  ACK_RANGES_MAX,
  ByteWriter,
  decodeFrames,
  encodeFrames,
  frameBytes,
  FrameType,
  STREAM_OFFSET_MAX,
  WireDecodeError,
  type Frame,
} from '@braid/protocol';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const roundTrip = (frames: Frame[]) => decodeFrames(encodeFrames(frames).finish());

t.test('ACK: several ranges round-trip, with the RFC 9000 §19.3.1 gap encoding', async (t) => {
  const frame: Frame = {
    type: 'ack',
    ranges: [
      { smallest: 95, largest: 100 },
      { smallest: 80, largest: 90 },
      { smallest: 0, largest: 3 },
    ],
    ackDelayMs: 0.025,
  };
  const bytes = encodeFrames([frame]).finish();
  // type, largest 100 (2-byte varint), delay 25 µs, 2 more ranges, first length 5,
  // gap 95-90-2 = 3, length 10, gap 80-3-2 = 75 (2-byte varint), length 3.
  t.equal(hex(bytes), '02' + '4064' + '19' + '02' + '05' + '03' + '0a' + '404b' + '03');
  t.same(decodeFrames(bytes), [frame]);
  const single: Frame = { type: 'ack', ranges: [{ smallest: 7, largest: 7 }], ackDelayMs: 0 };
  t.same(roundTrip([single]), [single], 'a single packet, no delay');
  const adjacent: Frame = {
    type: 'ack',
    ranges: [
      { smallest: 10, largest: 10 },
      { smallest: 8, largest: 8 },
    ],
    ackDelayMs: 1,
  };
  t.same(roundTrip([adjacent]), [adjacent], 'the smallest possible gap (one missing packet)');
});

t.test('ACK delay travels in whole microseconds, rounded to nearest', async (t) => {
  const delayOf = (ms: number) => {
    const [f] = roundTrip([{ type: 'ack', ranges: [{ smallest: 0, largest: 0 }], ackDelayMs: ms }]);
    return f?.type === 'ack' ? f.ackDelayMs : NaN;
  };
  t.equal(delayOf(2.0004), 2, 'rounded down');
  t.equal(delayOf(2.0006), 2.001, 'rounded up');
  t.equal(delayOf(25), 25);
  t.equal(delayOf(-3), 0, 'a negative delay is sent as 0');
  t.equal(delayOf(1_000_000), 1_000_000, 'large delays fit (4-byte varint)');
});

t.test('ACK ranges that reach below packet 0 are refused', async (t) => {
  // largest 5, first range length 6: smallest would be -1.
  t.throws(() => decodeFrames(fromHex('02 05 00 00 06')), WireDecodeError);
  t.throws(() => decodeFrames(fromHex('02 05 00 00 06')), { message: /below packet number 0/ });
  // largest 5, first length 0, then gap 4: next largest = 5 - 4 - 2 = -1.
  t.throws(() => decodeFrames(fromHex('02 05 00 01 00 04 00')), { message: /below packet/ });
  // gap 0: next largest 3, length 4: smallest -1.
  t.throws(() => decodeFrames(fromHex('02 05 00 01 00 00 04')), { message: /below packet/ });
  // The same shapes one step inside the bounds decode.
  t.same(decodeFrames(fromHex('02 05 00 00 05'))[0], {
    type: 'ack',
    ranges: [{ smallest: 0, largest: 5 }],
    ackDelayMs: 0,
  });
  t.same(decodeFrames(fromHex('02 05 00 01 00 00 03'))[0], {
    type: 'ack',
    ranges: [
      { smallest: 5, largest: 5 },
      { smallest: 0, largest: 3 },
    ],
    ackDelayMs: 0,
  });
});

t.test('an ACK claiming too many ranges is refused before reading them', async (t) => {
  const limit = ACK_RANGES_MAX * 4;
  const ackWithCount = (count: number) =>
    new ByteWriter().u8(FrameType.ACK).varint(1_000_000).varint(0).varint(count).varint(0).finish();
  t.throws(() => decodeFrames(ackWithCount(limit)), { message: /ranges/ });
  t.throws(() => decodeFrames(ackWithCount(2 ** 40)), WireDecodeError);
  // Just below the limit the count is accepted, and then the missing ranges are a truncation.
  t.throws(() => decodeFrames(ackWithCount(limit - 1)), { message: /truncated/ });
  // A frame with exactly limit ranges (count limit - 1), all present, decodes.
  const w = new ByteWriter()
    .u8(FrameType.ACK)
    .varint(1_000_000)
    .varint(0)
    .varint(limit - 1);
  w.varint(0);
  for (let i = 0; i < limit - 1; i++) w.varint(0).varint(0);
  const decoded = decodeFrames(w.finish());
  t.equal(decoded[0]?.type === 'ack' ? decoded[0].ranges.length : 0, limit);
});

t.test('STREAM round trips: with and without FIN, at offset 0 and beyond', async (t) => {
  const cases: (Frame & { type: 'stream' })[] = [
    { type: 'stream', streamId: 0, offset: 0, data: Uint8Array.from([1, 2, 3]), fin: false },
    { type: 'stream', streamId: 4, offset: 0, data: Uint8Array.from([9]), fin: true },
    { type: 'stream', streamId: 5, offset: 70_000, data: new Uint8Array(0), fin: true },
    {
      type: 'stream',
      streamId: 2 ** 30 + 1,
      offset: 2 ** 40,
      data: new Uint8Array(300),
      fin: false,
    },
  ];
  for (const f of cases) t.same(roundTrip([f]), [f], JSON.stringify({ ...f, data: f.data.length }));
  // The encoder always sets OFF and LEN: 0x0e without FIN, 0x0f with.
  t.equal(hex(encodeFrames([cases[0]!]).finish()), '0e' + '00' + '00' + '03' + '010203');
  t.equal(hex(encodeFrames([cases[1]!]).finish()), '0f' + '04' + '00' + '01' + '09');
});

t.test('STREAM types without OFF or LEN decode (RFC 9000 §19.8)', async (t) => {
  const data = Uint8Array.from([0xaa, 0xbb, 0xcc]);
  // 0x08: no offset (0), no length (to the end of the packet), no FIN.
  t.same(decodeFrames(fromHex('08 04 aabbcc')), [
    { type: 'stream', streamId: 4, offset: 0, data, fin: false },
  ]);
  t.same(decodeFrames(fromHex('09 04 aabbcc')), [
    { type: 'stream', streamId: 4, offset: 0, data, fin: true },
  ]);
  // 0x0a: LEN only, so a frame may follow.
  t.same(decodeFrames(fromHex('0a 04 03 aabbcc 01')), [
    { type: 'stream', streamId: 4, offset: 0, data, fin: false },
    { type: 'ping' },
  ]);
  t.same(decodeFrames(fromHex('0b 04 00 01')), [
    { type: 'stream', streamId: 4, offset: 0, data: new Uint8Array(0), fin: true },
    { type: 'ping' },
  ]);
  // 0x0c/0x0d: OFF only, data to the end; 0x4100 is offset 256.
  t.same(decodeFrames(fromHex('0c 01 4100 aabbcc')), [
    { type: 'stream', streamId: 1, offset: 256, data, fin: false },
  ]);
  t.same(decodeFrames(fromHex('0d 01 4100 aabbcc')), [
    { type: 'stream', streamId: 1, offset: 256, data, fin: true },
  ]);
  // A frame without LEN swallows what follows: the PING byte becomes data.
  t.same(decodeFrames(fromHex('08 00 01')), [
    { type: 'stream', streamId: 0, offset: 0, data: Uint8Array.from([1]), fin: false },
  ]);
  t.throws(() => decodeFrames(fromHex('0e 00 00 05 aabb')), { message: /truncated/ });
});

t.test('STREAM data beyond offset 2^53-1 is refused', async (t) => {
  const w = new ByteWriter().u8(0x0e).varint(0).varint(STREAM_OFFSET_MAX).varint(1).u8(0);
  t.throws(() => decodeFrames(w.finish()), WireDecodeError);
  const ok = new ByteWriter().u8(0x0e).varint(0).varint(STREAM_OFFSET_MAX).varint(0).finish();
  t.equal(decodeFrames(ok).length, 1, 'an empty frame at the very end is allowed');
});

t.test('stream control frames round-trip with known encodings', async (t) => {
  const vectors: [Frame, string][] = [
    [{ type: 'reset_stream', streamId: 4, code: 7, finalSize: 1000 }, '04 04 07 43e8'],
    [{ type: 'stop_sending', streamId: 9, code: 300 }, '05 09 412c'],
    [{ type: 'max_data', max: 4 << 20 }, '10 80400000'],
    [{ type: 'max_stream_data', streamId: 1, max: 65_536 }, '11 01 80010000'],
    [{ type: 'max_streams', max: 1024 }, '12 4400'],
    [{ type: 'data_blocked', limit: 63 }, '14 3f'],
    [{ type: 'stream_data_blocked', streamId: 8, limit: 64 }, '15 08 4040'],
    [{ type: 'streams_blocked', limit: 0 }, '16 00'],
  ];
  for (const [frame, expected] of vectors) {
    const bytes = encodeFrames([frame]).finish();
    t.equal(hex(bytes), expected.replace(/\s+/g, ''), `${frame.type} encoding`);
    t.same(decodeFrames(bytes), [frame], `${frame.type} decodes`);
  }
  const all = vectors.map(([f]) => f);
  t.same(roundTrip(all), all, 'all of them in one payload');
  const big: Frame[] = [
    { type: 'reset_stream', streamId: 2 ** 50, code: 2 ** 40, finalSize: STREAM_OFFSET_MAX },
    { type: 'max_data', max: Number.MAX_SAFE_INTEGER },
    { type: 'max_streams', max: 2 ** 32 },
  ];
  t.same(roundTrip(big), big, '8-byte varints');
});

t.test('truncated control frames are refused', async (t) => {
  for (const h of ['04 04 07', '05 09', '10', '11 01', '12', '14', '15 08', '16', '04 04 07 43']) {
    t.throws(() => decodeFrames(fromHex(h)), WireDecodeError, h);
  }
});

const FRAME_TYPE_BYTES = [
  0x00, 0x01, 0x02, 0x04, 0x05, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
  0x14, 0x15, 0x16, 0x1c, 0x1e, 0x31,
];

t.test('fuzz: decodeFrames only ever throws WireDecodeError', async (t) => {
  let other: unknown;
  const check = (bytes: Uint8Array) => {
    try {
      decodeFrames(bytes);
    } catch (err) {
      if (!(err instanceof WireDecodeError)) other ??= err;
      return err instanceof WireDecodeError;
    }
    return true;
  };
  // Payloads that start with a real frame type, so the fuzz reaches past the type byte;
  // varint-heavy bytes (0x40.. 0xff prefixes) to exercise long and huge fields.
  const payloadArb = fc
    .array(
      fc.tuple(
        fc.constantFrom(...FRAME_TYPE_BYTES),
        fc.uint8Array({ maxLength: 24 }),
        fc.array(fc.constantFrom(0x00, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xff), {
          maxLength: 6,
        }),
      ),
      { minLength: 1, maxLength: 6 },
    )
    .map((parts) => {
      const w = new ByteWriter();
      for (const [type, body, varintBytes] of parts)
        w.u8(type).bytes(Uint8Array.from(varintBytes)).bytes(body);
      return w.finish();
    });
  fc.assert(fc.property(payloadArb, check), { seed: 7, numRuns: 5000 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { seed: 8, numRuns: 3000 });
  t.equal(other, undefined, 'no other error type escaped');
});

t.test('frameBytes agrees with the encoder for every kind of frame', async (t) => {
  const big = fc.oneof(fc.nat(63), fc.nat(16_383), fc.nat(2 ** 30), fc.nat(2 ** 48));
  const ackArb = fc
    .record({
      pathId: fc.oneof(fc.constant(0), fc.nat(2 ** 32 - 1)),
      top: fc.nat(2 ** 48),
      steps: fc.array(fc.tuple(fc.nat(70_000), fc.nat(70_000)), { maxLength: 8 }),
      delay: fc.double({ min: 0, max: 20_000, noNaN: true }),
    })
    .map(({ pathId, top, steps, delay }): Frame => {
      const ranges = [];
      let high = top;
      for (const [length, gap] of [[0, 0], ...steps] as [number, number][]) {
        if (high - length < 0) break;
        ranges.push({ largest: high, smallest: high - length });
        high = high - length - gap - 2;
        if (high < 0) break;
      }
      return { type: 'ack', pathId, ranges, ackDelayMs: delay };
    });
  const streamArb = fc
    .record({ id: big, offset: big, data: fc.uint8Array({ maxLength: 300 }), fin: fc.boolean() })
    .map(({ id, offset, data, fin }): Frame => ({
      type: 'stream',
      streamId: id,
      offset,
      data,
      fin,
    }));
  const datagramArb = fc
    .uint8Array({ maxLength: 20_000 })
    .map((data): Frame => ({ type: 'datagram', data }));
  const otherArb = fc.constantFrom<Frame>(
    { type: 'ping' },
    { type: 'max_data', max: 2 ** 40 },
    { type: 'add_address', seq: 3, locator: '[2001:db8::1]:4433' },
    { type: 'path_abandon', pathId: 70_000 },
  );
  fc.assert(
    fc.property(fc.oneof(ackArb, streamArb, datagramArb, otherArb), (f) => {
      return frameBytes(f) === encodeFrames([f]).length;
    }),
    { seed: 11, numRuns: 3000 },
  );
  t.pass('3000 frames measured as the encoder writes them');
});
