import t from 'tap';
import { codingMatrix, gfDiv, gfExp, gfMul, invert, multiply, ReedSolomon } from '@braid/fec';
import type { Matrix } from '@braid/fec';

// Known answers from Backblaze JavaReedSolomon's tests (ReedSolomonTest.testOneEncode,
// GaloisTest.testWithPythonAnswers, MatrixTest); klauspost/reedsolomon checks the same ones.

function matrix(rows: number[][]): Matrix {
  return { rows: rows.length, cols: rows[0]!.length, data: Uint8Array.from(rows.flat()) };
}

function rowsOf(m: Matrix): number[][] {
  return Array.from({ length: m.rows }, (_, r) => [
    ...m.data.subarray(r * m.cols, (r + 1) * m.cols),
  ]);
}

t.test('k=5, m=5 encodes the Backblaze vector, and verify notices one changed byte', (t) => {
  const rs = new ReedSolomon(5, 5);
  const shards = [
    [0, 1],
    [4, 5],
    [2, 3],
    [6, 7],
    [8, 9],
    [0, 0],
    [0, 0],
    [0, 0],
    [0, 0],
    [0, 0],
  ].map((s) => Uint8Array.from(s));
  rs.encode(shards);
  t.same(
    shards.slice(5).map((s) => [...s]),
    [
      [12, 13],
      [10, 11],
      [14, 15],
      [90, 91],
      [94, 95],
    ],
  );
  t.equal(rs.verify(shards), true);
  shards[8]![0]! += 1;
  t.equal(rs.verify(shards), false);
  t.end();
});

t.test('field: products and powers from the Python prototype', (t) => {
  t.equal(gfMul(3, 4), 12);
  t.equal(gfMul(7, 7), 21);
  t.equal(gfMul(23, 45), 41);
  t.equal(gfExp(2, 2), 4);
  t.equal(gfExp(5, 20), 235);
  t.equal(gfExp(13, 7), 43);
  t.end();
});

t.test('field: every product matches shift-and-add multiplication mod 0x11D', (t) => {
  // An independent reference: carry-less multiply, reduced bit by bit.
  const slowMul = (a: number, b: number): number => {
    let product = 0;
    for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) product ^= a << bit;
    for (let bit = 15; bit >= 8; bit--) if (product & (1 << bit)) product ^= 0x11d << (bit - 8);
    return product;
  };
  const wrong: string[] = [];
  for (let a = 0; a < 256; a++)
    for (let b = 0; b < 256; b++) {
      if (gfMul(a, b) !== slowMul(a, b)) wrong.push(`${a}·${b}`);
      if (b !== 0 && gfMul(gfDiv(a, b), b) !== a) wrong.push(`${a}/${b}`);
    }
  t.same(wrong, []);
  t.throws(() => gfDiv(1, 0), RangeError);
  t.end();
});

t.test('matrix: product and inverses from MatrixTest', (t) => {
  t.same(
    rowsOf(
      multiply(
        matrix([
          [1, 2],
          [3, 4],
        ]),
        matrix([
          [5, 6],
          [7, 8],
        ]),
      ),
    ),
    [
      [11, 22],
      [19, 42],
    ],
  );
  t.same(
    rowsOf(
      invert(
        matrix([
          [56, 23, 98],
          [3, 100, 200],
          [45, 201, 123],
        ]),
      ),
    ),
    [
      [175, 133, 33],
      [130, 13, 245],
      [112, 35, 126],
    ],
  );
  // Needs a row swap: the third pivot is zero.
  t.same(
    rowsOf(
      invert(
        matrix([
          [1, 0, 0, 0, 0],
          [0, 1, 0, 0, 0],
          [0, 0, 0, 1, 0],
          [0, 0, 0, 0, 1],
          [7, 7, 6, 6, 1],
        ]),
      ),
    ),
    [
      [1, 0, 0, 0, 0],
      [0, 1, 0, 0, 0],
      [123, 123, 1, 122, 122],
      [0, 0, 1, 0, 0],
      [0, 0, 0, 1, 0],
    ],
  );
  t.throws(
    () =>
      invert(
        matrix([
          [1, 2],
          [2, 4],
        ]),
      ),
    { message: /singular/ },
  );
  t.end();
});

t.test('the coding matrix is systematic and its first k=5, m=5 parity row is Backblaze’s', (t) => {
  const rows = rowsOf(codingMatrix(5, 10));
  const identity = [0, 1, 2, 3, 4].map((r) => [0, 1, 2, 3, 4].map((c) => (r === c ? 1 : 0)));
  t.same(rows.slice(0, 5), identity);
  // MatrixTest.inverse2 inverts rows {0, 1, 3, 4, 5}: the decode matrix when data shard 2 is lost.
  t.same(rows[5], [7, 7, 6, 6, 1]);
  t.end();
});
