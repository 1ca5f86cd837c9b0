/**
 * Which paths carry data (docs/protocol.md §Scheduling). A strategy orders the paths a packet
 * of stream data may take; the session then sends on the first whose congestion window and
 * pacer allow. Redundant streams are not scheduled here: every copy of their data goes on every
 * path this returns.
 *
 * - `aggregate` (default): every active path, lowest smoothed RTT first, so the fastest path
 *   fills its window and the others add what they can.
 * - `active-backup`: one path, kept while it is usable (no flapping between two good paths);
 *   the lowest-RTT active path when it is not.
 *
 * Either way, standby paths are used only when no active path is, and a suspect path only
 * when nothing else is left (a lone path keeps sending while it is probed, as a single-path
 * session would).
 */
import type { Locator } from '../session.js';
import type { Path } from './path.js';

export type SchedulerName = 'aggregate' | 'active-backup';
export const SCHEDULERS: readonly SchedulerName[] = ['aggregate', 'active-backup'];

/** The paths data may use now, in the order to try them, in `out` (emptied first) if given. */
export function dataPaths(
  paths: readonly Path[],
  strategy: SchedulerName,
  current: Path | undefined,
  out: Path[] = [],
): Path[] {
  // The best class present first (active, else standby, else suspect), then only it is
  // collected, into `out` (a caller that asks for every packet passes the same array).
  out.length = 0;
  let best = STANDING_NONE;
  for (const p of paths) if (p.remoteCid) best = Math.min(best, standing(p));
  if (best === STANDING_NONE) return out;
  for (const p of paths) if (p.remoteCid && standing(p) === best) out.push(p);
  if (out.length > 1) out.sort(byRtt);
  if (strategy === 'active-backup' && out.length > 1) {
    const keep = current && out.includes(current) ? current : out[0]!;
    out.length = 0;
    out.push(keep);
  }
  return out;
}

const STANDING_NONE = 3;

/** 0 active, 1 standby, 2 suspect; {@link STANDING_NONE} for a path that carries no data. */
function standing(p: Path): number {
  return p.status === 'active'
    ? 0
    : p.status === 'standby'
      ? 1
      : p.status === 'suspect'
        ? 2
        : STANDING_NONE;
}

function byRtt(a: Path, b: Path): number {
  return a.recovery.rtt.smoothedMs - b.recovery.rtt.smoothedMs || a.id - b.id;
}

/**
 * The default path filter: a pair is tried only if both locators are of the same family, as
 * far as their text tells (`[v6]:port` or `v4:port`); other forms are always paired.
 */
export function compatibleLocators(local: Locator, remote: Locator): boolean {
  const fl = family(local);
  const fr = family(remote);
  return fl === undefined || fr === undefined || fl === fr;
}

function family(locator: Locator): 4 | 6 | undefined {
  if (locator.startsWith('[')) return 6;
  if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(locator)) return 4;
  return undefined;
}

/** The host part of `host:port` or `[v6]:port` (the whole text when it has no port). */
export function locatorHost(locator: Locator): string {
  const i = locator.lastIndexOf(':');
  return i > 0 && !locator.endsWith(']') ? locator.slice(0, i) : locator;
}
