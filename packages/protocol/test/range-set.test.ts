import t from 'tap';
import fc from 'fast-check';
import { RangeSet, type Range } from '@braid/protocol';

function rangesOf(s: RangeSet): [number, number][] {
  return s.all.map((r) => [r.start, r.end]);
}

function setOf(...ranges: [number, number][]): RangeSet {
  const s = new RangeSet();
  for (const [a, b] of ranges) s.add(a, b);
  return s;
}

t.test('add merges overlapping and touching ranges and counts the new members', async (t) => {
  const s = new RangeSet();
  t.ok(s.isEmpty);
  t.equal(s.min, undefined);
  t.equal(s.end, undefined);
  t.equal(s.add(10, 20), 10);
  t.equal(s.add(30, 40), 10);
  t.same(rangesOf(s), [
    [10, 20],
    [30, 40],
  ]);
  t.equal(s.add(20, 30), 10, 'fills the gap exactly: all new');
  t.same(rangesOf(s), [[10, 40]], 'touching ranges merge into one');
  t.equal(s.add(5, 45), 10, 'only the 5 below and the 5 above are new');
  t.same(rangesOf(s), [[5, 45]]);
  t.equal(s.add(7, 9), 0, 'inside: nothing new');
  t.equal(s.add(9, 9), 0, 'empty range');
  t.equal(s.add(9, 3), 0, 'reversed range');
  t.same(rangesOf(s), [[5, 45]]);
  t.equal(s.add(50, 60), 10);
  t.equal(s.add(70, 80), 10);
  t.equal(s.add(40, 75), 15, 'spans a gap of 5 and a gap of 10, over two ranges');
  t.same(rangesOf(s), [[5, 80]]);
  t.equal(s.min, 5);
  t.equal(s.end, 80);
  t.equal(s.size, 1);
});

t.test('has and covers', async (t) => {
  const s = setOf([0, 1], [5, 10], [20, 30]);
  t.ok(s.has(0));
  t.notOk(s.has(1), 'end is exclusive');
  t.notOk(s.has(4));
  t.ok(s.has(5));
  t.ok(s.has(9));
  t.notOk(s.has(10));
  t.ok(s.has(29));
  t.notOk(s.has(30));
  t.notOk(s.has(-1));
  t.ok(s.covers(5, 10));
  t.ok(s.covers(6, 8));
  t.notOk(s.covers(5, 11), 'one past the end');
  t.notOk(s.covers(4, 10), 'one before the start');
  t.notOk(s.covers(5, 25), 'spans a gap');
  t.ok(s.covers(12, 12), 'empty range is always covered');
  t.ok(s.covers(12, 3), 'reversed range is empty');
});

t.test('remove splits, trims and deletes ranges', async (t) => {
  const s = setOf([0, 100]);
  s.remove(10, 20);
  t.same(rangesOf(s), [
    [0, 10],
    [20, 100],
  ]);
  s.remove(0, 5);
  t.same(rangesOf(s), [
    [5, 10],
    [20, 100],
  ]);
  s.remove(90, 200);
  t.same(rangesOf(s), [
    [5, 10],
    [20, 90],
  ]);
  s.remove(8, 25);
  t.same(rangesOf(s), [
    [5, 8],
    [25, 90],
  ]);
  s.remove(0, 8);
  t.same(rangesOf(s), [[25, 90]], 'a whole range removed');
  s.remove(50, 50);
  s.remove(60, 40);
  t.same(rangesOf(s), [[25, 90]], 'empty removals change nothing');
  s.remove(0, 1000);
  t.ok(s.isEmpty);
});

t.test('removeBelow drops whole ranges and trims the first', async (t) => {
  const s = setOf([0, 5], [10, 15], [20, 25]);
  s.removeBelow(0);
  t.same(rangesOf(s), [
    [0, 5],
    [10, 15],
    [20, 25],
  ]);
  s.removeBelow(5);
  t.same(
    rangesOf(s),
    [
      [10, 15],
      [20, 25],
    ],
    'a range ending exactly at the bound goes',
  );
  s.removeBelow(12);
  t.same(rangesOf(s), [
    [12, 15],
    [20, 25],
  ]);
  s.removeBelow(17);
  t.same(rangesOf(s), [[20, 25]], 'a bound inside a gap');
  s.removeBelow(100);
  t.ok(s.isEmpty);
});

t.test('firstGap: the next missing members from a point, clipped to a limit', async (t) => {
  const s = setOf([10, 20], [30, 40]);
  t.same(s.firstGap(0, 100), { start: 0, end: 10 });
  t.same(s.firstGap(0, 5), { start: 0, end: 5 }, 'clipped to the limit');
  t.same(s.firstGap(10, 100), { start: 20, end: 30 }, 'from inside a range: after it');
  t.same(s.firstGap(15, 25), { start: 20, end: 25 });
  t.same(s.firstGap(25, 100), { start: 25, end: 30 });
  t.same(s.firstGap(35, 100), { start: 40, end: 100 }, 'past the last range: to the limit');
  t.equal(s.firstGap(12, 18), undefined, 'all covered');
  t.equal(s.firstGap(12, 20), undefined, 'limit at the range end');
  t.equal(new RangeSet().firstGap(7, 7), undefined, 'empty span');
  t.same(new RangeSet().firstGap(7, 9), { start: 7, end: 9 });
});

t.test('truncateLow keeps the highest ranges', async (t) => {
  const s = setOf([0, 1], [2, 3], [4, 5], [6, 7]);
  s.truncateLow(10);
  t.equal(s.size, 4);
  s.truncateLow(2);
  t.same(rangesOf(s), [
    [4, 5],
    [6, 7],
  ]);
  t.same(
    [...s.descending()].map((r: Range) => r.start),
    [6, 4],
    'descending order',
  );
  s.clear();
  t.ok(s.isEmpty);
});

type Op =
  | { op: 'add'; start: number; end: number }
  | { op: 'remove'; start: number; end: number }
  | { op: 'removeBelow'; value: number }
  | { op: 'truncateLow'; max: number };

const SPAN = 200;
const pairArb = fc.tuple(fc.nat({ max: SPAN }), fc.nat({ max: 40 }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: pairArb.map<Op>(([s, n]) => ({ op: 'add', start: s, end: s + n })) },
  { weight: 3, arbitrary: pairArb.map<Op>(([s, n]) => ({ op: 'remove', start: s, end: s + n })) },
  {
    weight: 1,
    arbitrary: fc.nat({ max: SPAN }).map<Op>((value) => ({ op: 'removeBelow', value })),
  },
  { weight: 1, arbitrary: fc.nat({ max: 8 }).map<Op>((max) => ({ op: 'truncateLow', max })) },
);

/** The ranges a naive set of integers forms: maximal runs of consecutive members. */
function runsOf(model: Set<number>): [number, number][] {
  const sorted = [...model].sort((a, b) => a - b);
  const runs: [number, number][] = [];
  for (const v of sorted) {
    const last = runs[runs.length - 1];
    if (last && last[1] === v) last[1] = v + 1;
    else runs.push([v, v + 1]);
  }
  return runs;
}

t.test('model: any sequence of operations agrees with a naive Set<number>', async (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), fc.nat({ max: SPAN + 50 }), (ops, probe) => {
      const s = new RangeSet();
      let model = new Set<number>();
      for (const o of ops) {
        switch (o.op) {
          case 'add': {
            let fresh = 0;
            for (let v = o.start; v < o.end; v++)
              if (!model.has(v)) {
                model.add(v);
                fresh++;
              }
            if (s.add(o.start, o.end) !== fresh) return false;
            break;
          }
          case 'remove':
            for (let v = o.start; v < o.end; v++) model.delete(v);
            s.remove(o.start, o.end);
            break;
          case 'removeBelow':
            for (const v of [...model]) if (v < o.value) model.delete(v);
            s.removeBelow(o.value);
            break;
          case 'truncateLow': {
            const runs = runsOf(model);
            const keep = runs.slice(Math.max(0, runs.length - o.max));
            model = new Set(keep.flatMap(([a, b]) => range(a, b)));
            s.truncateLow(o.max);
            break;
          }
        }
        if (JSON.stringify(rangesOf(s)) !== JSON.stringify(runsOf(model))) return false;
      }
      const [lo, hi] = [probe, probe + 25];
      let expectGap: Range | undefined;
      for (let v = lo; v < hi; v++) {
        if (model.has(v)) {
          if (expectGap) break;
        } else if (!expectGap) expectGap = { start: v, end: v + 1 };
        else expectGap.end = v + 1;
      }
      const coversExpected = range(lo, hi).every((v) => model.has(v));
      return (
        s.has(probe) === model.has(probe) &&
        s.covers(lo, hi) === coversExpected &&
        JSON.stringify(s.firstGap(lo, hi)) === JSON.stringify(expectGap)
      );
    }),
    { seed: 42, numRuns: 1500 },
  );
  t.pass('1500 random operation sequences agree with the model');
});

function range(a: number, b: number): number[] {
  return Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
}
