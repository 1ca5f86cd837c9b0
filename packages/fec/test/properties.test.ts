import t from 'tap';
import fc from 'fast-check';
import { ReedSolomon } from '@braid/fec';
import { firstDifference, withMissing } from './support/shards.js';

const RUNS = 200;

/** A code (k, m ≤ 24 shards in all), k data shards of one random size, and a set of losses ≤ m. */
const group = fc
  .record({
    k: fc.integer({ min: 1, max: 16 }),
    m: fc.integer({ min: 0, max: 8 }),
    size: fc.nat(300),
  })
  .chain(({ k, m, size }) =>
    fc.record({
      k: fc.constant(k),
      m: fc.constant(m),
      data: fc.array(fc.uint8Array({ minLength: size, maxLength: size }), {
        minLength: k,
        maxLength: k,
      }),
      missing: fc.uniqueArray(fc.nat(k + m - 1), { maxLength: m }),
    }),
  );

function encoded(k: number, m: number, data: readonly Uint8Array[]): Uint8Array[] {
  const size = data[0]!.length;
  const shards = [
    ...data.map((d) => d.slice()),
    ...Array.from({ length: m }, () => new Uint8Array(size)),
  ];
  new ReedSolomon(k, m).encode(shards);
  return shards;
}

/** `bytes` copied to an odd offset of a larger buffer, so the word loop cannot be used. */
function unaligned(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 3).subarray(1, bytes.length + 1);
  out.set(bytes);
  return out;
}

/** A tap test that `predicate` holds for `numRuns` values drawn from `arbitrary`. */
function property<T>(
  name: string,
  arbitrary: fc.Arbitrary<T>,
  predicate: (value: T) => boolean,
  numRuns = RUNS,
): void {
  t.test(name, (t) => {
    fc.assert(fc.property(arbitrary, predicate), { numRuns });
    t.end();
  });
}

property(
  'any ≤ m lost shards are rebuilt exactly, and verify accepts the result',
  group,
  ({ k, m, data, missing }) => {
    const shards = encoded(k, m, data);
    const rs = new ReedSolomon(k, m);
    const rebuilt = withMissing(shards, missing);
    rs.reconstruct(rebuilt);
    return firstDifference(rebuilt, shards) === undefined && rs.verify(shards);
  },
);

property(
  'verify rejects any single changed byte',
  fc.tuple(
    group.filter(({ m, data }) => m > 0 && data[0]!.length > 0),
    fc.nat(),
    fc.nat(),
    fc.integer({ min: 1, max: 255 }),
  ),
  ([{ k, m, data }, shardPick, bytePick, delta]) => {
    const shards = encoded(k, m, data);
    const shard = shards[shardPick % (k + m)]!;
    shard[bytePick % shard.length]! ^= delta;
    return !new ReedSolomon(k, m).verify(shards);
  },
);

// Cross-checks the 32-bit word loop against the byte loop (1-byte shards use only the latter).
property(
  'bytes are coded independently: a shard encodes like its bytes one at a time',
  group,
  ({ k, m, data }) => {
    const whole = encoded(k, m, data);
    for (let i = 0; i < data[0]!.length; i++) {
      const column = encoded(
        k,
        m,
        data.map((d) => d.subarray(i, i + 1)),
      );
      if (column.some((shard, s) => shard[0] !== whole[s]![i])) return false;
    }
    return true;
  },
  60,
);

property(
  'unaligned slices (byte loop) give the same parity and reconstructions as aligned ones',
  group,
  ({ k, m, data, missing }) => {
    const aligned = encoded(k, m, data);
    const odd = aligned.map((s, i) => (i < k ? unaligned(s) : unaligned(new Uint8Array(s.length))));
    const rs = new ReedSolomon(k, m);
    rs.encode(odd);
    if (firstDifference(odd, aligned) !== undefined) return false;
    const rebuilt = odd.map((s) => unaligned(s));
    rs.reconstruct(rebuilt, { present: rebuilt.map((_, i) => !missing.includes(i)) });
    return firstDifference(rebuilt, aligned) === undefined;
  },
);

property(
  'the code is linear: parity(a xor b) = parity(a) xor parity(b)',
  group.chain((g) =>
    fc.tuple(
      fc.constant(g),
      fc.array(fc.uint8Array({ minLength: g.data[0]!.length, maxLength: g.data[0]!.length }), {
        minLength: g.k,
        maxLength: g.k,
      }),
    ),
  ),
  ([{ k, m, data }, other]) => {
    const sum = data.map((d, s) => d.map((b, i) => b ^ other[s]![i]!));
    const pa = encoded(k, m, data);
    const pb = encoded(k, m, other);
    return encoded(k, m, sum).every((shard, s) =>
      shard.every((b, i) => b === (pa[s]![i]! ^ pb[s]![i]!)),
    );
  },
);

property(
  'encodeParity writes the same parity as encode, into separate lists',
  group,
  ({ k, m, data }) => {
    const shards = encoded(k, m, data);
    const parity = Array.from({ length: m }, () => new Uint8Array(data[0]!.length).fill(0x5a));
    new ReedSolomon(k, m).encodeParity(data, parity);
    return firstDifference(parity, shards.slice(k)) === undefined;
  },
);
