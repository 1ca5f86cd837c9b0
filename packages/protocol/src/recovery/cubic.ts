/**
 * CUBIC (RFC 9438) on QUIC's loss signals: NewReno's slow start, recovery periods and
 * persistent congestion (RFC 9438 §4.10 allows Reno slow start; RFC 9002 §7.3), with CUBIC's
 * window increase and multiplicative decrease.
 *
 * Units: the RFC's windows are segments and its times seconds. Here windows are bytes, with
 * segments = bytes / maxDatagramBytes, and `t` is `(nowMs - epochStartMs) / 1000` seconds from
 * the caller's clock, so C keeps its RFC value and unit (segments per second cubed).
 */
import type { CongestionConfig, SentPacketInfo } from './congestion.js';
import { LossBasedController } from './new-reno.js';
import type { RttEstimator } from './rtt.js';

/** C, in segments per second cubed (RFC 9438 §5.1 recommends 0.4). */
export const CUBIC_C = 0.4;
/** beta_cubic, the multiplicative decrease factor (RFC 9438 §4.6). */
export const CUBIC_BETA = 0.7;
/** alpha_cubic = 3 * (1 - beta) / (1 + beta): Reno's average window under AIMD (RFC 9438 §4.3). */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
/** The target is at most this multiple of the window one RTT ahead (RFC 9438 §4.2). */
const TARGET_GROWTH_MAX = 1.5;

export interface CubicConfig extends CongestionConfig {
  /**
   * Fast convergence (RFC 9438 §4.7): lower W_max when a loss comes before the window regained
   * it, releasing bandwidth to newer flows. Default true; the RFC says a lone flow SHOULD
   * disable it.
   */
  fastConvergence?: boolean;
}

export class Cubic extends LossBasedController {
  readonly name = 'cubic';
  readonly fastConvergence: boolean;
  /** W_max in bytes: the window before the last reduction (0: none yet, or after a timeout). */
  private wMax = 0;
  /** cwnd_prior in bytes: the window when ssthresh was last set. */
  private cwndPrior = 0;
  /** W_est in bytes: the window Reno would have (RFC 9438 §4.3). */
  private wEst = 0;
  /** K in seconds: when the curve reaches W_max (RFC 9438 §4.2). */
  private kSeconds = 0;
  /** t_epoch, when this congestion avoidance stage began (undefined: at the next growth). */
  private epochStartMs: number | undefined;
  /** When the acknowledgements started to be app-limited (undefined: they are not). */
  private appLimitedSinceMs: number | undefined;

  constructor(config: CubicConfig) {
    super(config);
    this.fastConvergence = config.fastConvergence ?? true;
  }

  /** W_max in bytes (0 before the first congestion event). */
  get wMaxBytes(): number {
    return this.wMax;
  }

  /** K in seconds of the current congestion avoidance stage. */
  get k(): number {
    return this.kSeconds;
  }

  /** W_est in bytes of the current congestion avoidance stage. */
  get wEstBytes(): number {
    return this.wEst;
  }

  /** t_epoch, or undefined when no congestion avoidance stage is running. */
  get epochStart(): number | undefined {
    return this.epochStartMs;
  }

  /** W_cubic(t) in bytes (RFC 9438 §4.2 Figure 1), t in seconds from t_epoch. */
  wCubicBytes(tSeconds: number): number {
    return this.bounds.maxDatagramBytes * CUBIC_C * (tSeconds - this.kSeconds) ** 3 + this.wMax;
  }

  override onPacketsAcked(
    nowMs: number,
    acked: readonly SentPacketInfo[],
    rtt: RttEstimator,
    appLimited: boolean,
  ): void {
    // RFC 9438 §4.2 and §5.8: t must not include app-limited periods, or the curve would jump
    // after one. The stage's clock stops while acknowledgements are app-limited.
    if (appLimited) {
      if (this.epochStartMs !== undefined) this.appLimitedSinceMs ??= nowMs;
    } else if (this.appLimitedSinceMs !== undefined) {
      if (this.epochStartMs !== undefined && nowMs > this.appLimitedSinceMs)
        this.epochStartMs = Math.min(this.epochStartMs + (nowMs - this.appLimitedSinceMs), nowMs);
      this.appLimitedSinceMs = undefined;
    }
    super.onPacketsAcked(nowMs, acked, rtt, appLimited);
  }

  protected increaseInAvoidance(nowMs: number, bytes: number, rtt: RttEstimator): void {
    if (this.epochStartMs === undefined) this.startEpoch(nowMs);
    const mds = this.bounds.maxDatagramBytes;
    const tSeconds = (nowMs - (this.epochStartMs ?? nowMs)) / 1000;
    // §4.3 Figure 4 with bytes for segments: segments_acked / cwnd = bytes / window. Once W_est
    // has reached cwnd_prior, alpha is 1, Reno's own increase.
    const alpha = this.wEst >= this.cwndPrior ? 1 : CUBIC_ALPHA;
    this.wEst = Math.min(
      this.wEst + (alpha * mds * bytes) / this.window,
      this.bounds.maximumWindowBytes,
    );
    if (this.wCubicBytes(tSeconds) < this.wEst) {
      // §4.3 Reno-friendly region: cwnd = W_est (never a decrease: the window may be ahead of
      // W_est after growing toward W_cubic(t + RTT)).
      this.grow(this.wEst);
      return;
    }
    // §4.4, §4.5: concave and convex regions both step toward target = W_cubic(t + RTT),
    // bounded to [cwnd, 1.5 cwnd], by (target - cwnd) / cwnd per segment acknowledged.
    const ahead = this.wCubicBytes(tSeconds + rtt.smoothedMs / 1000);
    const cap = TARGET_GROWTH_MAX * this.window;
    // A NaN curve (a non-finite clock) gives no growth rather than a NaN window.
    const target = ahead > this.window ? Math.min(ahead, cap) : this.window;
    this.grow(this.window + ((target - this.window) / this.window) * bytes);
  }

  /**
   * §4.2: a stage begins at its first acknowledgement in congestion avoidance. §4.8 and §4.10:
   * with no W_max above the window (after a timeout, or slow start ended without loss), K = 0
   * and W_max is the window at the start of the stage.
   */
  private startEpoch(nowMs: number): void {
    this.epochStartMs = nowMs;
    this.wEst = this.window;
    if (this.wMax <= this.window) {
      this.wMax = this.window;
      this.kSeconds = 0;
    } else {
      // K = cbrt((W_max - cwnd_epoch) / C), in segments.
      this.kSeconds = Math.cbrt((this.wMax - this.window) / this.bounds.maxDatagramBytes / CUBIC_C);
    }
  }

  /** §4.6 multiplicative decrease, after §4.7 fast convergence, using cwnd (not flight size). */
  protected reduceWindow(): void {
    this.wMax =
      this.fastConvergence && this.window < this.wMax
        ? (this.window * (1 + CUBIC_BETA)) / 2
        : this.window;
    this.cwndPrior = this.window;
    // §4.6: cwnd and ssthresh at least 2 segments: here the configured minimum window.
    this.ssthresh = Math.max(this.window * CUBIC_BETA, this.bounds.minimumWindowBytes);
    this.window = this.ssthresh;
    this.epochStartMs = undefined;
    this.appLimitedSinceMs = undefined;
  }

  /** §4.8: the next stage starts with K = 0 and W_max = its initial window. */
  protected resetAfterPersistentCongestion(): void {
    this.wMax = 0;
    this.epochStartMs = undefined;
    this.appLimitedSinceMs = undefined;
  }
}
