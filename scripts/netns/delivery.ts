/**
 * What a receiver's delivery timeline says about a failover: the longest stall, the time until
 * goodput is back to half its rate before the fault, and the goodput over a span.
 *
 * A timeline is what the lab peers report: `[bucket, bytes]` pairs, a bucket being
 * CLOCK_MONOTONIC milliseconds divided by {@link BUCKET_MS} and floored, holding the bytes the
 * application read in it. Buckets without data are absent.
 */

export const BUCKET_MS = 10;
/** The span before the fault whose goodput is "the rate". */
export const RATE_BEFORE_MS = 1_000;
/** The sliding window in which goodput must be back to half the rate. */
export const RECOVERY_WINDOW_MS = 50;

export type Timeline = readonly (readonly [bucket: number, bytes: number])[];

export interface FailoverFigures {
  /**
   * Longest gap in delivery after the fault, to the bucket: the largest distance between two
   * consecutive delivering buckets (or the last one before the fault and the first after it),
   * in ms. Steady delivery gives {@link BUCKET_MS}; 0 when nothing came after the fault.
   */
  stallMs: number;
  /** Goodput over the {@link RATE_BEFORE_MS} before the fault, bits per second. */
  rateBeforeBps: number;
  /**
   * From the fault to the end of the first {@link RECOVERY_WINDOW_MS} window, lying wholly
   * after the fault, whose goodput is at least half `rateBeforeBps`; null if none was.
   */
  halfRateMs: number | null;
}

/** Parses and checks a timeline from a peer's `done` message. */
export function toTimeline(value: unknown): Timeline {
  if (!Array.isArray(value)) throw new TypeError('timeline: not an array');
  let previous = -Infinity;
  return value.map((entry: unknown) => {
    if (
      !Array.isArray(entry) ||
      entry.length !== 2 ||
      !Number.isSafeInteger(entry[0]) ||
      !Number.isSafeInteger(entry[1]) ||
      (entry[1] as number) <= 0
    )
      throw new TypeError(`timeline: bad entry ${JSON.stringify(entry)}`);
    const [bucket, bytes] = entry as [number, number];
    if (bucket <= previous) throw new TypeError('timeline: buckets not strictly increasing');
    previous = bucket;
    return [bucket, bytes] as const;
  });
}

export function failoverFigures(timeline: Timeline, faultMs: number): FailoverFigures {
  const faultBucket = Math.floor(faultMs / BUCKET_MS);
  const bytes = new Map(timeline);
  const last = timeline.length > 0 ? timeline[timeline.length - 1]![0] : faultBucket;

  let stallBuckets = 0;
  let previous: number | undefined;
  for (const [bucket] of timeline) {
    if (previous !== undefined && bucket > faultBucket)
      stallBuckets = Math.max(stallBuckets, bucket - previous);
    previous = bucket;
  }

  const beforeBuckets = RATE_BEFORE_MS / BUCKET_MS;
  let before = 0;
  for (let b = faultBucket - beforeBuckets; b < faultBucket; b++) before += bytes.get(b) ?? 0;
  const rateBeforeBps = (before * 8 * 1000) / RATE_BEFORE_MS;

  const windowBuckets = RECOVERY_WINDOW_MS / BUCKET_MS;
  const needBytes = ((rateBeforeBps / 2) * RECOVERY_WINDOW_MS) / 1000 / 8;
  let halfRateMs: number | null = null;
  // The window [start, start + windowBuckets) slides from the bucket after the fault's.
  let inWindow = 0;
  for (let b = faultBucket + 1; b <= last; b++) {
    inWindow += bytes.get(b) ?? 0;
    if (b - windowBuckets >= faultBucket + 1) inWindow -= bytes.get(b - windowBuckets) ?? 0;
    if (b - faultBucket >= windowBuckets && inWindow >= needBytes && needBytes > 0) {
      halfRateMs = (b + 1) * BUCKET_MS - faultMs;
      break;
    }
  }
  return { stallMs: stallBuckets * BUCKET_MS, rateBeforeBps, halfRateMs };
}

/** Goodput from the first to the last delivering bucket (inclusive), bits per second. */
export function goodputBps(timeline: Timeline): number {
  if (timeline.length === 0) return 0;
  const total = timeline.reduce((sum, [, b]) => sum + b, 0);
  const spanMs = (timeline[timeline.length - 1]![0] - timeline[0]![0] + 1) * BUCKET_MS;
  return (total * 8 * 1000) / spanMs;
}
