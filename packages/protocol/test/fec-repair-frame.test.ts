import t from 'tap';
import fc from 'fast-check';
// The FEC modules are not exported from the package index yet (the session integration does
// that); the compiled modules are imported directly, and the codec from the same build so that
// `instanceof WireDecodeError` sees one class.
import {
  CodecCache,
  decodeRepairFrame,
  encodeRepairFrame,
  readShard,
  REPAIR_FRAME_TYPE,
  repairFrameBytes,
  repairFrameOverheadBytes,
  SHARD_BYTES_MAX,
  writeShard,
  type RepairFrame,
} from '../dist/fec/index.js';
import { ByteReader, ByteWriter, WireDecodeError } from '../dist/wire/codec.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Decodes a whole encoded frame, checking its type byte and that nothing is left over. */
function decodeAll(bytes: Uint8Array): RepairFrame {
  const r = new ByteReader(bytes);
  if (r.u8() !== REPAIR_FRAME_TYPE) throw new Error('not a REPAIR frame');
  const frame = decodeRepairFrame(r);
  if (r.remaining !== 0) throw new Error(`${r.remaining} bytes left over`);
  return frame;
}

/** Writes fields as the encoder would, without its checks: for frames it refuses to write. */
function rawFrame(f: {
  groupId?: number;
  k: number;
  m: number;
  index: number;
  sources: [number, number][];
  dataLength: number;
}): Uint8Array {
  const w = new ByteWriter().u8(REPAIR_FRAME_TYPE).varint(f.groupId ?? 7);
  w.varint(f.k).varint(f.m).varint(f.index);
  for (const [pathId, pn] of f.sources) w.varint(pathId).varint(pn);
  return w.varint(f.dataLength).zeros(f.dataLength).finish();
}

const onlyWireErrors = (fn: () => unknown): boolean => {
  try {
    fn();
    return true;
  } catch (err) {
    return err instanceof WireDecodeError;
  }
};

const frameArb: fc.Arbitrary<RepairFrame> = fc
  .record({
    groupId: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    k: fc.integer({ min: 1, max: 40 }),
    m: fc.integer({ min: 1, max: 20 }),
    indexSeed: fc.nat(),
    pathIds: fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { minLength: 1, maxLength: 3 }),
    firstPn: fc.integer({ min: 0, max: 2 ** 48 - 1000 }),
    data: fc.uint8Array({ minLength: 2, maxLength: 1500 }),
  })
  .map(({ groupId, k, m, indexSeed, pathIds, firstPn, data }) => ({
    type: 'repair' as const,
    groupId,
    k,
    m,
    index: indexSeed % m,
    // Distinct: packet numbers grow within a path.
    sources: Array.from({ length: k }, (_, i) => ({
      pathId: pathIds[i % pathIds.length]!,
      packetNumber: firstPn + i,
    })),
    data,
  }));

t.test('known answer: every field in its varint size', async (t) => {
  const frame: RepairFrame = {
    type: 'repair',
    groupId: 300,
    k: 2,
    m: 3,
    index: 2,
    sources: [
      { pathId: 0, packetNumber: 5 },
      { pathId: 1, packetNumber: 2 ** 40 },
    ],
    data: Uint8Array.of(1, 2, 3),
  };
  const bytes = encodeRepairFrame(frame, new ByteWriter()).finish();
  // type 0x20; group 300 as a 2-byte varint; k 2, m 3, index 2; (0, 5); (1, 2^40) as an 8-byte
  // varint; length 3 and the data.
  t.equal(
    hex(bytes),
    '20' + '412c' + '02' + '03' + '02' + '0005' + '01c000010000000000' + '03010203',
  );
  t.equal(repairFrameBytes(frame), bytes.length);
  t.equal(repairFrameOverheadBytes(frame), bytes.length - 3);
  t.same(decodeAll(bytes), frame);
});

t.test('round trip, and the size function agrees with the encoding', async (t) => {
  fc.assert(
    fc.property(frameArb, (frame) => {
      const w = new ByteWriter(8);
      encodeRepairFrame(frame, w);
      const bytes = w.finish();
      const back = decodeAll(bytes);
      return (
        bytes.length === repairFrameBytes(frame) &&
        back.groupId === frame.groupId &&
        back.k === frame.k &&
        back.m === frame.m &&
        back.index === frame.index &&
        JSON.stringify(back.sources) === JSON.stringify(frame.sources) &&
        hex(back.data) === hex(frame.data)
      );
    }),
    { seed: 7, numRuns: 500 },
  );
  t.pass('500 frames');
});

t.test('decoded data is a copy: the packet buffer may be reused', async (t) => {
  const bytes = rawFrame({ k: 1, m: 1, index: 0, sources: [[0, 1]], dataLength: 4 });
  const frame = decodeAll(bytes);
  bytes.fill(0xff);
  t.same([...frame.data], [0, 0, 0, 0]);
});

t.test('each validation rule refuses with WireDecodeError', async (t) => {
  const ok = {
    k: 2,
    m: 2,
    index: 1,
    sources: [[0, 1] as [number, number], [0, 2]] as [number, number][],
    dataLength: 2,
  };
  t.ok(decodeAll(rawFrame(ok)), 'the baseline decodes');
  const bad: [string, Parameters<typeof rawFrame>[0]][] = [
    ['k = 0', { ...ok, k: 0, sources: [] }],
    ['m = 0', { ...ok, m: 0, index: 0 }],
    ['k + m = 256', { ...ok, k: 2, m: 254 }],
    ['k huge (checked before reading sources)', { ...ok, k: 2 ** 40 }],
    ['index = m', { ...ok, index: 2 }],
    ['data of 1 byte', { ...ok, dataLength: 1 }],
    ['data of 0 bytes', { ...ok, dataLength: 0 }],
    ['data over 65 537 bytes', { ...ok, dataLength: SHARD_BYTES_MAX + 1 }],
    [
      'a source twice',
      {
        ...ok,
        sources: [
          [3, 9],
          [3, 9],
        ],
      },
    ],
    [
      'packet number 2^48',
      {
        ...ok,
        sources: [
          [0, 1],
          [0, 2 ** 48],
        ],
      },
    ],
  ];
  for (const [what, fields] of bad)
    t.throws(() => decodeAll(rawFrame(fields)), WireDecodeError, what);
  // Edge values that are allowed.
  t.equal(decodeAll(rawFrame({ ...ok, k: 1, m: 254, index: 253, sources: [[0, 0]] })).m, 254);
  t.equal(decodeAll(rawFrame({ ...ok, dataLength: SHARD_BYTES_MAX })).data.length, SHARD_BYTES_MAX);
  t.equal(
    decodeAll(
      rawFrame({
        ...ok,
        sources: [
          [0, 9],
          [1, 9],
        ],
      }),
    ).k,
    2,
    'same pn, two paths',
  );
  t.equal(
    decodeAll(
      rawFrame({
        ...ok,
        sources: [
          [0, 2 ** 48 - 1],
          [0, 0],
        ],
      }),
    ).k,
    2,
  );
});

t.test('every truncation is a WireDecodeError', async (t) => {
  const bytes = rawFrame({
    k: 3,
    m: 2,
    index: 1,
    sources: [
      [0, 1],
      [1, 70_000],
      [2, 3],
    ],
    dataLength: 20,
  });
  for (let n = 1; n < bytes.length; n++)
    t.throws(() => decodeAll(bytes.subarray(0, n)), WireDecodeError, `${n} bytes`);
});

t.test('the encoder refuses frames the decoder would refuse', async (t) => {
  const good: RepairFrame = {
    type: 'repair',
    groupId: 1,
    k: 1,
    m: 1,
    index: 0,
    sources: [{ pathId: 0, packetNumber: 0 }],
    data: new Uint8Array(2),
  };
  const variants: [string, Partial<RepairFrame>][] = [
    ['index = m', { index: 1 }],
    ['sources ≠ k', { k: 2 }],
    ['data of 1 byte', { data: new Uint8Array(1) }],
    ['m = 0', { m: 0, index: 0 }],
    ['negative group', { groupId: -1 }],
  ];
  for (const [what, change] of variants)
    t.throws(() => encodeRepairFrame({ ...good, ...change }, new ByteWriter()), RangeError, what);
});

t.test('fuzz: random bytes and mutated frames throw nothing but WireDecodeError', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) =>
      onlyWireErrors(() => decodeRepairFrame(new ByteReader(bytes))),
    ),
    { seed: 11, numRuns: 5000 },
  );
  fc.assert(
    fc.property(
      frameArb,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      (frame, flips) => {
        const bytes = encodeRepairFrame(frame, new ByteWriter()).finish();
        for (const [at, mask] of flips) bytes[at % bytes.length]! ^= mask;
        return onlyWireErrors(() => decodeRepairFrame(new ByteReader(bytes.subarray(1))));
      },
    ),
    { seed: 12, numRuns: 3000 },
  );
  t.pass('only WireDecodeError');
});

t.test(
  'shard layout: u16 length, the packet, zero padding; impossible shards refused',
  async (t) => {
    const packet = Uint8Array.of(9, 8, 7);
    const shard = new Uint8Array(8);
    writeShard(shard, packet);
    t.equal(hex(shard), '0003090807000000');
    t.same(readShard(shard), packet);
    t.throws(() => writeShard(new Uint8Array(4), packet), RangeError, 'does not fit');
    t.equal(readShard(Uint8Array.of(0, 0, 0)), undefined, 'length 0');
    t.equal(readShard(Uint8Array.of(0, 7, 1, 2, 3)), undefined, 'length past the shard');
    t.equal(readShard(Uint8Array.of(0, 1, 5, 0, 1)), undefined, 'non-zero padding');
    t.equal(readShard(Uint8Array.of(0)), undefined, 'shorter than the prefix');
    const full = Uint8Array.of(0, 3, 1, 2, 3);
    t.same(readShard(full), Uint8Array.of(1, 2, 3), 'no padding at all');
  },
);

t.test('codec cache: bounded, reuses codecs', async (t) => {
  const cache = new CodecCache(3);
  const a = cache.get(4, 2);
  t.equal(cache.get(4, 2), a, 'same instance');
  cache.get(8, 4);
  cache.get(16, 8);
  cache.get(4, 2); // (8, 4) is now the least recently used
  cache.get(2, 1);
  t.equal(cache.size, 3);
  t.equal(cache.get(4, 2), a, 'recently used kept');
});
