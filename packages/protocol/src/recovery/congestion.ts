/**
 * The interface every congestion controller implements, after quinn-proto's
 * `congestion::Controller`: the path's loss detection calls it with per-packet send times and
 * sizes, so a model-based controller (BBR) can later build delivery-rate samples from the same
 * calls that drive the loss-based ones here (RFC 9002 §7, RFC 9438).
 *
 * The caller owns bytes in flight (RFC 9002 Appendix B.2) and the decision to send: it may send
 * while `bytesInFlight + size <= windowBytes`, except probes (§7.5), paced by
 * {@link CongestionController.pacingRateBytesPerMs}.
 */
import { InvalidOptionError } from '../errors.js';
import { Cubic } from './cubic.js';
import { NewReno } from './new-reno.js';
import type { RttEstimator } from './rtt.js';

/** What a controller is told about one packet counted in bytes in flight (RFC 9002 A.1.1). */
export interface SentPacketInfo {
  packetNumber: number;
  /** When it was sent, in the caller's ms clock. */
  sentTimeMs: number;
  /** Its size, without UDP or IP overhead. */
  bytes: number;
}

export interface CongestionControllerSnapshot {
  name: string;
  windowBytes: number;
  /** Infinity until the first congestion event (serialises to null in JSON). */
  ssthreshBytes: number;
  inSlowStart: boolean;
  /** In a recovery period: the window does not grow and further losses do not reduce it. */
  inRecovery: boolean;
  /** Window reductions so far (new recovery periods; RFC 9002 §7.3.2). */
  congestionEvents: number;
}

export interface CongestionController {
  readonly name: 'newreno' | 'cubic' | string;
  /** Congestion window in bytes: finite, never below the minimum window. */
  readonly windowBytes: number;
  /** Slow start threshold in bytes; Infinity in the initial slow start (RFC 9002 §7.3.1). */
  readonly ssthreshBytes: number;
  readonly inSlowStart: boolean;
  /** A packet counted in bytes in flight was sent; `bytesInFlight` includes it. */
  onPacketSent(nowMs: number, packet: SentPacketInfo, bytesInFlight: number): void;
  /**
   * Packets newly acknowledged by one ACK frame (in-flight ones only), in ascending
   * packet-number order. `appLimited` is true when the sender was not using the window; then
   * the window must not grow (RFC 9002 §7.8). Call after {@link onPacketsLost} for the same
   * ACK, and after updating the RTT estimator with it (RFC 9002 A.7).
   */
  onPacketsAcked(
    nowMs: number,
    acked: readonly SentPacketInfo[],
    rtt: RttEstimator,
    appLimited: boolean,
  ): void;
  /**
   * Packets declared lost. The latest send time among them decides whether this starts a new
   * recovery period (RFC 9002 §7.3.2, B.8); `persistentCongestion` collapses the window to the
   * minimum (§7.6.2). Establishing persistent congestion is the caller's: it considers only
   * packets sent after the first RTT sample (B.8).
   */
  onPacketsLost(
    nowMs: number,
    lost: readonly SentPacketInfo[],
    persistentCongestion: boolean,
  ): void;
  /** The pacing rate in bytes per ms: N * cwnd / srtt (RFC 9002 §7.7), for the `Pacer`. */
  pacingRateBytesPerMs(rtt: RttEstimator): number;
  snapshot(): CongestionControllerSnapshot;
}

export interface CongestionConfig {
  /** The path's maximum datagram size in bytes (RFC 9002 B.2 max_datagram_size). */
  maxDatagramBytes: number;
  /**
   * Initial window in packets. Default 10, with RFC 9002 §7.2's byte cap:
   * min(10 * maxDatagramBytes, max(14720, 2 * maxDatagramBytes)); a value given here is not
   * capped. Validated, with defaults, by `resolveCongestionConfig` (new-reno.ts).
   */
  initialWindowPackets?: number;
  /** Minimum window in packets, kMinimumWindow (RFC 9002 §7.2). Default 2. */
  minimumWindowPackets?: number;
  /**
   * Largest window in packets, the bound on growth (STYLE §7). Default 100 000: 120 MB with
   * 1200-byte packets, a 10 Gbit/s path at 100 ms RTT.
   */
  maximumWindowPackets?: number;
}

export type CongestionAlgorithm = 'newreno' | 'cubic';

export function createCongestionController(
  algorithm: CongestionAlgorithm,
  config: CongestionConfig,
): CongestionController {
  switch (algorithm) {
    case 'newreno':
      return new NewReno(config);
    case 'cubic':
      return new Cubic(config);
    default:
      throw new InvalidOptionError(`unknown congestion algorithm ${String(algorithm)}`);
  }
}
