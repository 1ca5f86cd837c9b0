/**
 * FEC as one session uses it (docs/fec.md): the sliding-window encoder and decoder, a loss
 * estimator per path for the sending direction, what the peer reported rebuilding (so repaired
 * losses still count as losses for the estimate) and what this side rebuilt and must report.
 * The session decides which packets are protected and does the sending; this object keeps the
 * state and the counters.
 */
import type { AckRange } from '../wire/frames.js';
import type { FecSetting } from '../stream/streams.js';
import { LossEstimator, type LossEstimatorOptions } from './loss-estimator.js';
import { repairFrameBytes, SHARD_LENGTH_PREFIX_BYTES, type RepairFrame } from './repair-frame.js';
import { FecWindowDecoder, type RebuiltPacket } from './window-decoder.js';
import {
  FecWindowEncoder,
  REPAIR_SOURCES_BYTES_MAX_DEFAULT,
  type FecParams,
} from './window-encoder.js';

/** Default time bound: a protected packet waits at most this long for a repair covering it. */
export const FEC_GROUP_DELAY_MS_DEFAULT = 10;
/**
 * Default horizon of `auto`: the delay a loss may add to a low-latency stream. `auto` picks the
 * least repair that keeps all but `targetLateFraction` of the protected packets within it.
 */
export const FEC_HORIZON_MS_DEFAULT = 15;
/** Send times of protected packets kept per path to measure their rate. */
export const SEND_TIMES_KEPT = 32;
/** Each rebuilt packet number is reported in this many packets carrying an ACK of its path. */
export const RECOVERED_REPORTS = 2;
/** Rebuilt packet numbers waiting to be reported, per path, at most (oldest dropped first). */
export const RECOVERED_PENDING_MAX = 64;
/** Peer reports of rebuilt packets kept per path until their ACK arrives (oldest dropped). */
export const RECOVERED_HINTS_MAX = 256;
/** Packet numbers one RECOVERED frame may name, at most; more is a protocol violation. */
export const RECOVERED_PER_FRAME_MAX = 1024;

export interface SessionFecOptions {
  maxGroupDelayMs: number;
  /** `auto`'s horizon in ms; turned into packets by each path's rate of protected packets. */
  horizonMs: number;
  estimator: LossEstimatorOptions;
}

/** Per path FEC counters: both directions as this side sees them. */
export interface PathFecCounters {
  /** Our packets sent as FEC sources on this path, and REPAIR packets sent on it. */
  fecProtectedPackets: number;
  fecRepairPackets: number;
  fecRepairBytes: number;
  /** The peer's packets on this path we rebuilt instead of receiving. */
  fecRecoveredPackets: number;
  /** Our packets on this path the peer reported rebuilding. */
  fecPeerRecoveredPackets: number;
}

export interface PathFecStats extends PathFecCounters {
  /** The sending direction's loss estimate on this path (what `auto` chooses from). */
  fecLossRate: number;
  fecMeanBurst: number;
  /** The (k, m) `auto` would choose now; 0 and 0 for no repair. */
  fecK: number;
  fecM: number;
}

interface PathFec {
  estimator: LossEstimator;
  counters: PathFecCounters;
  /** Packet numbers the peer reported rebuilding, not yet acknowledged, in arrival order. */
  hints: Set<number>;
  /** Packet numbers of the peer we rebuilt, with the reports each still gets. */
  toReport: Map<number, number>;
  /** `auto`'s choice, and the outcome count it was made at. */
  auto: FecParams | undefined;
  autoAtSamples: number;
  /** Send times of the last {@link SEND_TIMES_KEPT} protected packets, a ring. */
  sendTimes: number[];
  sendTimesNext: number;
}

/**
 * Highest loss rate an application-limited sender takes for the path's floor, so that losses of
 * protected packets FEC could not rebuild do not reduce the congestion window (docs/fec.md).
 */
export const FEC_FLOOR_LOSS_MAX = 0.1;

/** `auto` chooses again after this many new outcomes (choosing runs a small DP per k). */
export const FEC_RECHOOSE_OUTCOMES = 16;

export class SessionFec {
  readonly send: FecWindowEncoder;
  readonly receive = new FecWindowDecoder();
  /** REPAIR frames dropped because they could not fit a packet (a shard grew too long). */
  repairsTooLarge = 0;
  /** The per path counters summed, removed paths included. */
  readonly totals: PathFecCounters = newCounters();
  private readonly paths = new Map<number, PathFec>();
  private readonly estimatorOptions: LossEstimatorOptions;
  private readonly horizonMs: number;
  private readonly maxGroupDelayMs: number;

  constructor(options: SessionFecOptions) {
    this.send = new FecWindowEncoder({ maxDelayMs: options.maxGroupDelayMs });
    this.horizonMs = options.horizonMs;
    this.maxGroupDelayMs = options.maxGroupDelayMs;
    this.estimatorOptions = options.estimator;
    // Fails early on bad options, not on the first packet of a path.
    new LossEstimator(options.estimator);
  }

  private path(pathId: number): PathFec {
    let p = this.paths.get(pathId);
    if (!p) {
      p = {
        estimator: new LossEstimator(this.estimatorOptions),
        counters: newCounters(),
        hints: new Set(),
        toReport: new Map(),
        auto: undefined,
        autoAtSamples: -Infinity,
        sendTimes: [],
        sendTimesNext: 0,
      };
      this.paths.set(pathId, p);
    }
    return p;
  }

  /** Forgets a removed path's estimate and reports (its counters go with it). */
  removePath(pathId: number): void {
    this.paths.delete(pathId);
  }

  /** The repair ratio for a packet on `pathId` carrying content of `setting`, or none. */
  params(pathId: number, setting: FecSetting): FecParams | undefined {
    const p = this.path(pathId);
    if (setting !== 'auto') return p.estimator.choose(setting);
    const samples = p.estimator.samples;
    if (samples - p.autoAtSamples >= FEC_RECHOOSE_OUTCOMES) {
      const rate = this.rate(p);
      p.auto =
        rate === undefined
          ? p.estimator.choose('auto')
          : p.estimator.choose('auto', rate * this.horizonMs, rate * this.maxGroupDelayMs);
      p.autoAtSamples = samples;
    }
    return p.auto;
  }

  /**
   * The path's rate of protected packets per ms lately (over the last {@link SEND_TIMES_KEPT});
   * undefined before it sent two, Infinity if they all went at once.
   */
  private rate(p: PathFec): number | undefined {
    const n = p.sendTimes.length;
    if (n < 2) return undefined;
    const newest = p.sendTimes[(p.sendTimesNext + n - 1) % n]!;
    const oldest = p.sendTimes[n === SEND_TIMES_KEPT ? p.sendTimesNext : 0]!;
    const span = newest - oldest;
    return span > 0 ? (n - 1) / span : Infinity;
  }

  /**
   * Whether the sending direction's loss on `pathId` is low enough, at most
   * {@link FEC_FLOOR_LOSS_MAX}, to be taken for the path's floor rather than for congestion.
   */
  lossIsFloor(pathId: number): boolean {
    return this.path(pathId).estimator.lossRate() <= FEC_FLOOR_LOSS_MAX;
  }

  // ---- sending ----------------------------------------------------------------------------

  /**
   * Adds a sealed packet to the window and returns until when loss detection must not declare
   * it lost: until a repair covering it has had time to reach the peer and the peer's
   * acknowledgement of the rebuilt packet to come back.
   */
  onProtectedSent(
    now: number,
    pathId: number,
    packetNumber: number,
    bytes: Uint8Array,
    params: FecParams,
    answerMs: number,
  ): number {
    this.send.add(now, pathId, packetNumber, bytes, params);
    const p = this.path(pathId);
    if (p.sendTimes.length < SEND_TIMES_KEPT) p.sendTimes.push(now);
    else p.sendTimes[p.sendTimesNext] = now;
    p.sendTimesNext = (p.sendTimesNext + 1) % SEND_TIMES_KEPT;
    p.counters.fecProtectedPackets++;
    this.totals.fecProtectedPackets++;
    return (this.send.deadline() ?? now) + answerMs;
  }

  /**
   * The next REPAIR frame if it fits `room` bytes. One that could never fit a packet of
   * `packetRoom` bytes is dropped (counted in `repairsTooLarge`).
   */
  nextRepair(room: number, packetRoom: number): RepairFrame | undefined {
    for (;;) {
      const frame = this.send.peekRepair();
      if (!frame) return undefined;
      const bytes = repairFrameBytes(frame);
      if (bytes <= room) return this.send.pollRepair();
      if (bytes <= packetRoom) return undefined;
      this.send.pollRepair();
      this.repairsTooLarge++;
    }
  }

  onRepairSent(pathId: number, packetBytes: number): void {
    const c = this.path(pathId).counters;
    c.fecRepairPackets++;
    c.fecRepairBytes += packetBytes;
    this.totals.fecRepairPackets++;
    this.totals.fecRepairBytes += packetBytes;
  }

  /**
   * The fate of one of our ack-eliciting packets on `pathId`, for the loss estimate: lost, or
   * acknowledged — which counts as a loss too when the peer reported rebuilding it.
   */
  onOutcome(pathId: number, packetNumber: number, lost: boolean): void {
    this.send.onOutcome(pathId, packetNumber);
    const p = this.path(pathId);
    if (!lost && p.hints.delete(packetNumber)) {
      lost = true;
      p.counters.fecPeerRecoveredPackets++;
      this.totals.fecPeerRecoveredPackets++;
    }
    p.estimator.onOutcome(lost, packetNumber);
  }

  /** The peer's RECOVERED frame: remember the numbers until their ACK is processed. */
  onRecoveredFrame(pathId: number, ranges: readonly AckRange[]): void {
    const p = this.path(pathId);
    for (const r of ranges)
      for (let pn = r.largest; pn >= r.smallest; pn--) {
        p.hints.add(pn);
        if (p.hints.size > RECOVERED_HINTS_MAX) p.hints.delete(p.hints.values().next().value!);
      }
  }

  // ---- receiving --------------------------------------------------------------------------

  /** A protected packet of the peer authenticated: keep it; returns what it lets us rebuild. */
  onProtectedReceived(
    now: number,
    pathId: number,
    packetNumber: number,
    bytes: Uint8Array,
  ): readonly RebuiltPacket[] {
    return this.receive.onPacket(now, pathId, packetNumber, bytes);
  }

  onRepairFrame(now: number, frame: RepairFrame): readonly RebuiltPacket[] {
    return this.receive.onRepair(now, frame);
  }

  /** A rebuilt packet authenticated and was processed: report it to the peer. */
  onRebuiltAccepted(pathId: number, packetNumber: number): void {
    const p = this.path(pathId);
    p.counters.fecRecoveredPackets++;
    this.totals.fecRecoveredPackets++;
    p.toReport.set(packetNumber, RECOVERED_REPORTS);
    if (p.toReport.size > RECOVERED_PENDING_MAX) p.toReport.delete(p.toReport.keys().next().value!);
  }

  onRebuiltRejected(): void {
    this.receive.onRebuiltRejected();
  }

  /** Whether `pathId` has rebuilt packets to report (its next ACK should go soon). */
  hasReport(pathId: number): boolean {
    return (this.paths.get(pathId)?.toReport.size ?? 0) > 0;
  }

  /**
   * The RECOVERED frame to send with the next ACK of `pathId`, or undefined. Each number is
   * reported {@link RECOVERED_REPORTS} times, so one lost packet does not lose the report.
   */
  takeReport(pathId: number): AckRange[] | undefined {
    const p = this.paths.get(pathId);
    if (!p || p.toReport.size === 0) return undefined;
    const pns = [...p.toReport.keys()].sort((a, b) => b - a);
    for (const pn of pns) {
      const left = p.toReport.get(pn)! - 1;
      if (left <= 0) p.toReport.delete(pn);
      else p.toReport.set(pn, left);
    }
    const ranges: AckRange[] = [];
    for (const pn of pns) {
      const last = ranges[ranges.length - 1];
      if (last && last.smallest === pn + 1) last.smallest = pn;
      else ranges.push({ smallest: pn, largest: pn });
    }
    return ranges;
  }

  // ---- stats ------------------------------------------------------------------------------

  pathStats(pathId: number): PathFecStats {
    const p = this.path(pathId);
    const estimate = p.estimator.snapshot();
    const chosen = this.params(pathId, 'auto');
    return {
      ...p.counters,
      fecLossRate: estimate.lossRate,
      fecMeanBurst: estimate.meanBurst,
      fecK: chosen?.k ?? 0,
      fecM: chosen?.m ?? 0,
    };
  }
}

function newCounters(): PathFecCounters {
  return {
    fecProtectedPackets: 0,
    fecRepairPackets: 0,
    fecRepairBytes: 0,
    fecRecoveredPackets: 0,
    fecPeerRecoveredPackets: 0,
  };
}

/**
 * Bytes a REPAIR frame spends besides the source bytes of its shard, at most: the type, the
 * repair ID (an 8-byte varint at most), the names of its sources (the encoder keeps them within
 * {@link REPAIR_SOURCES_BYTES_MAX_DEFAULT}), the data length (a 4-byte varint at most) and the shard's length prefix. A
 * protected packet leaves this much of its room unused, so that a repair of it fits a packet.
 */
export const REPAIR_FRAME_OVERHEAD_MAX =
  1 + 8 + REPAIR_SOURCES_BYTES_MAX_DEFAULT + 4 + SHARD_LENGTH_PREFIX_BYTES;
