/**
 * A set of non-negative integers kept as sorted, disjoint, non-adjacent half-open ranges
 * `[start, end)`. It records which packet numbers were received (ACK ranges) and which stream
 * bytes arrived (reassembly). Operations are O(log n) to find and O(n) to splice, with n the
 * number of ranges, which callers bound.
 */
export interface Range {
  start: number;
  end: number;
}

export class RangeSet {
  /** Sorted by `start`; never overlapping or touching. */
  private readonly ranges: Range[] = [];

  get size(): number {
    return this.ranges.length;
  }

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  /** Smallest member, or undefined. */
  get min(): number | undefined {
    return this.ranges[0]?.start;
  }

  /** One past the largest member, or undefined. */
  get end(): number | undefined {
    return this.ranges[this.ranges.length - 1]?.end;
  }

  /**
   * The ranges in ascending order (do not modify). They are live: a later change to the set
   * may change a range object in place, so read what you need before changing the set.
   */
  get all(): readonly Range[] {
    return this.ranges;
  }

  /** The ranges in descending order. */
  *descending(): IterableIterator<Range> {
    for (let i = this.ranges.length - 1; i >= 0; i--) yield this.ranges[i]!;
  }

  has(value: number): boolean {
    const i = this.indexAfter(value) - 1;
    return i >= 0 && this.ranges[i]!.end > value;
  }

  /** Whether every member of `[start, end)` is in the set. */
  covers(start: number, end: number): boolean {
    if (end <= start) return true;
    const i = this.indexAfter(start) - 1;
    return i >= 0 && this.ranges[i]!.end >= end;
  }

  /**
   * Adds `[start, end)`. Returns how many of its members were new, so a caller can count
   * duplicate bytes without a second lookup.
   */
  add(start: number, end: number): number {
    if (end <= start) return 0;
    // First range that could touch [start, end): the last one starting at or before `start`.
    let lo = this.indexAfter(start) - 1;
    if (lo < 0 || this.ranges[lo]!.end < start) lo++;
    let hi = lo;
    let covered = 0;
    let newStart = start;
    let newEnd = end;
    while (hi < this.ranges.length && this.ranges[hi]!.start <= end) {
      const r = this.ranges[hi]!;
      covered += Math.max(0, Math.min(r.end, end) - Math.max(r.start, start));
      if (r.start < newStart) newStart = r.start;
      if (r.end > newEnd) newEnd = r.end;
      hi++;
    }
    // Growing one range (the common case: data or packet numbers arriving in order) changes
    // it in place: no allocation on the packet path.
    if (hi > lo) {
      const r = this.ranges[lo]!;
      r.start = newStart;
      r.end = newEnd;
      if (hi - lo > 1) this.ranges.splice(lo + 1, hi - lo - 1);
    } else this.ranges.splice(lo, 0, { start: newStart, end: newEnd });
    return end - start - covered;
  }

  /** Removes every member below `value`. */
  removeBelow(value: number): void {
    let drop = 0;
    while (drop < this.ranges.length && this.ranges[drop]!.end <= value) drop++;
    if (drop > 0) this.ranges.splice(0, drop);
    const first = this.ranges[0];
    if (first && first.start < value) first.start = value;
  }

  /** Removes `[start, end)`. Allocates nothing when no member is in it. */
  remove(start: number, end: number): void {
    if (end <= start) return;
    let lo = Math.max(0, this.indexAfter(start) - 1);
    while (lo < this.ranges.length && this.ranges[lo]!.end <= start) lo++;
    let hi = lo;
    while (hi < this.ranges.length && this.ranges[hi]!.start < end) hi++;
    if (hi === lo) return;
    const first = this.ranges[lo]!;
    const last = this.ranges[hi - 1]!;
    const keepLeft = first.start < start;
    const keepRight = last.end > end;
    if (keepLeft && keepRight && hi - lo === 1) {
      // Cut one range in two.
      this.ranges.splice(lo + 1, 0, { start: end, end: first.end });
      first.end = start;
      return;
    }
    // The ranges that overlap shrink in place; those wholly inside go.
    if (keepLeft) {
      first.end = start;
      lo++;
    }
    if (keepRight) {
      last.start = end;
      hi--;
    }
    if (hi > lo) this.ranges.splice(lo, hi - lo);
  }

  /** Drops the lowest ranges until at most `max` remain. */
  truncateLow(max: number): void {
    if (this.ranges.length > max) this.ranges.splice(0, this.ranges.length - max);
  }

  /** The first gap at or after `from`, clipped to `limit`: the next missing members. */
  firstGap(from: number, limit: number): Range | undefined {
    let at = from;
    const i = this.indexAfter(from) - 1;
    if (i >= 0 && this.ranges[i]!.end > at) at = this.ranges[i]!.end;
    if (at >= limit) return undefined;
    const next = this.ranges[this.indexAfter(at)];
    return { start: at, end: Math.min(limit, next ? next.start : limit) };
  }

  clear(): void {
    this.ranges.length = 0;
  }

  /** Index of the first range whose start is greater than `value`. */
  private indexAfter(value: number): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid]!.start <= value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
