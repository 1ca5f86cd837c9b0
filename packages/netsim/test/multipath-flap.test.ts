import t, { type Test } from 'tap';
import type { MultipathResult } from '@braid/netsim';
import { holds, inOrder, multipath, pathOnLink, trail } from './support/multipath.js';

/**
 * Checks that every outage of `link` that ended well before the transfer did was a
 * suspect → down → recovered cycle of A's path there; returns how many were checked.
 */
function cycles(t: Test, r: MultipathResult, link: number): number {
  const p = pathOnLink(r, link);
  const downs = r.script.filter((s) => s.what === `link ${link} down (flap)`);
  const ups = r.script.filter((s) => s.what === `link ${link} up (flap)`);
  let checked = 0;
  downs.forEach((down, i) => {
    const up = ups[i];
    // Recovery takes up to the probe backoff cap (1 s) plus a round trip after the link is back.
    if (!up || up.atMs + 1_500 > r.virtualMs) return;
    const window = r.events
      .filter((e) => e.side === 'a' && e.atMs >= down.atMs && e.atMs <= up.atMs + 1_500)
      .map((e) => (e.type === 'path' ? `${e.pathId}:${e.change}` : e.type));
    t.ok(
      inOrder(window, [`${p}:suspect`, `${p}:down`, `${p}:recovered`]),
      `link ${link} down at ${Math.round(down.atMs)} ms: ${window.join(', ')}`,
    );
    checked++;
  });
  return checked;
}

t.test(
  'one path up 5 s, down 2 s, over and over: every outage is a suspect, down, recovered cycle',
  async (t) => {
    const r = await multipath({ scenario: 'flap', bytes: 14_000_000 });
    holds(t, r);
    t.ok(cycles(t, r, 0) >= 2, 'at least two outages during the transfer');
    t.notOk(trail(r, 'a').includes(`${pathOnLink(r, 1)}:down`), 'the other path never went down');
  },
);

t.test(
  'both paths flapping in turn (never both down): each outage handled, never suspended',
  async (t) => {
    const r = await multipath({ scenario: 'flap-alternate', bytes: 14_000_000 });
    holds(t, r);
    t.ok(cycles(t, r, 0) >= 1, 'link 0 went down and came back');
    t.ok(cycles(t, r, 1) >= 1, 'link 1 went down and came back');
    t.notOk(trail(r, 'a').includes('suspended'), 'one path was always up');
  },
);
