/** Shared helpers of the @braid/fec tests: seeded shard data and erasure patterns. */
import type { Shard } from '@braid/fec';

/** A small seeded PRNG (mulberry32), so a failing pattern replays exactly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** `count` shards of `size` random bytes each. */
export function randomShards(random: () => number, count: number, size: number): Uint8Array[] {
  return Array.from({ length: count }, () =>
    Uint8Array.from({ length: size }, () => Math.floor(random() * 256)),
  );
}

/** `k` random data shards followed by `m` zeroed parity shards. */
export function dataAndParity(
  random: () => number,
  k: number,
  m: number,
  size: number,
): Uint8Array[] {
  return [...randomShards(random, k, size), ...randomShards(() => 0, m, size)];
}

/** Every subset of `{0…n-1}` with exactly `size` elements, in increasing order. */
export function* subsets(n: number, size: number, from = 0): Generator<number[]> {
  if (size === 0) {
    yield [];
    return;
  }
  for (let i = from; i <= n - size; i++)
    for (const rest of subsets(n, size - 1, i + 1)) yield [i, ...rest];
}

/** `size` distinct indexes below `n`, drawn at random. */
export function randomSubset(random: () => number, n: number, size: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < size; i++) {
    const j = i + Math.floor(random() * (n - i));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, size).sort((a, b) => a - b);
}

/** Copies of `shards` with the slots in `missing` set to null. */
export function withMissing(shards: readonly Uint8Array[], missing: readonly number[]): Shard[] {
  return shards.map((s, i) => (missing.includes(i) ? null : s.slice()));
}

/** The first index where two shard lists differ, as text, or undefined when they are equal. */
export function firstDifference(
  actual: readonly Shard[],
  expected: readonly Uint8Array[],
): string | undefined {
  if (actual.length !== expected.length) return `${actual.length} shards, not ${expected.length}`;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i]!;
    if (!(a instanceof Uint8Array)) return `shard ${i} is ${String(a)}`;
    if (a.length !== e.length) return `shard ${i} is ${a.length} bytes, not ${e.length}`;
    for (let j = 0; j < e.length; j++)
      if (a[j] !== e[j]) return `shard ${i} byte ${j} is ${a[j]}, not ${e[j]}`;
  }
  return undefined;
}
