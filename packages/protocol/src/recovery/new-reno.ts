/**
 * RFC 9002's congestion controller (§7, pseudocode in Appendix B), and the machinery CUBIC
 * shares with it: window bounds, slow start, recovery periods keyed by send time, persistent
 * congestion and the app-limited rule.
 *
 * Windows are bytes held as JS numbers; they may be fractional after a reduction (CUBIC's 0.7),
 * which costs nothing and keeps the arithmetic exact where the RFCs write it with real numbers.
 */
import { InvalidOptionError } from '../errors.js';
import type {
  CongestionConfig,
  CongestionController,
  CongestionControllerSnapshot,
  SentPacketInfo,
} from './congestion.js';
import { windowPacingRateBytesPerMs } from './pacer.js';
import type { RttEstimator } from './rtt.js';

export const DEFAULT_INITIAL_WINDOW_PACKETS = 10;
/** RFC 9002 §7.2: the default initial window is capped at this many bytes (RFC 6928, UDP). */
export const INITIAL_WINDOW_CAP_BYTES = 14_720;
export const DEFAULT_MINIMUM_WINDOW_PACKETS = 2;
export const DEFAULT_MAXIMUM_WINDOW_PACKETS = 100_000;
/** kLossReductionFactor (RFC 9002 B.1). */
export const LOSS_REDUCTION_FACTOR = 0.5;

/** Window bounds in bytes, resolved from a {@link CongestionConfig}. */
export interface WindowBounds {
  maxDatagramBytes: number;
  initialWindowBytes: number;
  minimumWindowBytes: number;
  maximumWindowBytes: number;
}

/** Validates a config and applies its defaults; throws `InvalidOptionError`. */
export function resolveCongestionConfig(config: CongestionConfig): WindowBounds {
  const mds = config.maxDatagramBytes;
  if (!Number.isSafeInteger(mds) || mds <= 0)
    throw new InvalidOptionError(`maxDatagramBytes must be a positive integer, got ${mds}`);
  const packets = (name: string, value: number | undefined, dflt: number): number => {
    const v = value ?? dflt;
    if (!Number.isSafeInteger(v) || v < 1)
      throw new InvalidOptionError(`${name} must be a positive integer, got ${String(value)}`);
    return v;
  };
  const minimum = packets(
    'minimumWindowPackets',
    config.minimumWindowPackets,
    DEFAULT_MINIMUM_WINDOW_PACKETS,
  );
  const initial = packets(
    'initialWindowPackets',
    config.initialWindowPackets,
    DEFAULT_INITIAL_WINDOW_PACKETS,
  );
  const maximum = packets(
    'maximumWindowPackets',
    config.maximumWindowPackets,
    DEFAULT_MAXIMUM_WINDOW_PACKETS,
  );
  if (!(minimum <= initial && initial <= maximum))
    throw new InvalidOptionError(
      `window packets must be minimum <= initial <= maximum, got ${minimum}, ${initial}, ${maximum}`,
    );
  const initialWindowBytes =
    config.initialWindowPackets === undefined
      ? Math.max(Math.min(initial * mds, INITIAL_WINDOW_CAP_BYTES), minimum * mds)
      : initial * mds;
  return {
    maxDatagramBytes: mds,
    initialWindowBytes,
    minimumWindowBytes: minimum * mds,
    maximumWindowBytes: maximum * mds,
  };
}

/** A packet's size as a window may count it: nothing for a negative or non-finite size. */
function countedBytes(packet: SentPacketInfo): number {
  const bytes = packet.bytes;
  return bytes > 0 && bytes !== Infinity ? bytes : 0;
}

/**
 * A loss-based window controller (RFC 9002 §7.3): slow start, then a congestion avoidance the
 * subclass defines, with at most one reduction per recovery period.
 */
export abstract class LossBasedController implements CongestionController {
  abstract readonly name: string;
  readonly bounds: WindowBounds;
  protected window: number;
  protected ssthresh = Infinity;
  /**
   * congestion_recovery_start_time (RFC 9002 B.2). Appendix B's 0 for "none" is a valid time on
   * a simulator's clock, so "none" is -Infinity: every send time is after it.
   */
  protected recoveryStartMs = -Infinity;
  private recovering = false;
  private events = 0;

  constructor(config: CongestionConfig) {
    this.bounds = resolveCongestionConfig(config);
    this.window = this.bounds.initialWindowBytes;
  }

  get windowBytes(): number {
    return this.window;
  }

  get ssthreshBytes(): number {
    return this.ssthresh;
  }

  get inSlowStart(): boolean {
    return this.window < this.ssthresh;
  }

  /** In a recovery period: entered on a congestion event, left when a packet sent after it is acknowledged. */
  get inRecovery(): boolean {
    return this.recovering;
  }

  /** RFC 9002 B.4 only counts bytes in flight, which the caller owns. */
  onPacketSent(_nowMs: number, _packet: SentPacketInfo, _bytesInFlight: number): void {}

  onPacketsAcked(
    nowMs: number,
    acked: readonly SentPacketInfo[],
    rtt: RttEstimator,
    appLimited: boolean,
  ): void {
    for (const packet of acked) {
      // RFC 9002 B.5 InCongestionRecovery: no growth for packets sent before recovery began.
      if (packet.sentTimeMs <= this.recoveryStartMs) continue;
      // §7.3.2: a packet sent during the recovery period was acknowledged; recovery ends.
      this.recovering = false;
      // §7.8: an under-used window is not evidence the path can carry a larger one.
      if (appLimited) continue;
      const bytes = countedBytes(packet);
      if (this.window < this.ssthresh) this.grow(this.window + bytes);
      else this.increaseInAvoidance(nowMs, bytes, rtt);
    }
  }

  onPacketsLost(
    nowMs: number,
    lost: readonly SentPacketInfo[],
    persistentCongestion: boolean,
  ): void {
    if (lost.length === 0) return;
    // RFC 9002 B.8: the latest send time among the lost decides whether this is a new event.
    let lastSentMs = -Infinity;
    for (const packet of lost) lastSentMs = Math.max(lastSentMs, packet.sentTimeMs);
    this.onCongestionEvent(nowMs, lastSentMs);
    if (persistentCongestion) {
      // §7.6.2: back to the minimum window and slow start, with no recovery period.
      this.window = this.bounds.minimumWindowBytes;
      this.recoveryStartMs = -Infinity;
      this.recovering = false;
      this.resetAfterPersistentCongestion();
    }
  }

  /**
   * A congestion signal about a packet sent at `sentTimeMs` (RFC 9002 B.6): a loss, or an
   * increase of the peer's ECN-CE count, for which `sentTimeMs` is the send time of the
   * largest acknowledged packet (B.7). Reduces the window unless already in that recovery period.
   */
  onCongestionEvent(nowMs: number, sentTimeMs: number): void {
    if (sentTimeMs <= this.recoveryStartMs) return;
    // The period starts now, and includes the packet that started it even if the caller's
    // clock says it was sent later (a clock that stepped back must not split one event in two).
    const finiteOrNone = (ms: number) => (Number.isFinite(ms) ? ms : -Infinity);
    this.recoveryStartMs = Math.max(finiteOrNone(nowMs), finiteOrNone(sentTimeMs));
    this.recovering = true;
    this.events += 1;
    this.reduceWindow(nowMs);
  }

  pacingRateBytesPerMs(rtt: RttEstimator): number {
    return windowPacingRateBytesPerMs(this.window, rtt.smoothedMs, this.inSlowStart);
  }

  snapshot(): CongestionControllerSnapshot {
    return {
      name: this.name,
      windowBytes: this.window,
      ssthreshBytes: this.ssthresh,
      inSlowStart: this.inSlowStart,
      inRecovery: this.recovering,
      congestionEvents: this.events,
    };
  }

  /** Sets the window to `bytes` within the maximum (growth never needs the minimum). */
  protected grow(bytes: number): void {
    this.window = Math.min(Math.max(bytes, this.window), this.bounds.maximumWindowBytes);
  }

  /** Growth in congestion avoidance for one acknowledged packet of `bytes`. */
  protected abstract increaseInAvoidance(nowMs: number, bytes: number, rtt: RttEstimator): void;

  /** Sets ssthresh and the window on entering a recovery period; the window stays >= minimum. */
  protected abstract reduceWindow(nowMs: number): void;

  /** Clears algorithm state after the window collapsed to the minimum. */
  protected abstract resetAfterPersistentCongestion(): void;
}

/** NewReno as RFC 9002 specifies it (§7.3, Appendix B). */
export class NewReno extends LossBasedController {
  readonly name = 'newreno';
  /** Bytes acknowledged in congestion avoidance since the window last grew (RFC 3465 §2.1). */
  private avoidanceAckedBytes = 0;

  /**
   * RFC 9002 B.5 writes `cwnd += max_datagram_size * sent_bytes / cwnd`; this is the byte
   * counting it suggests instead (RFC 3465 §2.1): exactly one datagram per window acknowledged,
   * the most §7.3.3 allows, with no drift from dividing by a window that grows meanwhile.
   */
  protected increaseInAvoidance(_nowMs: number, bytes: number): void {
    this.avoidanceAckedBytes += bytes;
    if (this.avoidanceAckedBytes < this.window) return;
    // A single giant packet earns one datagram, not several: the count is kept below a window.
    this.avoidanceAckedBytes = Math.min(this.avoidanceAckedBytes - this.window, this.window);
    this.grow(this.window + this.bounds.maxDatagramBytes);
  }

  /** RFC 9002 B.6: ssthresh = cwnd * kLossReductionFactor; cwnd = max(ssthresh, kMinimumWindow). */
  protected reduceWindow(): void {
    this.ssthresh = this.window * LOSS_REDUCTION_FACTOR;
    this.window = Math.max(this.ssthresh, this.bounds.minimumWindowBytes);
    this.avoidanceAckedBytes = 0;
  }

  protected resetAfterPersistentCongestion(): void {
    this.avoidanceAckedBytes = 0;
  }
}
