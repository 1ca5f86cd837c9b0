/**
 * A whole two-path fault configuration derived from one seed (the multipath seed sweep, and
 * `pnpm sim -- --scenario random --seed N`): each link's delay, jitter, loss (some bursty),
 * duplication, rate and queue, and its flaps (both links may be down at once, which suspends
 * the session); whether A is behind a NAT, and when it rebinds; the scheduler, who sends, how
 * much, and whether the stream is redundant. Faults stop at {@link MP_SWEEP_HEAL_AT_MS}; the
 * transfer must then complete (liveness).
 */
import { createSeededRandom, type SchedulerName } from '@braid/protocol';
import { gilbertElliottFromMeanLoss, type LinkOptions } from '../link.js';
import type { Side } from './multipath-node.js';

/** Faults stop here; the run then has the rest of its time to finish. */
export const MP_SWEEP_HEAL_AT_MS = 20_000;
export const MP_SWEEP_MAX_VIRTUAL_MS = 300_000;

export interface LinkFlap {
  periodMs: number;
  downMs: number;
  offsetMs: number;
}

export interface RandomMultipath {
  links: [LinkOptions, LinkOptions];
  flaps: [LinkFlap | undefined, LinkFlap | undefined];
  /** A is behind a NAT that rebinds both its mappings at these times (none: no NAT). */
  rebindAtMs: number[];
  healAtMs: number;
  bytes: number;
  scheduler: SchedulerName;
  sender: Side;
  redundant: boolean;
  pattern: 'xx' | 'ik';
}

export function randomMultipath(seed: number): RandomMultipath {
  const r = createSeededRandom((seed ^ 0x3a7b_2c01) >>> 0);
  const chance = (p: number) => r.nextFloat() < p;
  const between = (lo: number, hi: number) => lo + r.nextFloat() * (hi - lo);
  const link = (): LinkOptions => {
    const loss = chance(0.6) ? between(0, 0.2) : 0;
    return {
      delayMs: between(1, 150),
      jitterMs: chance(0.3) ? between(0, 20) : 0,
      ...(chance(0.3)
        ? {
            gilbertElliott: gilbertElliottFromMeanLoss({
              lossRate: Math.max(loss, 0.01),
              meanBurstLength: between(1, 6),
            }),
          }
        : { loss }),
      duplicate: chance(0.2) ? between(0, 0.2) : 0,
      reorder: chance(0.2) ? between(0, 0.2) : 0,
      reorderDelayMs: between(1, 30),
      ...(chance(0.5)
        ? { rateBps: between(1e6, 50e6), queuePackets: Math.floor(between(8, 128)) }
        : {}),
    };
  };
  const flap = (): LinkFlap | undefined => {
    if (!chance(0.5)) return undefined;
    const periodMs = Math.floor(between(1_500, 7_000));
    return {
      periodMs,
      downMs: Math.floor(between(100, Math.min(3_000, 0.6 * periodMs))),
      offsetMs: Math.floor(between(0, 5_000)),
    };
  };
  const links: [LinkOptions, LinkOptions] = [link(), link()];
  const flaps: [LinkFlap | undefined, LinkFlap | undefined] = [flap(), flap()];
  const rebinds = chance(0.3) ? 1 + Math.floor(r.nextFloat() * 3) : 0;
  const rebindAtMs = Array.from({ length: rebinds }, () =>
    Math.floor(between(0, MP_SWEEP_HEAL_AT_MS)),
  ).sort((x, y) => x - y);
  return {
    links,
    flaps,
    rebindAtMs,
    healAtMs: MP_SWEEP_HEAL_AT_MS,
    bytes: Math.floor(between(16 * 1024, 512 * 1024)),
    scheduler: chance(0.7) ? 'aggregate' : 'active-backup',
    sender: chance(0.7) ? 'a' : 'b',
    redundant: chance(0.15),
    pattern: chance(0.5) ? 'ik' : 'xx',
  };
}
