/**
 * The receiving side of acknowledgement (RFC 9000 §13.2): which packet numbers arrived, when
 * an ACK frame is due, and what it says.
 *
 * - Every second ack-eliciting packet is acknowledged at once; a single one within
 *   `maxAckDelayMs` (the delay we announced).
 * - A packet that arrives out of order, or reveals a gap, is acknowledged at once, so the
 *   sender's loss detection hears of the gap without delay (§13.2.1).
 * - At most {@link ACK_RANGES_MAX} ranges are kept; once an ACK frame we sent is itself
 *   acknowledged, ranges at or below its largest are dropped (§13.2.4).
 */
import { RangeSet } from '../range-set.js';
import { ACK_RANGES_MAX, type AckRange, type Frame } from '../wire/frames.js';

/** Ack-eliciting packets received before an ACK is sent at once (RFC 9000 §13.2.2). */
export const ACK_ELICITING_THRESHOLD = 2;

export class AckTracker {
  private readonly received = new RangeSet();
  /** Largest packet number received, and when. */
  largest = -1;
  private largestAtMs = 0;
  private elicitingSinceAck = 0;
  private deadlineMs: number | undefined;
  private immediate = false;
  /** Something arrived since the last ACK frame went out. */
  private fresh = false;

  constructor(private readonly maxAckDelayMs: number) {}

  /** Records an authenticated packet. */
  onPacket(now: number, pn: number, ackEliciting: boolean): void {
    const outOfOrder = this.largest >= 0 && (pn < this.largest || pn > this.largest + 1);
    if (pn > this.largest) {
      this.largest = pn;
      this.largestAtMs = now;
    }
    this.received.add(pn, pn + 1);
    this.received.truncateLow(ACK_RANGES_MAX);
    this.fresh = true;
    if (!ackEliciting) return;
    this.elicitingSinceAck++;
    if (outOfOrder || this.elicitingSinceAck >= ACK_ELICITING_THRESHOLD) this.immediate = true;
    else this.deadlineMs ??= now + this.maxAckDelayMs;
  }

  /** Whether an ACK must go out now, on its own packet if nothing else is sent. */
  mustSend(now: number): boolean {
    return this.immediate || (this.deadlineMs !== undefined && now >= this.deadlineMs);
  }

  /** Whether an ACK frame would tell the peer something new (worth piggybacking). */
  get hasNews(): boolean {
    return this.fresh && !this.received.isEmpty;
  }

  /** When a delayed ACK is due, if one is pending. */
  get deadline(): number | undefined {
    return this.immediate ? undefined : this.deadlineMs;
  }

  /** Builds the ACK frame and resets the timers; returns undefined if nothing was received. */
  frame(now: number): (Frame & { type: 'ack' }) | undefined {
    if (this.received.isEmpty) return undefined;
    const ranges: AckRange[] = [];
    for (const r of this.received.descending())
      ranges.push({ smallest: r.start, largest: r.end - 1 });
    this.elicitingSinceAck = 0;
    this.deadlineMs = undefined;
    this.immediate = false;
    this.fresh = false;
    return { type: 'ack', ranges, ackDelayMs: Math.max(0, now - this.largestAtMs) };
  }

  /** The peer received an ACK frame of ours whose largest was `largest`. */
  onAckAcked(largest: number): void {
    this.received.removeBelow(largest + 1);
  }
}
