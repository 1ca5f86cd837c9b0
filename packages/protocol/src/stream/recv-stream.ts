/**
 * The receiving half of a stream (RFC 9000 §3.2): reassembles STREAM frames that arrive out of
 * order or twice, hands bytes to the application in order and exactly once, and enforces the
 * flow-control limit it advertised and the final size. Buffered bytes never exceed the limit.
 */
import { CloseCode } from '../errors.js';
import { RangeSet } from '../range-set.js';

/** A violation by the peer: the session closes with `code`. */
export class StreamViolation {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {}
}

export interface ReadResult {
  data: Uint8Array;
  /** True when this read reached the end of the stream. */
  fin: boolean;
}

export class RecvStream {
  /** The next byte the application reads. */
  readOffset = 0;
  /** One past the highest byte received (counts against session flow control). */
  highest = 0;
  /** The limit we advertised. */
  maxData: number;
  finalSize: number | undefined;
  resetCode: number | undefined;
  /** The application saw the end (FIN read, or the reset reported). */
  finished = false;
  /** Bytes received more than once (duplicates and overlaps). */
  duplicateBytes = 0;
  /** The application asked the peer to stop (STOP_SENDING) with this code. */
  stopCode: number | undefined;
  stopPending = false;

  private readonly received = new RangeSet();
  /** Received, unread pieces: disjoint and sorted by offset. */
  private readonly pieces: { offset: number; data: Uint8Array }[] = [];

  constructor(
    readonly id: number,
    /** The receive window: grows (auto-tuning) up to `windowMax`, never shrinks. */
    public window: number,
  ) {
    this.maxData = window;
  }

  /** Bytes ready to read in order. */
  get readable(): number {
    const first = this.received.all[0];
    return first && first.start <= this.readOffset ? first.end - this.readOffset : 0;
  }

  /** Whether a read would return something (data, the end, or a reset). */
  get hasNews(): boolean {
    if (this.finished) return false;
    if (this.resetCode !== undefined) return true;
    return this.readable > 0 || this.finalSize === this.readOffset;
  }

  /**
   * A STREAM frame. Returns the growth of `highest` (for session flow control), or the
   * violation to close the session with.
   */
  onData(offset: number, data: Uint8Array, fin: boolean): number | StreamViolation {
    const end = offset + data.length;
    if (end > this.maxData)
      return new StreamViolation(
        CloseCode.FLOW_CONTROL_ERROR,
        `stream ${this.id}: data to ${end} beyond the limit ${this.maxData}`,
      );
    if (this.finalSize !== undefined && (end > this.finalSize || (fin && end !== this.finalSize)))
      return new StreamViolation(
        CloseCode.FINAL_SIZE_ERROR,
        `stream ${this.id}: data to ${end} beyond the final size ${this.finalSize}`,
      );
    if (fin) {
      if (end < this.highest)
        return new StreamViolation(
          CloseCode.FINAL_SIZE_ERROR,
          `stream ${this.id}: final size ${end} below bytes already received (${this.highest})`,
        );
      this.finalSize = end;
    }
    const grew = Math.max(0, end - this.highest);
    this.highest = Math.max(this.highest, end);
    if (this.resetCode !== undefined || this.stopCode !== undefined) return grew;
    // Keep only the parts not yet received (and not yet read).
    let at = Math.max(offset, this.readOffset);
    this.duplicateBytes += at - offset;
    while (at < end) {
      const gap = this.received.firstGap(at, end);
      if (!gap) {
        this.duplicateBytes += end - at;
        break;
      }
      this.duplicateBytes += gap.start - at;
      this.insert(gap.start, data.subarray(gap.start - offset, gap.end - offset));
      this.received.add(gap.start, gap.end);
      at = gap.end;
    }
    return grew;
  }

  /** RESET_STREAM: returns the growth of `highest`, or a violation. */
  onReset(code: number, finalSize: number): number | StreamViolation {
    if ((this.finalSize !== undefined && finalSize !== this.finalSize) || finalSize < this.highest)
      return new StreamViolation(
        CloseCode.FINAL_SIZE_ERROR,
        `stream ${this.id}: reset with final size ${finalSize}, known ${this.finalSize ?? this.highest}`,
      );
    if (finalSize > this.maxData)
      return new StreamViolation(
        CloseCode.FLOW_CONTROL_ERROR,
        `stream ${this.id}: final size ${finalSize} beyond the limit ${this.maxData}`,
      );
    const grew = finalSize - this.highest;
    this.highest = finalSize;
    this.finalSize = finalSize;
    if (this.resetCode === undefined && !this.finished) {
      this.resetCode = code;
      this.pieces.length = 0;
    }
    return grew;
  }

  /**
   * Reads up to `max` bytes in order. Returns undefined when nothing is ready. After a reset,
   * nothing more is read.
   */
  read(max: number): ReadResult | undefined {
    if (this.finished || this.resetCode !== undefined) return undefined;
    const piece = this.pieces[0];
    if (piece && piece.offset === this.readOffset) {
      let data = piece.data;
      if (data.length > max) {
        piece.data = data.subarray(max);
        piece.offset += max;
        data = data.subarray(0, max);
      } else {
        this.pieces.shift();
      }
      this.readOffset += data.length;
      this.received.removeBelow(this.readOffset);
      const fin = this.finalSize === this.readOffset;
      if (fin) this.finished = true;
      return { data, fin };
    }
    if (this.finalSize === this.readOffset) {
      this.finished = true;
      return { data: new Uint8Array(0), fin: true };
    }
    return undefined;
  }

  /** Marks a reset as reported to the application. */
  acknowledgeReset(): void {
    this.finished = true;
  }

  /** The application no longer wants the data: drop what is buffered. */
  stop(code: number): boolean {
    if (this.stopCode !== undefined || this.finished) return false;
    this.stopCode = code;
    this.stopPending = this.resetCode === undefined && this.finalSize === undefined;
    this.pieces.length = 0;
    this.finished = true;
    return true;
  }

  /**
   * The credit to advertise after reads: a new limit when half the window is used. The window
   * grows by {@link autotuneWindow} (up to `windowMax`).
   */
  windowUpdate(nowMs: number, rttMs: () => number, windowMax: number): number | undefined {
    if (this.finalSize !== undefined || this.resetCode !== undefined) return undefined;
    if (this.maxData - this.readOffset > this.window / 2) return undefined;
    this.window = autotuneWindow(this.window, windowMax, this.updates, nowMs, rttMs);
    this.maxData = this.readOffset + this.window;
    return this.maxData;
  }

  /** When the last two window updates were made. */
  private readonly updates: WindowUpdates = { lastMs: undefined, previousMs: undefined };

  private insert(offset: number, data: Uint8Array): void {
    let lo = 0;
    let hi = this.pieces.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.pieces[mid]!.offset < offset) lo = mid + 1;
      else hi = mid;
    }
    this.pieces.splice(lo, 0, { offset, data });
  }
}

/** The times of a window's last two updates. */
export interface WindowUpdates {
  lastMs: number | undefined;
  previousMs: number | undefined;
}

/**
 * Flow-control auto-tuning, after quiche's `autotune_window` and Chromium's: an update is due
 * each time the reader has taken half the window. When the last two came less than two round
 * trips apart each, the reader takes more than a window per round trip and the window, not the
 * reader, is what holds the sender back: the window doubles, up to `windowMax`. Two intervals,
 * not one: a slow reader that drains a full buffer at once makes two updates in the same
 * instant, and must not grow the window by it. A window only grows with reads, so what a peer
 * can make us buffer stays bounded by what our reader has shown it takes. Records `nowMs`.
 * `rttMs` (smoothed) is asked only when both intervals are known.
 */
export function autotuneWindow(
  window: number,
  windowMax: number,
  updates: WindowUpdates,
  nowMs: number,
  rttMs: () => number,
): number {
  const { lastMs, previousMs } = updates;
  updates.previousMs = lastMs;
  updates.lastMs = nowMs;
  if (lastMs === undefined || previousMs === undefined) return window;
  const twoRtts = 2 * rttMs();
  if (nowMs - lastMs >= twoRtts || lastMs - previousMs >= twoRtts) return window;
  return Math.max(window, Math.min(window * 2, windowMax));
}
