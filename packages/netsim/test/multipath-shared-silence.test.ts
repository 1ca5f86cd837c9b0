import t, { type Test } from 'tap';
import type { LinkIndex, MultipathResult } from '@braid/netsim';
import { firstEvent, holds, inOrder, multipath, pathOnLink, trail } from './support/multipath.js';

// A path that is suspected and then acknowledged again was a false alarm, and its suspicion
// threshold doubles (docs/multipath.md). When every path falls silent at once, the silence was
// the peer's (a stalled process) and no path's: no threshold grows, so a real blackhole of a
// path soon after is still found after one probe timeout.

const PAUSE_AT_MS = 1_000;
const PAUSE_MS = 200; // past both paths' probe timeouts, well before pathDownAfterMs (1 s)
const CUT_AT_MS = 2_500; // within SUSPECT_FACTOR_DECAY_MS (10 s) of the pause

/** Both links (`both`), link 0 alone (`lone`) or nothing (`none`) silent for a while; then link 0 cut. */
function run(pause: 'both' | 'lone' | 'none'): Promise<MultipathResult> {
  return multipath({
    scenario: 'aggregate',
    onePathBaseline: false,
    bytes: 8_000_000,
    attach({ sim, topo }) {
      const links: LinkIndex[] = pause === 'both' ? [0, 1] : pause === 'lone' ? [0] : [];
      sim.at(PAUSE_AT_MS, () => links.forEach((l) => topo.setBlackhole(l, true)));
      sim.at(PAUSE_AT_MS + PAUSE_MS, () => links.forEach((l) => topo.setBlackhole(l, false)));
      sim.at(CUT_AT_MS, () => topo.setBlackhole(0, true));
    },
  });
}

/** From the cut to A's suspicion of its link-0 path, ms. */
function detectMs(t: Test, r: MultipathResult): number {
  const p = pathOnLink(r, 0);
  const e = firstEvent(r, 'a', `${p}:suspect`, CUT_AT_MS);
  t.ok(e, 'the cut path was suspected');
  return (e?.atMs ?? Infinity) - CUT_AT_MS;
}

t.test(
  'every path silent at once is no false alarm: a later blackhole is found as fast as without it',
  async (t) => {
    const [both, lone, none] = await Promise.all([run('both'), run('lone'), run('none')]);
    for (const r of [both, lone, none]) holds(t, r);
    const p0 = pathOnLink(both, 0);
    const p1 = pathOnLink(both, 1);
    const paused = trail(both, 'a', PAUSE_AT_MS).slice(0, 8);
    t.ok(
      inOrder(paused, [`${p0}:suspect`, `${p0}:up`]) &&
        inOrder(paused, [`${p1}:suspect`, `${p1}:up`]),
      `both paths were suspected in the pause and came back (${paused.join(', ')})`,
    );
    const pausedLone = trail(lone, 'a', PAUSE_AT_MS).slice(0, 4);
    t.ok(
      inOrder(pausedLone, [`${pathOnLink(lone, 0)}:suspect`, `${pathOnLink(lone, 0)}:up`]),
      `link 0 alone: its path was suspected and came back (${pausedLone.join(', ')})`,
    );
    const clean = detectMs(t, none);
    const afterBoth = detectMs(t, both);
    const afterLone = detectMs(t, lone);
    t.ok(afterBoth <= clean * 1.25, `after a shared pause: ${afterBoth} ms, clean: ${clean} ms`);
    t.ok(
      afterLone >= clean * 1.6,
      `after a false alarm of that path alone its threshold doubled: ${afterLone} ms, clean: ${clean} ms`,
    );
  },
);
