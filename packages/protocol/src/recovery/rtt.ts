/**
 * Round-trip time estimation for one path (RFC 9002 §5, pseudocode in Appendix A.7).
 *
 * Times are milliseconds and may be fractional: the caller measures `latest_rtt` as
 * `ackTime - sendTimeOfLargestAcked` from its own `now` values and feeds it to
 * {@link RttEstimator.update}. Nothing here reads a clock.
 */
import { InvalidOptionError } from '../errors.js';

/** Timer granularity, kGranularity (RFC 9002 §6.1.2). */
export const GRANULARITY_MS = 1;
/** RTT assumed before the first sample, kInitialRtt (RFC 9002 §6.2.2). */
export const INITIAL_RTT_MS = 333;
/** Reordering tolerance in time as an RTT multiplier, kTimeThreshold (RFC 9002 §6.1.2). */
export const TIME_THRESHOLD = 9 / 8;
/** kPersistentCongestionThreshold, a PTO multiplier (RFC 9002 §7.6.1). */
const PERSISTENT_CONGESTION_THRESHOLD = 3;
/**
 * Largest RTT sample taken at face value; larger ones are clamped to it. Ten minutes is far
 * beyond any idle timeout, so only a broken clock reaches it, and it keeps `4 * rttvar` finite.
 */
export const MAX_RTT_SAMPLE_MS = 600_000;

export class RttEstimator {
  /** The most recent sample, before ack-delay adjustment (0 before a sample). */
  latestMs = 0;
  /** smoothed_rtt: the initial RTT until the first sample (RFC 9002 §5.3). */
  smoothedMs: number;
  /** rttvar: half the initial RTT until the first sample (RFC 9002 §5.3). */
  varianceMs: number;
  /**
   * min_rtt, which ignores ack delay (RFC 9002 §5.2). Before the first sample it holds the
   * initial RTT rather than RFC 9002 A.4's 0 or infinity, so that it is always a usable,
   * finite RTT; {@link hasSample} tells whether it was measured.
   */
  minMs: number;
  private sampled = false;

  constructor(initialRttMs: number = INITIAL_RTT_MS) {
    if (!Number.isFinite(initialRttMs) || initialRttMs <= 0)
      throw new InvalidOptionError(`initialRttMs must be a positive number, got ${initialRttMs}`);
    this.smoothedMs = initialRttMs;
    this.varianceMs = initialRttMs / 2;
    this.minMs = initialRttMs;
  }

  /** Whether at least one RTT sample has been taken. */
  get hasSample(): boolean {
    return this.sampled;
  }

  /**
   * Takes one RTT sample (RFC 9002 §5.3). `ackDelayMs` is the peer-reported delay; it is capped
   * at `maxAckDelayMs` once `handshakeConfirmed`, and only subtracted if
   * `latest - minRtt >= ackDelay`, so a misreporting peer cannot pull the estimate below min_rtt.
   *
   * A non-finite sample is not a measurement and is ignored; a negative one (a clock that
   * stepped back) counts as 0. A negative or non-finite ack delay counts as 0.
   */
  update(
    latestRttMs: number,
    ackDelayMs: number,
    maxAckDelayMs: number,
    handshakeConfirmed: boolean,
  ): void {
    if (Number.isNaN(latestRttMs) || latestRttMs === Infinity) return;
    const latest = Math.min(Math.max(latestRttMs, 0), MAX_RTT_SAMPLE_MS);
    this.latestMs = latest;
    if (!this.sampled) {
      // RFC 9002 §5.3: the first sample resets the estimator, keeping no history.
      this.sampled = true;
      this.minMs = latest;
      this.smoothedMs = latest;
      this.varianceMs = latest / 2;
      return;
    }
    this.minMs = Math.min(this.minMs, latest);
    let ackDelay = ackDelayMs > 0 && ackDelayMs !== Infinity ? ackDelayMs : 0;
    if (handshakeConfirmed) ackDelay = Math.min(ackDelay, maxAckDelayMs > 0 ? maxAckDelayMs : 0);
    const adjusted = latest - this.minMs >= ackDelay ? latest - ackDelay : latest;
    // rttvar is updated from the previous smoothed_rtt, as in Appendix A.7 and RFC 6298 §2.3.
    this.varianceMs = (3 / 4) * this.varianceMs + (1 / 4) * Math.abs(this.smoothedMs - adjusted);
    this.smoothedMs = (7 / 8) * this.smoothedMs + (1 / 8) * adjusted;
  }

  /** Probe timeout, before backoff: srtt + max(4*rttvar, granularity) + maxAckDelay (RFC 9002 §6.2.1). */
  ptoMs(maxAckDelayMs: number): number {
    const ackDelay = maxAckDelayMs > 0 && maxAckDelayMs !== Infinity ? maxAckDelayMs : 0;
    return this.smoothedMs + Math.max(4 * this.varianceMs, GRANULARITY_MS) + ackDelay;
  }

  /** Time-threshold loss delay: max(kTimeThreshold * max(srtt, latest), granularity) (RFC 9002 §6.1.2). */
  lossDelayMs(): number {
    return Math.max(TIME_THRESHOLD * Math.max(this.smoothedMs, this.latestMs), GRANULARITY_MS);
  }

  /** How long all packets must have been lost to declare persistent congestion (RFC 9002 §7.6.1). */
  persistentCongestionDurationMs(maxAckDelayMs: number): number {
    return this.ptoMs(maxAckDelayMs) * PERSISTENT_CONGESTION_THRESHOLD;
  }

  /**
   * Call when persistent congestion is declared: min_rtt restarts from the newest sample, so a
   * path whose RTT rose does not keep declaring persistent congestion (RFC 9002 §5.2).
   */
  onPersistentCongestion(): void {
    if (this.sampled) this.minMs = this.latestMs;
  }
}
