/**
 * One path of a session (docs/protocol.md §Paths): a (local locator, remote locator) pair with
 * its own packet-number space, ACK state, RTT, congestion controller, liveness and counters.
 * Path IDs, not addresses, key all of it: a path keeps its ID when NAT rebinding or a migration
 * changes its addresses, and connection IDs are per path so its packets are not linkable to the
 * session's other paths on the wire.
 *
 * A path's status:
 * - `validating`: its addresses are not yet proven by PATH_CHALLENGE/RESPONSE. It carries only
 *   probing frames and ACKs, and sends at most 3× the bytes it received (anti-amplification).
 * - `active`: carries data as the scheduler decides. `standby` is an active path the local side
 *   keeps in reserve: used only when no active path is usable.
 * - `suspect`: acknowledgements stopped for longer than a probe timeout. Its unacknowledged data
 *   was re-sent elsewhere; it is probed every probe timeout and returns to active on any ACK.
 * - `down`: suspect for too long, or its local address is gone. It is probed with backoff and
 *   re-validated when it answers.
 */
import type { Locator, SentFrame } from '../session.js';
import type { Frame } from '../wire/frames.js';
import { AckTracker } from '../recovery/ack-tracker.js';
import type { CongestionAlgorithm } from '../recovery/congestion.js';
import { LossDetection } from '../recovery/loss-detection.js';
import { ReplayWindow } from '../replay-window.js';

export type PathStatus = 'validating' | 'active' | 'standby' | 'suspect' | 'down';

/** A path challenge under way: to the path's own addresses, or to a candidate (rebinding). */
export interface PathChallenge {
  data: Uint8Array;
  local: Locator;
  remote: Locator;
  firstSentMs: number;
  lastSentMs: number;
  /** When to send it (again); after the last try, when to give up on it. */
  nextSendMs: number;
  tries: number;
  /** Bytes received from and sent to the challenged addresses (the 3× rule, RFC 9000 §8). */
  received: number;
  sent: number;
}

/** A lossy path's suspicion threshold grows to at most this many probe timeouts. */
export const SUSPECT_FACTOR_MAX = 8;
/** Without a false alarm for this long, the suspicion threshold halves again. */
export const SUSPECT_FACTOR_DECAY_MS = 10_000;
/** Copies of a redundant stream's frames owed to a path, at most this many. */
export const REDUNDANT_COPIES_MAX = 256;
/** Before an address is validated, at most this many times the bytes received are sent to it. */
export const AMPLIFICATION_FACTOR = 3;
/** PATH_RESPONSEs owed at most (more challenges than this in one burst are not answered). */
export const RESPONSES_MAX = 4;

export interface PathRecoveryConfig {
  initialRttMs: number;
  maxDatagramBytes: number;
  congestion: CongestionAlgorithm;
  maxAckDelayMs: number;
}

/** Counters of one path, kept across resets of its congestion state. */
export interface PathCounters {
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Stream bytes this path carried (first copies and retransmissions). */
  streamBytesSent: number;
  packetsLost: number;
  packetsAcked: number;
  /** Times this path went suspect, went down, and came back. */
  suspected: number;
  downs: number;
  recoveries: number;
  /** Packets sent to probe it (idle, suspect and down probing, challenges). */
  probesSent: number;
  /** Stream bytes re-sent elsewhere when it went suspect or down. */
  reinjectedBytes: number;
}

export class Path {
  status: PathStatus;
  /** The local side prefers not to use it while any other path is active. */
  standby = false;
  /** Our addresses of it are proven (our challenge was answered, or the handshake did). */
  validated: boolean;
  /** The connection ID the peer sends this path's packets to (ours), and the one we send to. */
  readonly localCid: Uint8Array;
  remoteCid: Uint8Array | undefined;
  nextPacketNumber = 0;
  readonly replay = new ReplayWindow();
  readonly acks: AckTracker;
  recovery: LossDetection<SentFrame>;
  /** Our challenge of its own addresses, and of a new remote address (NAT rebinding). */
  challenge: PathChallenge | undefined;
  candidate: PathChallenge | undefined;
  /** PATH_RESPONSEs owed, with where the challenge came from; bounded. */
  readonly responses: { data: Uint8Array; local: Locator; remote: Locator }[] = [];
  /** Whether the 3× rule binds its addresses: a path the peer opened, until validated. */
  amplificationLimited = true;
  unvalidatedReceived = 0;
  unvalidatedSent = 0;
  /** Frames of redundant streams sent on another path, to go on this one too. */
  readonly copies: { frame: Frame & { type: 'stream' }; sent: SentFrame }[] = [];
  /** Loss-detection figures of recovery states this path had before a reset. */
  readonly retired = { ptoFired: 0, bytesLost: 0, congestionEvents: 0, persistentCongestion: 0 };
  /** Last time a packet arrived on it, an ACK for it arrived, an ack-eliciting packet left. */
  lastReceivedMs: number;
  lastAckMs: number;
  lastElicitingSentMs: number;
  /** When stream data last left on this path (-Infinity: never). */
  lastStreamSentMs = -Infinity;
  /** Probes owed: PING for liveness, `probesPending` after a PTO (RFC 9002 §6.2.4). */
  pingPending = false;
  /** The application asked for an RTT measurement (`pingPaths`): mark the next eliciting packet. */
  pingAsked = false;
  probesPending = 0;
  appLimited = true;
  pacingUntilMs: number | undefined;
  /** Suspect or down since; when to probe next; the current backoff when down. */
  sinceMs: number;
  nextProbeMs: number | undefined;
  probeBackoffMs = 0;
  /**
   * Multiplier of the suspicion threshold: doubled by each false alarm (suspect, then
   * acknowledged again), up to {@link SUSPECT_FACTOR_MAX}; halved after a quiet while.
   */
  suspectFactor = 1;
  lastFalseAlarmMs = -Infinity;
  /**
   * Another path was suspect at the same time as this one: the silence was the peer's (its
   * process stalled, or everything between the hosts paused), not this path's, so coming back
   * from it is no false alarm of this path's and does not raise its threshold.
   */
  sharedSilence = false;
  /** Why it is suspect or down, for events and stats. */
  reason = '';
  readonly counters: PathCounters = {
    packetsSent: 0,
    packetsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    streamBytesSent: 0,
    packetsLost: 0,
    packetsAcked: 0,
    suspected: 0,
    downs: 0,
    recoveries: 0,
    probesSent: 0,
    reinjectedBytes: 0,
  };

  constructor(
    readonly id: number,
    public local: Locator,
    public remote: Locator,
    localCid: Uint8Array,
    validated: boolean,
    private readonly recoveryConfig: PathRecoveryConfig,
    now: number,
  ) {
    this.localCid = localCid;
    this.validated = validated;
    this.status = validated ? 'active' : 'validating';
    this.acks = new AckTracker(recoveryConfig.maxAckDelayMs);
    this.recovery = this.newRecovery(recoveryConfig.initialRttMs);
    this.lastReceivedMs = now;
    this.lastAckMs = now;
    this.lastElicitingSentMs = now;
    this.sinceMs = now;
  }

  /** Its local address went away (runtime input): nothing is sent until it moves. */
  localGone = false;
  /** Taken down by hand: nothing is sent on it until it is let up. */
  adminDown = false;

  /** Whether data may be scheduled on it (a suspect path only as the last resort). */
  get carriesData(): boolean {
    return this.status === 'active' || this.status === 'standby';
  }

  /**
   * Room to send `bytes` to the path's addresses: 3× what arrived from them while they are not
   * validated and the peer opened the path.
   */
  amplificationAllows(bytes: number): boolean {
    if (this.validated || !this.amplificationLimited) return true;
    return this.unvalidatedSent + bytes <= AMPLIFICATION_FACTOR * this.unvalidatedReceived;
  }

  /**
   * Starts congestion control and loss detection afresh (a new or re-validated path, RFC 9000
   * §9.4), keeping the RTT estimate as the new one's initial RTT. Returns the old records so
   * the caller can re-send what they carried.
   */
  resetRecovery(): LossDetection<SentFrame> {
    const old = this.recovery;
    // A zero RTT (a simulated link without delay) is no initial RTT: 1 ms at least.
    const rtt = old.rtt.hasSample
      ? Math.max(1, old.rtt.smoothedMs)
      : this.recoveryConfig.initialRttMs;
    this.retired.ptoFired += old.ptoFired;
    this.retired.bytesLost += old.bytesLost;
    this.retired.congestionEvents += old.cc.snapshot().congestionEvents;
    this.retired.persistentCongestion += old.persistentCongestionEvents;
    this.recovery = this.newRecovery(rtt);
    this.recovery.skipPacketNumbers(this.nextPacketNumber);
    this.probesPending = 0;
    this.pacingUntilMs = undefined;
    return old;
  }

  private newRecovery(initialRttMs: number): LossDetection<SentFrame> {
    return new LossDetection<SentFrame>({
      initialRttMs,
      maxDatagramBytes: this.recoveryConfig.maxDatagramBytes,
      algorithm: this.recoveryConfig.congestion,
    });
  }
}
