/**
 * Dense matrices over GF(2^8), row-major in one Uint8Array. Only what the code needs: the
 * Vandermonde construction, products, and Gauss–Jordan inversion.
 */
import { gfDiv, gfExp, gfMul } from './galois.js';

export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** `data[r * cols + c]`. */
  readonly data: Uint8Array;
}

export function zeroMatrix(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Uint8Array(rows * cols) };
}

/** `rows × cols` with entry `r^c` (Backblaze `vandermonde(rows, cols)`). */
export function vandermonde(rows: number, cols: number): Matrix {
  const m = zeroMatrix(rows, cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) m.data[r * cols + c] = gfExp(r, c);
  return m;
}

/** The matrix made of the given rows of `m`, in that order. */
export function selectRows(m: Matrix, rowIndexes: readonly number[]): Matrix {
  const out = zeroMatrix(rowIndexes.length, m.cols);
  rowIndexes.forEach((r, i) =>
    out.data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols),
  );
  return out;
}

export function multiply(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows)
    throw new RangeError(`cannot multiply ${a.rows}×${a.cols} by ${b.rows}×${b.cols}`);
  const out = zeroMatrix(a.rows, b.cols);
  for (let r = 0; r < a.rows; r++)
    for (let c = 0; c < b.cols; c++) {
      let sum = 0;
      for (let i = 0; i < a.cols; i++)
        sum ^= gfMul(a.data[r * a.cols + i]!, b.data[i * b.cols + c]!);
      out.data[r * b.cols + c] = sum;
    }
  return out;
}

/**
 * The inverse of a square matrix, by Gauss–Jordan elimination on `[m | I]`. Throws a
 * RangeError if `m` is singular: any k rows of the coding matrix are invertible, so for this
 * package that is a bug, not an input error.
 */
export function invert(m: Matrix): Matrix {
  const n = m.rows;
  if (m.cols !== n) throw new RangeError(`cannot invert a ${m.rows}×${m.cols} matrix`);
  const w = 2 * n;
  const work = new Uint8Array(n * w);
  for (let r = 0; r < n; r++) {
    work.set(m.data.subarray(r * n, (r + 1) * n), r * w);
    work[r * w + n + r] = 1;
  }
  for (let col = 0; col < n; col++) {
    let pivot = col;
    while (pivot < n && work[pivot * w + col] === 0) pivot++;
    if (pivot === n) throw new RangeError('matrix is singular');
    if (pivot !== col) {
      const tmp = work.slice(col * w, (col + 1) * w);
      work.copyWithin(col * w, pivot * w, (pivot + 1) * w);
      work.set(tmp, pivot * w);
    }
    const scale = work[col * w + col]!;
    if (scale !== 1)
      for (let c = 0; c < w; c++) work[col * w + c] = gfDiv(work[col * w + c]!, scale);
    for (let r = 0; r < n; r++) {
      const factor = work[r * w + col]!;
      if (r === col || factor === 0) continue;
      for (let c = 0; c < w; c++) work[r * w + c]! ^= gfMul(factor, work[col * w + c]!);
    }
  }
  const out = zeroMatrix(n, n);
  for (let r = 0; r < n; r++) out.data.set(work.subarray(r * w + n, (r + 1) * w), r * n);
  return out;
}

/**
 * The systematic coding matrix of Backblaze JavaReedSolomon and klauspost/reedsolomon's
 * default: the `(k + m) × k` Vandermonde matrix times the inverse of its top `k × k` square.
 * Its top square is the identity (data shards are sent as they are) and any `k` of its rows
 * are invertible (any `k` shards recover the data).
 */
export function codingMatrix(dataShards: number, totalShards: number): Matrix {
  const v = vandermonde(totalShards, dataShards);
  const top = selectRows(
    v,
    Array.from({ length: dataShards }, (_, i) => i),
  );
  return multiply(v, invert(top));
}
