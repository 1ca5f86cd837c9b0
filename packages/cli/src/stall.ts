/** The stall measurement of the demo and the benchmarks: 10 ms buckets (the unit). */
export const STALL_BUCKET_MS = 10;

/**
 * The longest gap in delivered bytes: the longest run of empty `bucketMs` buckets between the
 * first and the last bucket that received bytes. Fed in time order (one receiver's monotonic
 * clock), it keeps O(1) state however long the transfer.
 */
export class StallMeter {
  readonly bucketMs: number;
  private lastBucket: number | undefined;
  private longestBuckets = 0;
  private longestFromBucket: number | undefined;

  constructor(bucketMs = STALL_BUCKET_MS) {
    if (!(bucketMs > 0)) throw new RangeError(`bucketMs must be positive, got ${bucketMs}`);
    this.bucketMs = bucketMs;
  }

  /** Bytes delivered at `atMs` (monotonic ms). Records of 0 bytes count as nothing. */
  record(atMs: number, bytes: number): void {
    if (bytes <= 0) return;
    const bucket = Math.floor(atMs / this.bucketMs);
    if (this.lastBucket !== undefined && bucket > this.lastBucket) {
      const gap = bucket - this.lastBucket - 1;
      if (gap > this.longestBuckets) {
        this.longestBuckets = gap;
        this.longestFromBucket = this.lastBucket + 1;
      }
    }
    if (this.lastBucket === undefined || bucket > this.lastBucket) this.lastBucket = bucket;
  }

  /**
   * Starts the measurement at `atMs` as if bytes had arrived then: the wait for the first
   * delivery after it counts as a gap (the stall after a failure begins at the failure).
   */
  mark(atMs: number): void {
    const bucket = Math.floor(atMs / this.bucketMs);
    if (this.lastBucket === undefined || bucket > this.lastBucket) this.lastBucket = bucket;
  }

  /** The longest gap, in ms (a multiple of the bucket width). */
  get stallMs(): number {
    return this.longestBuckets * this.bucketMs;
  }

  /** Where the longest gap began (ms, on the clock of `record`), if there was one. */
  get stallFromMs(): number | undefined {
    return this.longestFromBucket === undefined
      ? undefined
      : this.longestFromBucket * this.bucketMs;
  }
}
