import t from 'tap';
import fc from 'fast-check';
// The FEC modules are imported from the build directly, with the codec from the same build so
// that `instanceof WireDecodeError` sees one class.
import {
  decodeRepairFrame,
  encodeRepairFrame,
  readShard,
  repairCoefficient,
  REPAIR_FRAME_TYPE,
  REPAIR_RUNS_MAX,
  REPAIR_SOURCES_MAX,
  repairFrameBytes,
  repairFrameOverheadBytes,
  writeShard,
  type RepairFrame,
  type RepairSource,
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

/** Writes runs as given, without the encoder's checks: for frames it refuses to write. */
function rawFrame(
  runs: [pathId: number, first: number, span: number, bitmap: number[]][],
  dataLength = 4,
): Uint8Array {
  const w = new ByteWriter().u8(REPAIR_FRAME_TYPE).varint(7).varint(runs.length);
  for (const [pathId, first, span, bitmap] of runs)
    w.varint(pathId).varint(first).varint(span).bytes(Uint8Array.from(bitmap));
  return w.varint(dataLength).zeros(dataLength).finish();
}

const onlyWireErrors = (fn: () => unknown): boolean => {
  try {
    fn();
    return true;
  } catch (err) {
    return err instanceof WireDecodeError;
  }
};

const sortSources = (s: RepairSource[]) =>
  s.sort((a, b) => a.pathId - b.pathId || a.packetNumber - b.packetNumber);

const frameArb: fc.Arbitrary<RepairFrame> = fc
  .record({
    repairId: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    pathIds: fc.uniqueArray(fc.integer({ min: 0, max: 2 ** 40 }), { minLength: 1, maxLength: 3 }),
    firstPn: fc.integer({ min: 0, max: 2 ** 48 - 2000 }),
    gaps: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 60 }),
    data: fc.uint8Array({ minLength: 3, maxLength: 1500 }),
  })
  .map(({ repairId, pathIds, firstPn, gaps, data }) => {
    const pn = new Map<number, number>();
    const sources = gaps.map((gap, i) => {
      const pathId = pathIds[i % pathIds.length]!;
      const next = (pn.get(pathId) ?? firstPn) + gap;
      pn.set(pathId, next);
      return { pathId, packetNumber: next };
    });
    return { type: 'repair' as const, repairId, sources: sortSources(sources), data };
  })
  .filter((f) => encodable(f));

function encodable(frame: RepairFrame): boolean {
  try {
    encodeRepairFrame(frame, new ByteWriter());
    return true;
  } catch {
    return false;
  }
}

t.test('known answer: runs, bitmaps and every field in its varint size', async (t) => {
  const frame: RepairFrame = {
    type: 'repair',
    repairId: 300,
    sources: [
      { pathId: 0, packetNumber: 5 },
      { pathId: 0, packetNumber: 7 },
      { pathId: 0, packetNumber: 14 },
      { pathId: 1, packetNumber: 2 ** 40 },
    ],
    data: Uint8Array.of(1, 2, 3),
  };
  const bytes = encodeRepairFrame(frame, new ByteWriter()).finish();
  // type 0x20; repair ID 300 as a 2-byte varint; 2 runs: path 0 from 5, span 10, bitmap
  // 0b0000_0101 0b10 (5, 7, 14); path 1 from 2^40 (an 8-byte varint), span 1, bitmap 1;
  // length 3 and the data.
  t.equal(
    hex(bytes),
    '20' +
      '412c' +
      '02' +
      '00' +
      '05' +
      '0a' +
      '0502' +
      '01' +
      'c000010000000000' +
      '01' +
      '01' +
      '03010203',
  );
  t.equal(repairFrameBytes(frame), bytes.length);
  t.equal(repairFrameOverheadBytes(frame), bytes.length - 3);
  t.same(decodeAll(bytes), frame);
});

t.test('a run is at most 256 packet numbers long: a longer stretch takes two', async (t) => {
  const frame: RepairFrame = {
    type: 'repair',
    repairId: 1,
    sources: [
      { pathId: 3, packetNumber: 10 },
      { pathId: 3, packetNumber: 265 },
      { pathId: 3, packetNumber: 266 },
    ],
    data: new Uint8Array(8),
  };
  const bytes = encodeRepairFrame(frame, new ByteWriter()).finish();
  t.equal(bytes[2], 2, 'two runs');
  t.same(decodeAll(bytes).sources, frame.sources);
});

t.test('coefficients: non-zero, deterministic, and spread over the field', async (t) => {
  const seen = new Set<number>();
  for (let id = 0; id < 64; id++)
    for (let i = 0; i < 64; i++) {
      const c = repairCoefficient(id, i);
      if (c < 1 || c > 255) t.fail(`coefficient ${c} for (${id}, ${i})`);
      seen.add(c);
    }
  t.equal(seen.size, 255, 'every non-zero element appears');
  t.equal(repairCoefficient(2 ** 40 + 5, 3), repairCoefficient(2 ** 40 + 5, 3), 'deterministic');
  t.not(
    [0, 1, 2, 3].map((i) => repairCoefficient(2 ** 33, i)).join(),
    [0, 1, 2, 3].map((i) => repairCoefficient(0, i)).join(),
    'the high bits of a repair ID count',
  );
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
        back.repairId === frame.repairId &&
        JSON.stringify(back.sources) === JSON.stringify(frame.sources) &&
        hex(back.data) === hex(frame.data)
      );
    }),
    { seed: 7, numRuns: 500 },
  );
  t.pass('500 frames');
});

t.test('decoded data is a copy: the packet buffer may be reused', async (t) => {
  const bytes = rawFrame([[0, 1, 1, [1]]]);
  const frame = decodeAll(bytes);
  bytes.fill(0xff);
  t.same([...frame.data], [0, 0, 0, 0]);
});

t.test('each validation rule refuses with WireDecodeError', async (t) => {
  const cases: [string, Uint8Array][] = [
    ['no runs', rawFrame([])],
    ['span 0', rawFrame([[0, 1, 0, []]])],
    ['span past 256', rawFrame([[0, 1, 257, new Array(33).fill(0xff)]])],
    ['first packet not a source', rawFrame([[0, 1, 3, [0b110]]])],
    ['last packet not a source', rawFrame([[0, 1, 3, [0b011]]])],
    ['bits past the span', rawFrame([[0, 1, 3, [0b1101]]])],
    [
      'runs out of order',
      rawFrame([
        [1, 1, 1, [1]],
        [0, 1, 1, [1]],
      ]),
    ],
    [
      'runs that overlap',
      rawFrame([
        [0, 1, 3, [0b101]],
        [0, 2, 1, [1]],
      ]),
    ],
    [
      'runs that could be one',
      rawFrame([
        [0, 1, 1, [1]],
        [0, 3, 1, [1]],
      ]),
    ],
    ['data shorter than a shard can be', rawFrame([[0, 1, 1, [1]]], 2)],
    ['packet number ≥ 2^48', rawFrame([[0, 2 ** 48, 1, [1]]])],
    [
      `more than ${REPAIR_RUNS_MAX} runs`,
      rawFrame(Array.from({ length: REPAIR_RUNS_MAX + 1 }, (_, i) => [i, 0, 1, [1]])),
    ],
    [
      `more than ${REPAIR_SOURCES_MAX} sources`,
      rawFrame([
        [0, 0, 256, new Array(32).fill(0xff)],
        [0, 1000, 1, [1]],
      ]),
    ],
  ];
  for (const [what, bytes] of cases) t.throws(() => decodeAll(bytes), WireDecodeError, what);
});

t.test('every truncation is a WireDecodeError', async (t) => {
  const bytes = rawFrame(
    [
      [0, 1, 9, [0xff, 1]],
      [1, 70_000, 1, [1]],
    ],
    20,
  );
  for (let n = 1; n < bytes.length; n++)
    t.throws(() => decodeAll(bytes.subarray(0, n)), WireDecodeError, `${n} bytes`);
});

t.test('the encoder refuses frames the decoder would refuse', async (t) => {
  const good: RepairFrame = {
    type: 'repair',
    repairId: 1,
    sources: [{ pathId: 0, packetNumber: 0 }],
    data: new Uint8Array(3),
  };
  const variants: [string, Partial<RepairFrame>][] = [
    ['no sources', { sources: [] }],
    [
      'unsorted',
      {
        sources: [
          { pathId: 0, packetNumber: 2 },
          { pathId: 0, packetNumber: 1 },
        ],
      },
    ],
    [
      'a source twice',
      {
        sources: [
          { pathId: 0, packetNumber: 1 },
          { pathId: 0, packetNumber: 1 },
        ],
      },
    ],
    ['data of 2 bytes', { data: new Uint8Array(2) }],
    ['negative repair ID', { repairId: -1 }],
    [
      'too many runs',
      {
        sources: Array.from({ length: REPAIR_RUNS_MAX + 1 }, (_, i) => ({
          pathId: i,
          packetNumber: 0,
        })),
      },
    ],
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
