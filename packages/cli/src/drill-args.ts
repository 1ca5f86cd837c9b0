/**
 * `braid drill`'s options: parsers for sizes, rates and seconds, and the check that the options
 * make one coherent drill. Each failure is a {@link UsageError} (exit status 2) saying which
 * option is wrong and why.
 */
import { UsageError } from './errors.js';

export const DRILL_FAULTS = ['blackhole', 'down', 'flap'] as const;
export type DrillFault = (typeof DRILL_FAULTS)[number];

/** Longest drill: the transfer, and so every time option, stays under an hour. */
export const DRILL_SECONDS_MAX = 3600;
/** Largest `--bytes` (the peer's own `drill.maxBytes` may be lower). */
export const DRILL_BYTES_MAX = 2 ** 50;
/** Largest `--rate` (bytes/s): 100 GB/s, beyond any link. */
export const DRILL_RATE_MAX = 100e9;
/** Most down/up cycles of `--fault flap`. */
export const DRILL_FLAPS_MAX = 100;
/** Shortest fault, and shortest half-cycle of a flap: below a path's probe timers it is noise. */
export const DRILL_FAULT_MS_MIN = 100;

export const DRILL_SECONDS_DEFAULT = 10;
export const DRILL_FAULT_AT_DEFAULT_S = 3;
export const DRILL_FAULT_FOR_DEFAULT_S = 3;
/** 5 MB/s (40 Mbit/s): a drill on a production link leaves room for real traffic. */
export const DRILL_RATE_DEFAULT = 5_000_000;
export const DRILL_FLAPS_DEFAULT = 3;

export interface DrillPlan {
  fault: DrillFault;
  /** The path to fault; default: the one carrying the most data at the fault. */
  pathId: number | undefined;
  /** Send exactly this many bytes; or, when undefined, for {@link durationMs}. */
  bytes: number | undefined;
  durationMs: number | undefined;
  /** Pacing; 0 = as fast as the session goes. */
  rateBytesPerSecond: number;
  /** From the first byte sent. */
  faultAtMs: number;
  faultForMs: number;
  /** Down/up cycles of `flap`. */
  flaps: number;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/**
 * A byte count or rate: a number with an optional SI (`k`, `M`, `G`, `T`: powers of 1000) or
 * binary (`Ki`, `Mi`, `Gi`, `Ti`) prefix and an optional `B` (and `/s` for rates): `64M`,
 * `1.5GB`, `512KiB`, `10MB/s`.
 */
export function parseByteSize(name: string, min: number, max: number, rate = false) {
  return (text: string): number => {
    const m = /^(\d+(?:\.\d+)?)\s*([kKMGT]i?)?B?$/.exec(
      rate ? text.trim().replace(/\/s$/, '') : text.trim(),
    );
    const unit = SIZE_UNITS[m?.[2] ?? ''];
    const value = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max)
      throw new UsageError(
        `bad ${name} "${text}": expected ${rate ? 'bytes per second' : 'a byte count'} in [${min}, ${max}], e.g. ${rate ? '5M (5 MB/s) or 0 (unpaced)' : '64M or 1GiB'}`,
      );
    return value;
  };
}

/** Seconds as a decimal number in [min, max], returned in whole milliseconds. */
export function parseSeconds(name: string, min: number, max: number) {
  return (text: string): number => {
    const s = Number(text.trim());
    if (!/^\d+(\.\d+)?$/.test(text.trim()) || !Number.isFinite(s) || s < min || s > max)
      throw new UsageError(`bad ${name} "${text}": expected seconds in [${min}, ${max}]`);
    return Math.round(s * 1000);
  };
}

export interface DrillCommandOptions {
  fault: string;
  path?: number;
  bytes?: number;
  seconds?: number;
  rate: number;
  faultAt: number;
  faultFor: number;
  flaps: number;
}

/** Checks that the options describe one drill; the times it needs to fit in the transfer. */
export function planDrill(opts: DrillCommandOptions): DrillPlan {
  if (!(DRILL_FAULTS as readonly string[]).includes(opts.fault))
    throw new UsageError(`bad --fault "${opts.fault}": expected one of ${DRILL_FAULTS.join(', ')}`);
  const fault = opts.fault as DrillFault;
  if (opts.bytes !== undefined && opts.seconds !== undefined)
    throw new UsageError('give --bytes or --seconds, not both');
  if (opts.faultFor < DRILL_FAULT_MS_MIN)
    throw new UsageError(`--fault-for must be at least ${DRILL_FAULT_MS_MIN / 1000} s`);
  if (fault === 'flap' && opts.faultFor / opts.flaps / 2 < DRILL_FAULT_MS_MIN)
    throw new UsageError(
      `--fault-for ${opts.faultFor / 1000} s is too short for ${opts.flaps} flaps: each down and each up lasts at least ${DRILL_FAULT_MS_MIN / 1000} s`,
    );
  if (opts.flaps !== DRILL_FLAPS_DEFAULT && fault !== 'flap')
    throw new UsageError('--flaps applies to --fault flap only');
  const durationMs =
    opts.bytes === undefined ? (opts.seconds ?? DRILL_SECONDS_DEFAULT * 1000) : undefined;
  if (durationMs !== undefined && opts.faultAt + opts.faultFor >= durationMs)
    throw new UsageError(
      `the fault must end before the transfer does: --fault-at ${opts.faultAt / 1000} s + --fault-for ${
        opts.faultFor / 1000
      } s is not less than --seconds ${durationMs / 1000}`,
    );
  if (opts.bytes !== undefined && opts.rate > 0) {
    const transferMs = (opts.bytes / opts.rate) * 1000;
    if (transferMs <= opts.faultAt)
      throw new UsageError(
        `--bytes ${opts.bytes} at --rate ${opts.rate} B/s takes about ${(transferMs / 1000).toFixed(1)} s, over before --fault-at ${
          opts.faultAt / 1000
        } s: send more bytes, lower the rate, or fault earlier`,
      );
  }
  return {
    fault,
    pathId: opts.path,
    bytes: opts.bytes,
    durationMs,
    rateBytesPerSecond: opts.rate,
    faultAtMs: opts.faultAt,
    faultForMs: opts.faultFor,
    flaps: opts.flaps,
  };
}
