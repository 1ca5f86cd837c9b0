/**
 * Waiting for a new session's paths to settle: the daemon validates the candidate paths one by
 * one after the handshake, so a command that acts on "every path" right away sees only the
 * first. Shared by `braid ping` and `braid drill`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PathStats } from '@braid/protocol';
import type { BraidSession } from './client-api.js';

/** Time between two looks at the session's paths. */
const SETTLE_POLL_MS = 50;

export interface SettleOptions {
  signal: AbortSignal | undefined;
  /** The longest wait; the paths as they are then are returned. */
  maxWaitMs: number;
  /** Looks in a row without a new path, none validating, that count as settled. */
  quietPolls: number;
  /** Enough for the caller already (checked only while none is validating). */
  enough?: (paths: readonly PathStats[]) => boolean;
}

/**
 * Polls the session's paths until none is validating and either no new one appeared for
 * `quietPolls` looks or `enough` says so, or until `maxWaitMs` passed; returns the last look.
 */
export async function settlePaths(
  session: BraidSession,
  options: SettleOptions,
): Promise<PathStats[]> {
  const deadline = performance.now() + options.maxWaitMs;
  let count = -1;
  let quiet = 0;
  for (;;) {
    const paths = await session.paths({ signal: options.signal });
    quiet = paths.length === count ? quiet + 1 : 0;
    count = paths.length;
    const validating = paths.some((p) => p.status === 'validating');
    const settled =
      !validating && (quiet >= options.quietPolls || options.enough?.(paths) === true);
    if (settled || performance.now() > deadline) return paths;
    await sleep(SETTLE_POLL_MS, undefined, { signal: options.signal });
  }
}
