/**
 * Arithmetic in GF(2^8) with the reducing polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11D) and
 * generator 2: the field of Backblaze JavaReedSolomon and klauspost/reedsolomon. Addition is
 * XOR; multiplication goes through log/exp tables, and the coding loops through a full
 * 256 × 256 product table.
 */

/** The reducing polynomial, with the x^8 term. */
export const GF_POLYNOMIAL = 0x11d;

/** `EXP[i] = 2^i`, stored twice over so `EXP[LOG[a] + LOG[b]]` needs no reduction mod 255. */
const EXP = new Uint8Array(510);
/** `LOG[2^i] = i` for every non-zero element; `LOG[0]` is unused. */
const LOG = new Uint8Array(256);

{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    EXP[i + 255] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= GF_POLYNOMIAL;
  }
}

/** The product `a · b`. */
export function gfMul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!;
}

/** The quotient `a / b`; `b` must not be 0. */
export function gfDiv(a: number, b: number): number {
  if (b === 0) throw new RangeError('GF(2^8) division by zero');
  return a === 0 ? 0 : EXP[LOG[a]! + 255 - LOG[b]!]!;
}

/** `a` to the power `n` (n ≥ 0), with `0^0 = 1` as in the Vandermonde construction. */
export function gfExp(a: number, n: number): number {
  if (n === 0) return 1;
  if (a === 0) return 0;
  return EXP[(LOG[a]! * n) % 255]!;
}

/**
 * `MUL_ROWS[c][x] = c · x`: one 256-byte row per coefficient (64 KiB in all, one backing buffer),
 * so a coding loop hoists the row for its coefficient and multiplies a byte with one lookup.
 */
export const MUL_ROWS: readonly Uint8Array[] = (() => {
  const table = new Uint8Array(256 * 256);
  for (let c = 0; c < 256; c++) for (let x = 0; x < 256; x++) table[(c << 8) | x] = gfMul(c, x);
  return Array.from({ length: 256 }, (_, c) => table.subarray(c << 8, (c + 1) << 8));
})();
