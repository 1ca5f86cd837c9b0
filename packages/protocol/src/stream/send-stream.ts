/**
 * The sending half of a stream (RFC 9000 §3.1): bytes the application wrote, kept until the
 * peer acknowledges them, so that lost ranges can be sent again (frames, not packets, are
 * retransmitted). Bounded by `bufferMax`: `write` takes only what fits.
 */
import { copyBytes } from '../bytes.js';
import { RangeSet } from '../range-set.js';

export type SendState = 'open' | 'ended' | 'reset' | 'done';

/** A range of the stream chosen for the next STREAM frame. */
export interface SendChunk {
  offset: number;
  data: Uint8Array;
  fin: boolean;
  /** Whether this sends bytes for the first time (counts against session flow control). */
  fresh: number;
}

export class SendStream {
  /** Bytes written by the application; the next write starts here. */
  writeOffset = 0;
  /** Bytes sent at least once: [0, sentOffset). */
  sentOffset = 0;
  /** The peer's flow-control limit for this stream. */
  maxData: number;
  /** Set once the application ends the stream: the final size. */
  finalSize: number | undefined;
  resetCode: number | undefined;
  /** RESET_STREAM needs (re)sending. */
  resetPending = false;
  /** Whether the FIN bit needs (re)sending without data. */
  private finLost = false;
  private finSent = false;
  private finAcked = false;
  private resetAcked = false;
  /** Blocked on this limit and not yet told the peer (STREAM_DATA_BLOCKED). */
  blockedAt: number | undefined;
  bytesRetransmitted = 0;

  /** Written bytes not yet acknowledged: chunks covering [bufferStart, writeOffset). */
  private chunks: Uint8Array[] = [];
  private chunkStarts: number[] = [];
  private head = 0;
  private bufferStart = 0;
  private readonly acked = new RangeSet();
  private readonly lost = new RangeSet();

  constructor(
    readonly id: number,
    maxData: number,
    readonly bufferMax: number,
  ) {
    this.maxData = maxData;
  }

  get state(): SendState {
    if (this.resetCode !== undefined) return this.resetAcked ? 'done' : 'reset';
    if (this.finalSize === undefined) return 'open';
    return this.finAcked && this.bufferStart === this.finalSize ? 'done' : 'ended';
  }

  /** Bytes buffered (written, not yet acknowledged). */
  get buffered(): number {
    return this.writeOffset - this.bufferStart;
  }

  /**
   * What may be buffered (written, not yet acknowledged): `bufferMax`, or the credit the peer
   * has granted past what it acknowledged when that is more. A peer whose reader keeps up grows
   * its window (auto-tuning), and the buffer follows so the window can be filled; a slow
   * reader's window stays small, and so does this.
   */
  get capacity(): number {
    return Math.max(this.bufferMax, this.maxData - this.bufferStart);
  }

  /** Room for more writes. */
  get writable(): number {
    if (this.finalSize !== undefined || this.resetCode !== undefined) return 0;
    return Math.max(0, this.capacity - this.buffered);
  }

  /** Takes as much of `data` as fits; returns the number of bytes taken. */
  write(data: Uint8Array): number {
    const n = Math.min(data.length, this.writable);
    if (n === 0) return 0;
    // Copy: the caller may reuse its buffer once write returns.
    this.chunks.push(copyBytes(data, 0, n));
    this.chunkStarts.push(this.writeOffset);
    this.writeOffset += n;
    return n;
  }

  end(): void {
    if (this.finalSize !== undefined || this.resetCode !== undefined) return;
    this.finalSize = this.writeOffset;
  }

  /** Abandons the stream: buffered data is dropped and RESET_STREAM is sent. */
  reset(code: number): boolean {
    if (this.resetCode !== undefined || this.state === 'done') return false;
    this.resetCode = code;
    this.resetPending = true;
    this.finalSize = this.sentOffset;
    this.chunks = [];
    this.chunkStarts = [];
    this.head = 0;
    this.lost.clear();
    return true;
  }

  /** Whether there is something to send now, given the session's remaining credit. */
  wantsToSend(connectionCredit: number): boolean {
    if (this.resetCode !== undefined) return this.resetPending;
    if (!this.lost.isEmpty || this.finLost) return true;
    if (this.finalSize !== undefined && !this.finSent && this.sentOffset === this.finalSize)
      return true;
    return (
      this.writeOffset > this.sentOffset && this.sentOffset < this.maxData && connectionCredit > 0
    );
  }

  /**
   * Chooses the next frame's bytes: lost ranges first, then new bytes within both limits.
   * `room` is the payload space of the frame; `connectionCredit` the session's remaining credit.
   */
  next(room: number, connectionCredit: number): SendChunk | undefined {
    if (this.resetCode !== undefined || room <= 0) return undefined;
    const lostRange = this.lost.all[0];
    if (lostRange) {
      // Read before the removal, which shrinks the range in place.
      const start = lostRange.start;
      const end = Math.min(lostRange.end, start + room);
      this.lost.remove(start, end);
      this.bytesRetransmitted += end - start;
      const fin = this.finalSize === end && this.finSent;
      if (fin) this.finLost = false;
      return { offset: start, data: this.slice(start, end), fin, fresh: 0 };
    }
    const limit = Math.min(this.writeOffset, this.maxData, this.sentOffset + connectionCredit);
    const end = Math.min(limit, this.sentOffset + room);
    if (end > this.sentOffset) {
      const offset = this.sentOffset;
      this.sentOffset = end;
      const fin = this.finalSize === end;
      if (fin) this.finSent = true;
      return { offset, data: this.slice(offset, end), fin, fresh: end - offset };
    }
    if (this.finalSize !== undefined && this.sentOffset === this.finalSize) {
      if (!this.finSent || this.finLost) {
        this.finSent = true;
        this.finLost = false;
        return { offset: this.finalSize, data: new Uint8Array(0), fin: true, fresh: 0 };
      }
    }
    if (this.writeOffset > this.sentOffset && this.sentOffset >= this.maxData)
      this.blockedAt ??= this.maxData;
    return undefined;
  }

  /** Returns how many of these bytes were acknowledged for the first time. */
  onAcked(offset: number, length: number, fin: boolean): number {
    if (fin) this.finAcked = true;
    if (this.resetCode !== undefined || offset + length <= this.bufferStart) return 0;
    const start = Math.max(offset, this.bufferStart);
    const end = offset + length;
    if (start === this.bufferStart && this.acked.isEmpty) {
      // In order, the common case: straight to the release, without a range that would be
      // added and dropped at once.
      this.lost.remove(offset, end);
      this.release(end);
      return end - start;
    }
    const fresh = this.acked.add(start, end);
    this.lost.remove(offset, end);
    const first = this.acked.all[0];
    if (first && first.start <= this.bufferStart && first.end > this.bufferStart)
      this.release(first.end);
    return fresh;
  }

  onLost(offset: number, length: number, fin: boolean): void {
    if (this.resetCode !== undefined) return;
    if (fin && !this.finAcked) this.finLost = true;
    // Only the parts not acknowledged since (by a later copy) are sent again.
    let at = Math.max(offset, this.bufferStart);
    const end = offset + length;
    while (at < end) {
      const gap = this.acked.firstGap(at, end);
      if (!gap) break;
      this.lost.add(gap.start, gap.end);
      at = gap.end;
    }
  }

  onResetAcked(): void {
    this.resetAcked = true;
  }

  onResetLost(): void {
    if (!this.resetAcked) this.resetPending = true;
  }

  /** The peer raised its limit. */
  onMaxData(max: number): void {
    if (max > this.maxData) {
      this.maxData = max;
      this.blockedAt = undefined;
    }
  }

  /** Drops acknowledged bytes below `offset` from the buffer. */
  private release(offset: number): void {
    this.bufferStart = offset;
    this.acked.removeBelow(offset);
    while (this.head < this.chunks.length) {
      const start = this.chunkStarts[this.head]!;
      const chunk = this.chunks[this.head]!;
      if (start + chunk.length > offset) break;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.chunkStarts = this.chunkStarts.slice(this.head);
      this.head = 0;
    }
  }

  /** Bytes [start, end) of the stream, which must still be buffered. */
  private slice(start: number, end: number): Uint8Array {
    let i = this.findChunk(start);
    const first = this.chunks[i]!;
    const firstStart = this.chunkStarts[i]!;
    if (firstStart + first.length >= end)
      return first.subarray(start - firstStart, end - firstStart);
    const out = new Uint8Array(end - start);
    let at = start;
    while (at < end) {
      const chunk = this.chunks[i]!;
      const cs = this.chunkStarts[i]!;
      const piece = chunk.subarray(at - cs, Math.min(chunk.length, end - cs));
      out.set(piece, at - start);
      at += piece.length;
      i++;
    }
    return out;
  }

  private findChunk(offset: number): number {
    let lo = this.head;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.chunkStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
