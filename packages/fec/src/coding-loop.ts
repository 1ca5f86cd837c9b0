/**
 * The inner loop: `output = Σ coefficient_j · input_j` over byte slices, where all the time goes.
 *
 * Encode throughput of the variants tried, each in its own process (Node 20, the 2-core x86-64
 * machine, k = 10, m = 4, 1,400-byte shards, best of 9 batches of 4,000 encodes; `pnpm bench
 * fec-codec` measures the result against a native baseline): a byte at a time through the product
 * table, ~110 MB/s; with the coefficient's 256-byte row hoisted, ~140 MB/s; 32-bit words with
 * four row lookups each, ~290 MB/s; unrolled 2×, ~320 MB/s; 8×, ~370 MB/s; 16×, ~395 MB/s. Not
 * faster: four outputs updated per input word (~395 MB/s at best, with more code), JS-array
 * rows. Slower: Int32 rows (~210 MB/s), per-coefficient 16-bit tables (128 KiB each: cache
 * misses, ~200 MB/s), and a word helper called 16× per iteration (V8 stopped inlining it,
 * ~260 MB/s) — hence the expression written out. So: 32-bit words, row hoisted, 16 words per
 * iteration, and a byte loop for the tail and for slices whose byteOffset is not 4-aligned.
 */
import { MUL_ROWS } from './galois.js';

/** A slice's 32-bit words, or undefined when its byteOffset is not 4-aligned. */
function words(bytes: Uint8Array): Uint32Array | undefined {
  return (bytes.byteOffset & 3) === 0
    ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2)
    : undefined;
}

/** The four bytes of `x`, each multiplied through `row`, in place (byte order is irrelevant). */
function mulWord(row: Uint8Array, x: number): number {
  return (
    row[x & 255]! |
    (row[(x >>> 8) & 255]! << 8) |
    (row[(x >>> 16) & 255]! << 16) |
    (row[x >>> 24]! << 24)
  );
}

/** `out ^= row ⊗ input` over the first `n` words, 16 per iteration. */
function mulXorWords(row: Uint8Array, input: Uint32Array, out: Uint32Array, n: number): void {
  let i = 0;
  let x = 0;
  // prettier-ignore
  for (; i + 16 <= n; i += 16) {
    x = input[i + 0]!; out[i + 0]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 1]!; out[i + 1]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 2]!; out[i + 2]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 3]!; out[i + 3]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 4]!; out[i + 4]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 5]!; out[i + 5]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 6]!; out[i + 6]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 7]!; out[i + 7]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 8]!; out[i + 8]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 9]!; out[i + 9]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 10]!; out[i + 10]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 11]!; out[i + 11]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 12]!; out[i + 12]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 13]!; out[i + 13]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 14]!; out[i + 14]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
    x = input[i + 15]!; out[i + 15]! ^= row[x & 255]! | (row[(x >>> 8) & 255]! << 8) | (row[(x >>> 16) & 255]! << 16) | (row[x >>> 24]! << 24);
  }
  for (; i < n; i++) out[i]! ^= mulWord(row, input[i]!);
}

/** `out ^= row ⊗ input` over bytes `[from, to)`. */
function mulXorBytes(
  row: Uint8Array,
  input: Uint8Array,
  out: Uint8Array,
  from: number,
  to: number,
): void {
  for (let i = from; i < to; i++) out[i]! ^= row[input[i]!]!;
}

/**
 * Computes `outputs[r] = Σ_j coefficients[r · inputs.length + j] · inputs[j]` for every output.
 * All slices have the same length; outputs must not alias inputs.
 */
export function codeShards(
  coefficients: Uint8Array,
  inputs: readonly Uint8Array[],
  outputs: readonly Uint8Array[],
): void {
  const k = inputs.length;
  const size = outputs[0]?.length ?? 0;
  if (size === 0) return;
  const wordCount = size >>> 2;
  const inputWords = inputs.map(words);
  for (let r = 0; r < outputs.length; r++) {
    const out = outputs[r]!;
    const outWords = words(out);
    out.fill(0);
    for (let j = 0; j < k; j++) {
      const c = coefficients[r * k + j]!;
      if (c === 0) continue;
      const row = MUL_ROWS[c]!;
      const inWords = inputWords[j];
      let from = 0;
      if (outWords !== undefined && inWords !== undefined) {
        mulXorWords(row, inWords, outWords, wordCount);
        from = wordCount << 2;
      }
      mulXorBytes(row, inputs[j]!, out, from, size);
    }
  }
}

/**
 * `out[0, input.length) ^= c · input`: one term of a linear combination, for decoders that
 * build their combinations a term at a time (the session's sliding-window code). `input` may be
 * shorter than `out`; the bytes of `out` past it are left as they are.
 */
export function mulXorInto(c: number, input: Uint8Array, out: Uint8Array): void {
  if (input.length > out.length)
    throw new RangeError(`a ${input.length}-byte input does not fit a ${out.length}-byte output`);
  if (c === 0) return;
  const row = MUL_ROWS[c & 255]!;
  const inWords = words(input);
  const outWords = words(out);
  let from = 0;
  if (inWords !== undefined && outWords !== undefined) {
    mulXorWords(row, inWords, outWords, inWords.length);
    from = inWords.length << 2;
  }
  mulXorBytes(row, input, out, from, input.length);
}
