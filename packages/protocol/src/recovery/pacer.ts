/**
 * Pacing (RFC 9002 §7.7): a token bucket, after quinn-proto's `Pacer`, whose tokens are bytes.
 * The bucket holds at most one burst; it refills at the congestion controller's pacing rate.
 *
 * Times are milliseconds and may be fractional; the refill is exact in floating point, so a
 * 10 Mbit/s path whose packets are 0.96 ms apart is paced at 0.96 ms, not at 1 ms.
 */
import { InvalidOptionError } from '../errors.js';

/** RFC 9002 §7.7's N: pace at 1.25 windows per RTT so RTT jitter does not idle the window. */
export const PACING_GAIN = 1.25;
/**
 * N during slow start. The window doubles each round trip there, so by the end of a round the
 * ACK clock releases two windows per RTT; pacing at 1.25 would make the pacer, not the window,
 * the limit and slow the doubling. Linux uses 2 for the same reason (`tcp_pacing_ss_ratio` of
 * 200% against 120% in congestion avoidance).
 */
export const SLOW_START_PACING_GAIN = 2;
/**
 * Smallest smoothed RTT a rate is computed from, so a zero RTT sample gives a large but finite
 * rate. One microsecond is below any real path, so it never shapes a real one.
 */
export const MIN_PACING_RTT_MS = 0.001;
/**
 * The bucket holds what the rate delivers in this interval (quinn-proto's `BURST_INTERVAL`;
 * quic-go's `MinPacingDelay + TimerGranularity`). A runtime's timers fire 1 ms apart at best
 * (Node's `setTimeout`), so the bucket must hold more than 1 ms of the rate: a bucket that
 * fills before the timer fires wastes the tokens it cannot hold, and the path then runs below
 * its pacing rate however often the timer is armed.
 */
export const BURST_INTERVAL_MS = 2;
/** Smallest bucket, in packets: slow paths still send pairs, which suits ACK-every-two receivers. */
export const MIN_BURST_PACKETS = 2;
/** A new path's bucket: the initial window (10 packets, RFC 9002 §7.2), at once (§7.7). */
export const INITIAL_BURST_PACKETS = 10;
/**
 * Largest bucket, in packets: 2 ms at about 300 Mbit/s with 1200-byte packets. RFC 9002 §7.7
 * lets a sender burst beyond the initial window when the path absorbs it; like quinn-proto
 * (up to 256 packets) and quic-go (2 ms of the rate, no ceiling), Braid sizes the burst by
 * time, so that at 100 Mbit/s a 1 ms timer still keeps the path at its rate (10 packets is
 * under 1 ms there). The bound only keeps one burst from outgrowing a shallow queue on a fast path.
 */
export const MAX_BURST_PACKETS = 64;
/**
 * Longest a packet waits on the pacer after the previous send. Below the rate this implies
 * (12 kB/s for 1200-byte packets) pacing smooths nothing that the congestion window does not
 * already bound, and a rate of 0 or one computed from a broken RTT must not stall the path.
 */
export const MAX_PACING_DELAY_MS = 100;

/** Tokens this close to a packet's size count as enough: floating-point refill rounds. */
const TOKEN_SLACK_BYTES = 1e-6;

/**
 * `gain * window / srtt` in bytes per ms (RFC 9002 §7.7), with the gain of slow start or of
 * congestion avoidance. Finite for any finite window: the RTT is floored at {@link MIN_PACING_RTT_MS}.
 */
export function windowPacingRateBytesPerMs(
  windowBytes: number,
  smoothedRttMs: number,
  inSlowStart: boolean,
): number {
  const gain = inSlowStart ? SLOW_START_PACING_GAIN : PACING_GAIN;
  const rtt = smoothedRttMs > MIN_PACING_RTT_MS ? smoothedRttMs : MIN_PACING_RTT_MS;
  return (gain * windowBytes) / rtt;
}

/**
 * The bucket size: what the rate delivers in {@link BURST_INTERVAL_MS}, clamped to
 * [{@link MIN_BURST_PACKETS}, {@link MAX_BURST_PACKETS}] packets, and never more than the
 * congestion window (a larger burst could not be sent anyway) nor less than one packet.
 */
export function burstCapacityBytes(
  rateBytesPerMs: number,
  windowBytes: number,
  maxDatagramBytes: number,
): number {
  const burst = Math.min(
    Math.max(
      sanitizeRate(rateBytesPerMs) * BURST_INTERVAL_MS,
      MIN_BURST_PACKETS * maxDatagramBytes,
    ),
    MAX_BURST_PACKETS * maxDatagramBytes,
  );
  const window = windowBytes > 0 ? windowBytes : Infinity;
  return Math.max(Math.min(burst, window), maxDatagramBytes);
}

/** NaN and negative rates mean "no rate": 0. */
function sanitizeRate(rateBytesPerMs: number): number {
  return rateBytesPerMs > 0 ? rateBytesPerMs : 0;
}

/**
 * Token-bucket pacer for one path. Before each packet counted in flight, ask
 * {@link delayUntil}; when it returns `undefined`, send and call {@link onSent}; otherwise arm a
 * timer for the returned time and ask again then. ACK-only packets are not paced (RFC 9002 §7.7).
 */
export class Pacer {
  private tokensBytes: number;
  private capacityBytes: number;
  private rateBytesPerMs = 0;
  /** Time up to which tokens have been credited (undefined: no call yet). */
  private refilledMs: number | undefined;
  /** Time of the latest send (undefined: none yet). */
  private lastSentMs: number | undefined;

  constructor(readonly maxDatagramBytes: number) {
    if (!Number.isSafeInteger(maxDatagramBytes) || maxDatagramBytes <= 0)
      throw new InvalidOptionError(
        `maxDatagramBytes must be a positive integer, got ${maxDatagramBytes}`,
      );
    // A new path may send an initial window's burst at once (RFC 9002 §7.7).
    this.capacityBytes = INITIAL_BURST_PACKETS * maxDatagramBytes;
    this.tokensBytes = this.capacityBytes;
  }

  /** Current bucket size in bytes (from the latest {@link delayUntil}). */
  get capacity(): number {
    return this.capacityBytes;
  }

  /** Bytes that may be sent at once now, as of the latest call. */
  get tokens(): number {
    return this.tokensBytes;
  }

  /**
   * `undefined` when `bytes` may be sent at `nowMs`; otherwise the earliest time, strictly
   * after `nowMs`, at which it may. A packet larger than the bucket waits for a full bucket.
   * Never more than {@link MAX_PACING_DELAY_MS} after the previous send, whatever the rate.
   */
  delayUntil(
    nowMs: number,
    bytes: number,
    rateBytesPerMs: number,
    windowBytes: number,
  ): number | undefined {
    if (!Number.isFinite(nowMs)) return undefined;
    this.rateBytesPerMs = sanitizeRate(rateBytesPerMs);
    this.capacityBytes = burstCapacityBytes(
      this.rateBytesPerMs,
      windowBytes,
      this.maxDatagramBytes,
    );
    this.refill(nowMs);
    const needBytes = Math.min(bytes > 0 ? bytes : 0, this.capacityBytes);
    if (this.tokensBytes + TOKEN_SLACK_BYTES >= needBytes) return undefined;
    // refilledMs is defined by refill(); it is later than nowMs only if time went backwards.
    const from = this.refilledMs ?? nowMs;
    const refillAt = from + (needBytes - this.tokensBytes) / this.rateBytesPerMs; // rate 0: Infinity
    const at = Math.min(refillAt, (this.lastSentMs ?? from) + MAX_PACING_DELAY_MS);
    // A wait too short to represent after nowMs is no wait.
    return at > nowMs ? at : undefined;
  }

  /** A packet of `bytes` was sent at `nowMs`. Sending on an empty bucket (a probe) costs nothing more. */
  onSent(nowMs: number, bytes: number): void {
    if (!Number.isFinite(nowMs)) return;
    this.refill(nowMs);
    this.tokensBytes = Math.max(this.tokensBytes - (bytes > 0 ? bytes : 0), 0);
    this.lastSentMs = this.lastSentMs === undefined ? nowMs : Math.max(this.lastSentMs, nowMs);
  }

  /** Credits tokens for the time since the last refill; time that goes backwards credits none. */
  private refill(nowMs: number): void {
    this.tokensBytes = Math.min(this.tokensBytes, this.capacityBytes);
    if (this.refilledMs === undefined) {
      this.refilledMs = nowMs;
      return;
    }
    if (nowMs <= this.refilledMs) return;
    const credit = this.rateBytesPerMs * (nowMs - this.refilledMs);
    this.tokensBytes = Math.min(this.tokensBytes + credit, this.capacityBytes);
    this.refilledMs = nowMs;
  }
}
