import t from 'tap';
import fc from 'fast-check';
import { ReplayWindow, REPLAY_WINDOW_PACKETS } from '@braid/protocol';

// The table of WireGuard's counter self-test (drivers/net/wireguard/selftest/counter.c),
// re-expressed against this window: W is the window size, LIMIT the reject-after limit.
const W = REPLAY_WINDOW_PACKETS;
const T_LIM = W + 1;
const LIMIT = 2 ** 40;

type Step = [packetNumber: number, accepted: boolean];

const table: Step[] = [
  [0, true],
  [1, true],
  [1, false],
  [9, true],
  [8, true],
  [7, true],
  [7, false],
  [T_LIM, true],
  [T_LIM - 1, true],
  [T_LIM - 1, false],
  [T_LIM - 2, true],
  [2, true],
  [2, false],
  [T_LIM + 16, true],
  [3, false],
  [T_LIM + 16, false],
  [T_LIM * 4, true], // a jump of four windows
  [T_LIM * 4 - (T_LIM - 1), true],
  [10, false],
  [T_LIM * 4 - T_LIM, false],
  [T_LIM * 4 - (T_LIM + 1), false],
  [T_LIM * 4 - (T_LIM - 2), true],
  [T_LIM * 4 + 1 - T_LIM, false],
  [0, false],
  [LIMIT, false], // counter limits
  [LIMIT - 1, true],
  [LIMIT, false],
  [LIMIT - 1, false],
  [LIMIT - 2, true],
  [LIMIT + 1, false],
  [LIMIT + 2, false],
  [LIMIT - 2, false],
  [LIMIT - 3, true],
  [0, false],
];

/** Runs the steps on a fresh window; returns one line per step that did not go as expected. */
function mismatches(steps: Step[]): string[] {
  const window = new ReplayWindow(LIMIT);
  const out: string[] = [];
  steps.forEach(([pn, expected], i) => {
    const got = window.accept(pn);
    if (got !== expected)
      out.push(`step ${i + 1}: packet ${pn} accepted=${got}, expected ${expected}`);
  });
  return out;
}

t.test('WireGuard counter table: duplicates, window edges, jumps, limits', async (t) => {
  t.same(mismatches(table), [], 'table');
});

t.test('bulk: ascending fill of the whole window, then its lower edge', async (t) => {
  const steps: Step[] = [];
  for (let i = 1; i <= W; i++) steps.push([i, true]);
  steps.push([0, true], [0, false]);
  t.same(mismatches(steps), [], 'bulk 1');
  const steps2: Step[] = [];
  for (let i = 2; i <= W + 1; i++) steps2.push([i, true]);
  steps2.push([1, true], [0, false]);
  t.same(mismatches(steps2), [], 'bulk 2');
});

t.test('bulk: descending fill across the window edge', async (t) => {
  const s3: Step[] = [];
  for (let i = W + 1; i-- > 0;) s3.push([i, true]);
  t.same(mismatches(s3), [], 'bulk 3');
  const s4: Step[] = [];
  for (let i = W + 2; i-- > 1;) s4.push([i, true]);
  s4.push([0, false]);
  t.same(mismatches(s4), [], 'bulk 4');
  const s5: Step[] = [];
  for (let i = W + 1; i-- > 1;) s5.push([i, true]);
  s5.push([W + 1, true], [0, false]);
  t.same(mismatches(s5), [], 'bulk 5');
  const s6: Step[] = [];
  for (let i = W + 1; i-- > 1;) s6.push([i, true]);
  s6.push([0, true], [W + 1, true]);
  t.same(mismatches(s6), [], 'bulk 6');
});

t.test('check() never records; negative, fractional and unsafe numbers are refused', async (t) => {
  const window = new ReplayWindow();
  t.ok(window.check(5));
  t.ok(window.check(5), 'still acceptable after check');
  t.ok(window.accept(5));
  t.notOk(window.check(5));
  t.notOk(window.accept(-1));
  t.notOk(window.accept(1.5));
  t.notOk(window.accept(Number.MAX_SAFE_INTEGER + 2));
  t.equal(window.largest, 5);
});

t.test('property: matches an exact set model within the window', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.nat({ max: 6 * W }), { maxLength: 400 }), (pns) => {
      const window = new ReplayWindow();
      const seen = new Set<number>();
      let top = -1;
      for (const pn of pns) {
        const expected = !seen.has(pn) && pn + REPLAY_WINDOW_PACKETS >= top;
        const got = window.accept(pn);
        // The window may refuse an old packet the exact model would take (it forgets), but it
        // must never accept a duplicate or anything the model refuses.
        if (got && !expected) return false;
        if (!got && expected && pn > top - REPLAY_WINDOW_PACKETS + 32) return false;
        if (got) {
          seen.add(pn);
          top = Math.max(top, pn);
        }
      }
      return true;
    }),
    { seed: 42, numRuns: 300 },
  );
  t.pass('no duplicate accepted, nothing inside the window wrongly refused');
});
