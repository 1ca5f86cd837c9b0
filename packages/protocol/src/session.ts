/**
 * One Braid session: its handshake, its packet protection and its frames. A `Session` is owned
 * and driven by an {@link Endpoint}, which routes datagrams to it by connection ID; the session
 * never sees a socket, a clock or global randomness.
 *
 * Handshake driving (docs/protocol.md §Handshake):
 * - The initiator sends INITIAL (Noise message 1, padded to 1200 bytes) and retransmits the same
 *   bytes on a probe timeout until HANDSHAKE (message 2) arrives. It can then send data: 1 RTT.
 *   With XX it answers with FINISH (message 3); with IK it sends a PING in a short packet. It
 *   retransmits that until any authenticated short packet from the responder confirms it.
 * - The responder answers INITIAL with HANDSHAKE, caches it, and answers duplicates from the
 *   cache, never sending more than 3× the bytes it received before the initiator's address is
 *   validated (RFC 9000 §8.1). The address is validated by FINISH (XX) or by the first short
 *   packet that opens with the new keys (IK). Then it sends HANDSHAKE_DONE.
 *
 * Once keys exist, every short packet goes through one path (docs/protocol.md §7):
 * frames are chosen by priority (ACK, control, datagrams, low-latency then bulk stream data),
 * the packet is sealed under the current key phase ({@link PacketKeys}), and ack-eliciting
 * packets are recorded by {@link LossDetection}, gated by its congestion window and pacer.
 * What a lost packet carried is handed back to its owner (streams, control state) and sent
 * again in new packets; packets themselves are never resent.
 */
import {
  asciiBytes,
  type ByteSlab,
  concatBytes,
  constantTimeEqual,
  copyBytes,
  toHex,
} from './bytes.js';
import { AEAD_TAG_BYTES, type CryptoProvider } from './crypto/provider.js';
import {
  BackpressureError,
  CloseCode,
  DatagramTooLargeError,
  DecryptError,
  LowOrderPointError,
  PeerIdentityMismatchError,
  HandshakeTimeoutError,
  SessionClosedError,
  StreamStateError,
  UnknownPathError,
  type BraidError,
  type RejectReason,
} from './errors.js';
import { Eid, type Identity } from './identity.js';
import { HandshakeState } from './noise/index.js';
import { PacketKeys, type KeyUpdateConfig } from './packet-keys.js';
import { randomBytes, type Random } from './random.js';
import {
  AMPLIFICATION_FACTOR,
  Path,
  REDUNDANT_COPIES_MAX,
  RESPONSES_MAX,
  SUSPECT_FACTOR_DECAY_MS,
  SUSPECT_FACTOR_MAX,
  type PathChallenge,
  type PathStatus,
} from './path/path.js';
import { dataPaths, locatorHost, type SchedulerName } from './path/scheduler.js';
import type { CongestionAlgorithm } from './recovery/congestion.js';
import { AckOfUnsentPacket, type SentPacket } from './recovery/loss-detection.js';
import type { LossEstimatorOptions } from './fec/loss-estimator.js';
import type { RebuiltPacket } from './fec/window-decoder.js';
import type { FecParams } from './fec/window-encoder.js';
import {
  RECOVERED_PER_FRAME_MAX,
  REPAIR_FRAME_OVERHEAD_MAX,
  SessionFec,
  type PathFecStats,
} from './fec/session-fec.js';
import { REJECT_AFTER_PACKETS, ReplayWindow } from './replay-window.js';
import {
  Streams,
  StreamViolation,
  type SentStreamFrame,
  type StreamEvent,
  resolveStreamPolicy,
  type FecSetting,
  type StreamPolicy,
} from './stream/streams.js';
import type { ReadResult } from './stream/recv-stream.js';
import { ByteWriter, WireDecodeError } from './wire/codec.js';
import {
  PATH_CHALLENGE_BYTES,
  datagramFrameBytes,
  frameBytes,
  decodeFrames,
  encodeFrames,
  isAckEliciting,
  type Frame,
} from './wire/frames.js';
import {
  CID_BYTES,
  decodePacketNumber,
  encodeLongHeader,
  writeShortHeader,
  parsePacket,
  HANDSHAKE_MAC_BYTES,
  LongType,
  MAX_DATAGRAM_BYTES,
  MIN_INITIAL_DATAGRAM_BYTES,
  PATTERN_NAMES,
  PatternId,
  SHORT_HEADER_BYTES,
  VERSION_1,
  type LongHeaderPacket,
  type ShortHeaderPacket,
} from './wire/packet.js';
import {
  decodeTransportParams,
  encodeTransportParams,
  type TransportParams,
} from './wire/transport-params.js';

/** An address as the runtime names it, e.g. `198.51.100.1:4433`; opaque to the protocol. */
export type Locator = string;
export interface PathTuple {
  local: Locator;
  remote: Locator;
}
export interface Transmit {
  from: Locator;
  to: Locator;
  bytes: Uint8Array;
}
export type SessionId = number;
export type Role = 'initiator' | 'responder';
export type SessionState = 'handshake' | 'established' | 'closing' | 'draining' | 'closed';

/** Largest DATAGRAM payload that fits a datagram of `datagramBytes` (type + 2-byte length). */
export function datagramPayloadMax(datagramBytes: number): number {
  return datagramBytes - SHORT_HEADER_BYTES - AEAD_TAG_BYTES - (1 + 2);
}
/** The largest UDP payload (65 535 − 8 − 20): what a receiver accepts at most. */
export const UDP_PAYLOAD_BYTES_MAX = 65_527;
/** Largest DATAGRAM payload that fits one default-size v1 packet. */
export const DATAGRAM_PAYLOAD_BYTES_MAX = datagramPayloadMax(MAX_DATAGRAM_BYTES);
/** Frame bytes a short packet of `datagramBytes` can carry. */
function payloadRoom(datagramBytes: number): number {
  return datagramBytes - SHORT_HEADER_BYTES - AEAD_TAG_BYTES;
}
export { AMPLIFICATION_FACTOR } from './path/path.js';
/** Short packets that arrive before their keys are kept (and opened later) up to this bound. */
export const EARLY_PACKETS_MAX = 8;
/** CONNECTION_CLOSE is re-sent in answer to late packets at most this many times. */
export const CLOSE_REPEATS_MAX = 3;

/** Options shared by every session of an endpoint; see {@link EndpointOptions} for defaults. */
export interface SessionConfig {
  identity: Identity;
  crypto: CryptoProvider;
  random: Random;
  handshakeTimeoutMs: number;
  initialRttMs: number;
  handshakeRetransmitMaxMs: number;
  datagramQueueMax: number;
  idleTimeoutMs: number;
  /** PING after this long without sending anything ack-eliciting (0: never). */
  keepaliveIntervalMs: number;
  /** Size of the datagrams this side sends (path MTU discovery will raise it per path). */
  maxDatagramBytes: number;
  /** The delay we promise before acknowledging (announced as max_ack_delay). */
  maxAckDelayMs: number;
  congestion: CongestionAlgorithm;
  keyUpdate: KeyUpdateConfig;
  /** Per-stream and session receive windows, stream limit and send buffer. */
  streamWindowBytes: number;
  connectionWindowBytes: number;
  streamWindowMaxBytes: number;
  connectionWindowMaxBytes: number;
  maxStreams: number;
  streamSendBufferBytes: number;
  /** How data of bulk and low-latency streams is spread over paths (redundant streams: all). */
  scheduler: SchedulerName;
  /** PING on an idle path of a multipath session this often (single path: keepalive). */
  pathProbeIntervalMs: number;
  /** A suspect path that stays silent this long is declared down. */
  pathDownAfterMs: number;
  /** Backoff cap of the probes of a down path (it rejoins within about this after it heals). */
  pathRecoveryProbeMaxMs: number;
  /** With every path down, the session is kept (suspended) this long; 0: close at idle timeout. */
  suspendTimeoutMs: number;
  /** Paths per session at most (path 0 included). */
  maxPaths: number;
  /** Whether a (local, remote) pair may form a path; by default, same address family. */
  pathFilter: (local: Locator, remote: Locator) => boolean;
  /** FEC: longest a protected packet waits for a repair covering it, and what `auto` aims for (docs/fec.md). */
  fecGroupDelayMs: number;
  fecHorizonMs: number;
  fecEstimator: LossEstimatorOptions;
  /** FEC for DATAGRAM frames (streams carry their own in their policy). */
  datagramFec: FecSetting;
  /** Where short packets' datagrams are cut from: one per endpoint, shared by its sessions. */
  datagramSlab: ByteSlab;
  /** Received datagrams are the session's to overwrite (see EndpointOptions). */
  receivedDatagramsOwned: boolean;
  /** Transmits are consumed before the next call in (see EndpointOptions). */
  borrowedTransmits: boolean;
}

export interface SessionStats {
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  datagramsSent: number;
  datagramsReceived: number;
  /** DATAGRAM payloads dropped because the peer's limit turned out smaller than ours. */
  datagramsDropped: number;
  handshakeRetransmits: number;
  /** Handshake round-trip time measured by the initiator (first INITIAL to HANDSHAKE), or -1. */
  handshakeRttMs: number;
  /** Responder: handshake replies not sent because of the 3× anti-amplification limit. */
  repliesWithheld: number;
  /** Round-trip time (RFC 9002 §5): last sample, smoothed, variation, minimum; ms. */
  rttMs: number;
  rttVarMs: number;
  minRttMs: number;
  latestRttMs: number;
  congestionAlgorithm: string;
  cwndBytes: number;
  ssthreshBytes: number;
  bytesInFlight: number;
  congestionEvents: number;
  /** Packets (and their bytes) declared lost by loss detection. */
  packetsLost: number;
  bytesLost: number;
  /** Stream bytes sent again after a loss (or as probe content). */
  retransmittedBytes: number;
  /** Stream bytes the peer acknowledged, counted once. */
  deliveredBytes: number;
  /** Stream bytes the application read from this session. */
  readBytes: number;
  /** Probe timeouts that fired, and persistent-congestion collapses. */
  ptoCount: number;
  persistentCongestion: number;
  /** Key updates done (send side), and the current send key phase. */
  keyUpdates: number;
  keyPhase: 0 | 1;
  streamsOpen: number;
  streamsOpened: number;
  /** Paths known, paths carrying data, failovers done, and whether the session is suspended. */
  paths: number;
  pathsUp: number;
  failovers: number;
  suspended: boolean;
  suspensions: number;
  /** FEC, all paths: the peer's packets rebuilt here, and what our sending side did. */
  fecRecoveredPackets: number;
  fecProtectedPackets: number;
  fecRepairPackets: number;
  fecRepairBytes: number;
  /** Our packets the peer reported rebuilding. */
  fecPeerRecoveredPackets: number;
  /**
   * Rebuilt packets that failed authentication (corrupt or forged repair), and repairs dropped
   * (by age or the decoder's bound) while packets they name were still missing.
   */
  fecRebuiltRejected: number;
  fecUnrecoveredRepairs: number;
}

/** One path's state and counters, FEC aside. */
export interface PathCoreStats {
  id: number;
  local: Locator;
  remote: Locator;
  status: PathStatus;
  standby: boolean;
  rttMs: number;
  minRttMs: number;
  rttVarMs: number;
  cwndBytes: number;
  bytesInFlight: number;
  /** Packets declared lost over packets acknowledged or lost, since the path was added. */
  lossRate: number;
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  streamBytesSent: number;
  packetsLost: number;
  ptoCount: number;
  suspected: number;
  downs: number;
  recoveries: number;
  probesSent: number;
  reinjectedBytes: number;
  /** Why it is suspect or down (empty otherwise). */
  reason: string;
}

/** What an operator sees of one path: with its FEC counters and estimate (docs/fec.md). */
export type PathStats = PathCoreStats & PathFecStats;

export type PathChange =
  | 'added'
  | 'validated'
  | 'up'
  | 'suspect'
  | 'down'
  | 'recovered'
  | 'rebound'
  | 'removed'
  | 'standby'
  | 'active';

/** What the session asks its endpoint to do; the endpoint turns these into events and counters. */
export type SessionOutput =
  | StreamEvent
  | { kind: 'established' }
  | { kind: 'datagram'; data: Uint8Array }
  | { kind: 'closed'; code: number; reason: string; byPeer: boolean; error?: BraidError }
  | { kind: 'reject'; reason: RejectReason; detail: string }
  | {
      kind: 'path';
      pathId: number;
      change: PathChange;
      local: Locator;
      remote: Locator;
      reason: string;
    }
  | { kind: 'failover'; from: number; to: number; reason: string; detectMs: number }
  | { kind: 'suspended' }
  | { kind: 'resumed'; suspendedMs: number }
  /** A packet marked by `pingPaths` was acknowledged on `pathId` after `rttMs`. */
  | { kind: 'ping'; pathId: number; rttMs: number }
  /** A connection ID the endpoint must route to this session's path, or stop routing. */
  | { kind: 'cid'; pathId: number; cid: Uint8Array; retired: boolean };

const MAC_LABEL = asciiBytes('braid mac v1');
const PROLOGUE_LABEL = asciiBytes('braid/1');

/** Key of the 16-byte handshake integrity tag: BLAKE2b-256("braid mac v1" ‖ responder EID). */
export function handshakeMacKey(crypto: CryptoProvider, responderEid: Eid): Uint8Array {
  return crypto.blake2b(concatBytes(MAC_LABEL, responderEid.bytes), 32);
}

export function computeHandshakeMac(
  crypto: CryptoProvider,
  macKey: Uint8Array,
  authenticated: Uint8Array,
): Uint8Array {
  return crypto.blake2b(authenticated, HANDSHAKE_MAC_BYTES, macKey);
}

function handshakePrologue(pattern: PatternId, odcid: Uint8Array, initiatorCid: Uint8Array) {
  const w = new ByteWriter(40);
  w.bytes(PROLOGUE_LABEL).u32(VERSION_1).u8(pattern).bytes(odcid).bytes(initiatorCid);
  return w.finish();
}

export interface InitiatorParams {
  remoteEid: Eid;
  /** The peer's static key, when known: the handshake is then IK (no identity hiding for us). */
  remoteStaticKey?: Uint8Array;
  path: PathTuple;
}

export class Session {
  readonly id: SessionId;
  readonly role: Role;
  readonly localCid: Uint8Array;
  /** The initiator's original destination CID: routes INITIAL duplicates to this session. */
  readonly odcid: Uint8Array;
  readonly pattern: PatternId;
  state: SessionState = 'handshake';
  remoteEid: Eid | undefined;
  remoteParams: TransportParams | undefined;
  handshakeHash: Uint8Array | undefined;
  private readonly counters = {
    packetsSent: 0,
    packetsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    datagramsSent: 0,
    datagramsReceived: 0,
    datagramsDropped: 0,
    handshakeRetransmits: 0,
    handshakeRttMs: -1,
    repliesWithheld: 0,
  };

  private readonly config: SessionConfig;
  private readonly macKey: Uint8Array;
  private handshake: HandshakeState | undefined;
  private readonly expectedEid: Eid | undefined;
  private keys: PacketKeys | undefined;
  private readonly streams: Streams;
  private readonly fec: SessionFec;
  /** Packets FEC rebuilt, to be processed once the packet that completed them is done. */
  private rebuilt: RebuiltPacket[] = [];
  private processingRebuilt = false;
  /** The FEC parameters of the packet `fillEliciting` just filled, if it is protected. */
  private filledFec: FecParams | undefined;
  /** Paths by ID; path 0 is the handshake's. */
  private readonly paths = new Map<number, Path>();
  /**
   * The same paths as a list, for the per-packet turn-taking. Replaced, never changed in place,
   * when a path comes or goes, so a loop over it may remove paths as it goes.
   */
  private pathList: Path[] = [];
  private readonly path0: Path;
  /** Connection IDs by path ID: ours (the peer sends to them) and the peer's. */
  private readonly localCids = new Map<number, Uint8Array>();
  private readonly remoteCids = new Map<number, Uint8Array>();
  /** Path IDs up to this have a connection ID of ours; the next path ID we open. */
  private cidsIssuedUpTo = 0;
  private nextPathId = 1;
  /** Our locators (advertised with ADD_ADDRESS) and the peer's, by sequence number. */
  private readonly localAddresses = new Map<Locator, number>();
  private nextAddressSeq = 0;
  private readonly remoteAddresses = new Map<number, Locator>();
  /** Address pairs whose validation failed; forgotten when an address comes or goes. */
  private readonly unreachable = new Set<string>();
  /** The path data went on last (active-backup sticks to it). */
  private currentPath: Path | undefined;
  private suspendedSinceMs: number | undefined;
  private readonly sessionCounters = { failovers: 0, suspensions: 0 };
  /** Round-robin start over paths for path-specific sends. */
  private pathTurn = 0;
  /** Frames owed to the peer outside the streams: HANDSHAKE_DONE, path and address control. */
  private handshakeDonePending = false;
  private readonly control: Frame[] = [];
  private lastReceivedMs: number;
  /** An ack-eliciting packet went out since the last receipt (idle timer rule, RFC 9000 §10.1). */
  private elicitingSinceReceive = false;
  private lastNowMs: number;
  /** A graceful close waiting for every stream byte to be acknowledged. */
  private shutdown: { code: number; reason: string; deadlineMs: number } | undefined;
  /** Packets are never numbered at or above this (lowered by a test hook to reach it). */
  private packetNumberLimit = REJECT_AFTER_PACKETS;

  /** Initiator: the flight to retransmit until answered (INITIAL, then FINISH or nothing). */
  private retransmitFlight: Uint8Array | undefined;
  private retransmitAtMs: number | undefined;
  private retransmitCount = 0;
  private firstInitialSentMs = -1;
  private confirmedFlag = false;
  private replyFirstSentMs = -1;
  private replySends = 0;
  private readonly startedMs: number;
  private readonly handshakeDeadlineMs: number;

  /** Responder: cached HANDSHAKE reply and the anti-amplification ledger. */
  private handshakeReply: Uint8Array | undefined;
  private addressValidated: boolean;
  private unvalidatedBytesReceived = 0;
  private unvalidatedBytesSent = 0;
  private earlyPackets: { path: PathTuple; packet: ShortHeaderPacket; datagram: Uint8Array }[] = [];

  private readonly outbox: Transmit[] = [];
  private readonly pendingDatagrams: Uint8Array[] = [];
  private closeFrame: Frame | undefined;
  private closeRepeats = 0;
  private drainUntilMs: number | undefined;
  readonly outputs: SessionOutput[] = [];
  private sealScratch: SealScratch | undefined;
  private readonly packetFrames: Frame[] = [];
  /** `buildPacket`'s order of paths, refilled for each packet. */
  private readonly packetPathOrder: Path[] = [];

  private constructor(
    id: SessionId,
    role: Role,
    config: SessionConfig,
    path: PathTuple,
    pattern: PatternId,
    odcid: Uint8Array,
    macKey: Uint8Array,
    now: number,
    expectedEid?: Eid,
  ) {
    this.id = id;
    this.role = role;
    this.config = config;
    this.pattern = pattern;
    this.odcid = odcid;
    this.macKey = macKey;
    this.expectedEid = expectedEid;
    this.localCid = randomBytes(config.random, CID_BYTES);
    this.addressValidated = role === 'initiator';
    this.startedMs = now;
    this.handshakeDeadlineMs = now + config.handshakeTimeoutMs;
    this.lastReceivedMs = now;
    this.lastNowMs = now;
    this.fec = new SessionFec({
      maxGroupDelayMs: config.fecGroupDelayMs,
      horizonMs: config.fecHorizonMs,
      estimator: config.fecEstimator,
    });
    this.streams = new Streams(
      role === 'initiator',
      {
        streamWindow: config.streamWindowBytes,
        connectionWindow: config.connectionWindowBytes,
        streamWindowMax: Math.max(config.streamWindowBytes, config.streamWindowMaxBytes),
        connectionWindowMax: Math.max(
          config.connectionWindowBytes,
          config.connectionWindowMaxBytes,
        ),
        maxStreams: config.maxStreams,
        sendBufferMax: config.streamSendBufferBytes,
      },
      () => this.primaryPath().recovery.rtt.smoothedMs,
    );
    // The responder's path 0 is proven by the handshake itself (FINISH or a first short packet).
    this.path0 = this.newPath(0, path.local, path.remote, this.localCid, role === 'initiator', now);
    this.path0.amplificationLimited = false;
    this.localCids.set(0, this.localCid);
    this.addPath(this.path0);
  }

  /** The peer's connection ID of path 0 (from the handshake). */
  get remoteCid(): Uint8Array | undefined {
    return this.path0.remoteCid;
  }

  private set remoteCid(cid: Uint8Array) {
    this.path0.remoteCid = cid;
    this.remoteCids.set(0, cid);
  }

  /** The path data goes on now (the handshake's before any other exists), as addresses. */
  get path(): PathTuple {
    const p = this.primaryPath();
    return { local: p.local, remote: p.remote };
  }

  private primaryPath(): Path {
    return (
      dataPaths(this.pathList, this.config.scheduler, this.currentPath)[0] ??
      this.currentPath ??
      this.path0
    );
  }

  private addPath(path: Path): void {
    this.paths.set(path.id, path);
    this.pathList = [...this.pathList, path];
  }

  private newPath(
    id: number,
    local: Locator,
    remote: Locator,
    localCid: Uint8Array,
    validated: boolean,
    now: number,
  ): Path {
    const best = this.paths.size > 0 ? this.primaryPath().recovery.rtt : undefined;
    return new Path(
      id,
      local,
      remote,
      localCid,
      validated,
      {
        initialRttMs: best?.hasSample ? Math.max(1, best.smoothedMs) : this.config.initialRttMs,
        maxDatagramBytes: this.config.maxDatagramBytes,
        congestion: this.config.congestion,
        maxAckDelayMs: this.config.maxAckDelayMs,
      },
      now,
    );
  }

  /** Creates an initiator session and queues its INITIAL. */
  static initiate(id: SessionId, config: SessionConfig, params: InitiatorParams, now: number) {
    const pattern = params.remoteStaticKey ? PatternId.IK : PatternId.XX;
    const odcid = randomBytes(config.random, CID_BYTES);
    const macKey = handshakeMacKey(config.crypto, params.remoteEid);
    const s = new Session(
      id,
      'initiator',
      config,
      params.path,
      pattern,
      odcid,
      macKey,
      now,
      params.remoteEid,
    );
    if (
      params.remoteStaticKey &&
      !Eid.fromPublicKey(config.crypto, params.remoteStaticKey).equals(params.remoteEid)
    )
      throw new PeerIdentityMismatchError('the given static key does not hash to the given EID');
    s.handshake = new HandshakeState({
      protocolName: PATTERN_NAMES[pattern],
      initiator: true,
      crypto: config.crypto,
      random: config.random,
      prologue: handshakePrologue(pattern, odcid, s.localCid),
      staticKeyPair: { secretKey: config.identity.secretKey, publicKey: config.identity.publicKey },
      ...(params.remoteStaticKey ? { remoteStaticKey: params.remoteStaticKey } : {}),
    });
    // XX message 1 is sent in clear (only `e`): it carries no parameters. IK's is encrypted.
    const payload =
      pattern === PatternId.IK ? encodeTransportParams(s.localParams()) : new Uint8Array(0);
    const message = s.handshake.writeMessage(payload);
    const initial = encodeLongHeader(
      {
        type: LongType.INITIAL,
        dcid: odcid,
        scid: s.localCid,
        pattern,
        message,
        padToBytes: MIN_INITIAL_DATAGRAM_BYTES,
      },
      (a) => computeHandshakeMac(config.crypto, macKey, a),
    );
    s.retransmitFlight = initial;
    s.firstInitialSentMs = now;
    s.sendRaw(initial);
    s.retransmitAtMs = now + s.probeTimeoutMs();
    return s;
  }

  /**
   * Creates a responder session from a verified INITIAL. Returns the session, or the reason to
   * refuse the packet (nothing is kept then).
   */
  static accept(
    id: SessionId,
    config: SessionConfig,
    macKey: Uint8Array,
    path: PathTuple,
    packet: LongHeaderPacket,
    datagramBytes: number,
    now: number,
    acceptPeer: (eid: Eid) => boolean,
  ): Session | { reason: RejectReason; detail: string } {
    const pattern = packet.pattern;
    if (pattern !== PatternId.XX && pattern !== PatternId.IK)
      return { reason: 'handshake_failed', detail: `pattern ${pattern} is not offered` };
    const s = new Session(id, 'responder', config, path, pattern, packet.dcid.slice(), macKey, now);
    s.remoteCid = packet.scid.slice();
    s.unvalidatedBytesReceived = datagramBytes;
    const hs = new HandshakeState({
      protocolName: PATTERN_NAMES[pattern],
      initiator: false,
      crypto: config.crypto,
      random: config.random,
      prologue: handshakePrologue(pattern, packet.dcid, packet.scid),
      staticKeyPair: { secretKey: config.identity.secretKey, publicKey: config.identity.publicKey },
    });
    let payload: Uint8Array;
    try {
      payload = hs.readMessage(packet.message);
    } catch (err) {
      return handshakeFailure(err);
    }
    if (pattern === PatternId.IK) {
      const peer = s.learnPeer(hs, payload, packet.scid, acceptPeer);
      if (peer) return peer;
    }
    let reply: Uint8Array;
    try {
      reply = hs.writeMessage(encodeTransportParams(s.localParams()));
    } catch (err) {
      return handshakeFailure(err);
    }
    s.handshake = hs;
    s.handshakeReply = encodeLongHeader(
      { type: LongType.HANDSHAKE, dcid: packet.scid, scid: s.localCid, message: reply },
      (a) => computeHandshakeMac(config.crypto, macKey, a),
    );
    if (hs.isComplete) s.installKeys(hs, now); // IK: keys now, but no 1-RTT data until validated
    s.sendHandshakeReply(now);
    return s;
  }

  // ---- commands -------------------------------------------------------------------------

  /**
   * Size of the datagrams this session sends: ours, or the peer's if smaller (both sides'
   * `maxDatagramBytes`, until path MTU discovery measures the path).
   */
  get packetBytes(): number {
    const peer = this.remoteParams?.maxUdpPayloadBytes ?? this.config.maxDatagramBytes;
    return Math.min(this.config.maxDatagramBytes, peer);
  }

  /** Largest datagram payload the session accepts now: what fits a packet, and the peer's limit. */
  get maxDatagramBytes(): number {
    const path = datagramPayloadMax(this.packetBytes);
    const peer = this.remoteParams?.maxDatagramFrameBytes ?? path;
    return Math.min(peer, path);
  }

  sendDatagram(data: Uint8Array): void {
    this.assertOpen();
    if (data.length > this.maxDatagramBytes)
      throw new DatagramTooLargeError(
        `datagram of ${data.length} bytes exceeds the limit of ${this.maxDatagramBytes}`,
      );
    if (this.pendingDatagrams.length >= this.config.datagramQueueMax)
      throw new BackpressureError(`datagram queue is full (${this.config.datagramQueueMax})`);
    this.pendingDatagrams.push(copyBytes(data));
  }

  /** Opens a stream to the peer; throws StreamLimitError when the peer's limit is reached. */
  openStream(policy?: Partial<StreamPolicy>): number {
    this.assertOpen();
    if (this.state !== 'established' || !this.remoteParams)
      throw new StreamStateError(`session ${this.id} is not established yet`);
    return this.streams.open(resolveStreamPolicy(policy));
  }

  /** Writes as much of `data` as the stream's send buffer takes; returns the bytes taken. */
  streamWrite(streamId: number, data: Uint8Array): number {
    this.assertOpen();
    return this.streams.write(streamId, data);
  }

  /** Ends the sending half: the peer reads the bytes written so far, then the end. */
  streamEnd(streamId: number): void {
    this.assertOpen();
    this.streams.end(streamId);
    this.takeStreamEvents();
  }

  /** Abandons the sending half with an application error code. */
  streamReset(streamId: number, code: number): void {
    this.assertOpen();
    this.streams.reset(streamId, code);
    this.takeStreamEvents();
  }

  /** Asks the peer to stop sending on this stream; unread bytes are discarded. */
  streamStopSending(streamId: number, code: number): void {
    this.assertOpen();
    this.streams.stopSending(streamId, code);
    this.takeStreamEvents();
  }

  /** Reads up to `max` bytes in order; undefined when nothing is ready yet. */
  streamRead(now: number, streamId: number, max: number): ReadResult | undefined {
    const r = this.streams.read(streamId, max, now);
    // Reading the end may free the stream: its `stream_closed` goes out now.
    this.takeStreamEvents();
    return r;
  }

  streamWritable(streamId: number): number {
    return this.streams.writable(streamId);
  }

  setStreamPolicy(streamId: number, policy: Partial<StreamPolicy>): void {
    this.streams.setPolicy(streamId, resolveStreamPolicy(policy));
  }

  streamPolicy(streamId: number): StreamPolicy {
    return this.streams.policy(streamId);
  }

  streamIds(): number[] {
    return this.streams.ids();
  }

  close(now: number, code: number, reason: string): void {
    if (this.state === 'closing' || this.state === 'draining' || this.state === 'closed') return;
    this.shutdown = undefined;
    if (this.keys && this.remoteCid) {
      this.closeFrame = { type: 'connection_close', code, reason };
      this.pendingDatagrams.length = 0;
      this.sendClose();
      this.state = 'closing';
      this.drainUntilMs = now + 3 * this.closePtoMs();
    } else {
      this.state = 'closed';
    }
    this.outputs.push({ kind: 'closed', code, reason, byPeer: false });
  }

  /**
   * Closes once every byte written to every stream is acknowledged (or at `timeoutMs`, then
   * as {@link close}); meanwhile streams drain and the application may still read.
   */
  closeGracefully(now: number, reason: string, timeoutMs: number): void {
    if (this.state !== 'established' && this.state !== 'handshake') return;
    this.shutdown = { code: CloseCode.NO_ERROR, reason, deadlineMs: now + timeoutMs };
    this.checkShutdown(now);
  }

  /** Whether a graceful close is under way. */
  get shuttingDown(): boolean {
    return this.shutdown !== undefined;
  }

  private assertOpen(): void {
    if (this.state !== 'handshake' && this.state !== 'established')
      throw new SessionClosedError(`session ${this.id} is ${this.state}`);
  }

  private checkShutdown(now: number): void {
    const sd = this.shutdown;
    if (!sd) return;
    if (now >= sd.deadlineMs) this.close(now, sd.code, `${sd.reason} (drain timed out)`.trim());
    else if (
      this.state === 'established' &&
      this.streams.allAcknowledged &&
      this.pendingDatagrams.length === 0
    )
      this.close(now, sd.code, sd.reason);
  }

  // ---- inputs ---------------------------------------------------------------------------

  /** A HANDSHAKE or FINISH packet whose mac the endpoint has verified, or a duplicate INITIAL. */
  handleLong(
    now: number,
    path: PathTuple,
    packet: LongHeaderPacket,
    size: number,
    acceptPeer: (eid: Eid) => boolean,
  ): void {
    this.counters.bytesReceived += size;
    if (!this.addressValidated) this.unvalidatedBytesReceived += size;
    if (this.state === 'closing' || this.state === 'draining' || this.state === 'closed') {
      this.reject('closed', 'handshake packet for a closing session');
      return;
    }
    if (this.role === 'responder' && packet.type === LongType.INITIAL) {
      // A retransmitted INITIAL: the reply was lost, or is still in flight. Answer from cache,
      // where this copy came from: a NAT may have rebound the initiator since the first one.
      // (The 3× budget is the session's, so a spoofed copy cannot buy more replies.)
      if (!this.addressValidated) {
        this.path0.local = path.local;
        this.path0.remote = path.remote;
        this.sendHandshakeReply(now);
      }
      this.reject('duplicate', 'INITIAL already answered');
      return;
    }
    if (this.role === 'initiator' && packet.type === LongType.HANDSHAKE) {
      this.handleHandshakeReply(now, packet);
      return;
    }
    if (this.role === 'responder' && packet.type === LongType.FINISH) {
      this.handleFinish(now, path, packet, acceptPeer);
      return;
    }
    this.reject('unexpected', `long packet type ${packet.type} for a ${this.role}`);
  }

  private handleHandshakeReply(now: number, packet: LongHeaderPacket): void {
    const hs = this.handshake;
    if (this.state !== 'handshake' || !hs) {
      // Our FINISH may have been lost: the duplicate reply says the responder still waits.
      if (!this.confirmedFlag && this.retransmitFlight) this.sendRaw(this.retransmitFlight);
      this.reject('duplicate', 'HANDSHAKE already processed');
      return;
    }
    const payload = this.readHandshakeMessage(now, hs, packet.message);
    if (!payload) return;
    if (this.retransmitCount === 0) this.counters.handshakeRttMs = now - this.firstInitialSentMs;
    const remoteStatic = hs.remoteStaticKey;
    if (!remoteStatic) {
      this.failHandshake({ reason: 'handshake_failed', detail: 'no remote static key' });
      return;
    }
    const eid = Eid.fromPublicKey(this.config.crypto, remoteStatic);
    if (!this.expectedEid || !eid.equals(this.expectedEid)) {
      const error = new PeerIdentityMismatchError(
        `peer proved ${eid.toString()}, expected ${this.expectedEid?.toString()}`,
      );
      this.failHandshake(
        { reason: 'peer_mismatch', detail: error.message },
        error,
        CloseCode.PEER_IDENTITY_MISMATCH,
      );
      return;
    }
    let params: TransportParams;
    try {
      params = decodeTransportParams(payload);
    } catch (err) {
      this.failHandshake(handshakeFailure(err), err);
      return;
    }
    if (!constantTimeEqual(params.connectionId, packet.scid)) {
      this.failHandshake({ reason: 'handshake_failed', detail: 'connection ID mismatch' });
      return;
    }
    this.remoteEid = eid;
    this.remoteParams = params;
    this.streams.setPeerLimits(params);
    this.remoteCid = packet.scid.slice();
    this.retransmitCount = 0;
    if (this.counters.handshakeRttMs >= 0)
      this.path0.recovery.rtt.update(this.counters.handshakeRttMs, 0, 0, false);
    if (this.pattern === PatternId.XX) {
      let message: Uint8Array;
      try {
        message = hs.writeMessage(encodeTransportParams(this.localParams()));
      } catch (err) {
        this.failHandshake(handshakeFailure(err), err);
        return;
      }
      const finish = encodeLongHeader(
        { type: LongType.FINISH, dcid: this.remoteCid, scid: this.localCid, message },
        (a) => computeHandshakeMac(this.config.crypto, this.macKey, a),
      );
      this.retransmitFlight = finish;
      this.sendRaw(finish);
    } else {
      // IK: the handshake is done; a PING in a short packet proves our keys to the responder.
      this.retransmitFlight = undefined;
      this.path0.pingPending = true;
    }
    this.installKeys(hs, now);
    this.state = 'established';
    this.retransmitAtMs = now + this.probeTimeoutMs();
    this.outputs.push({ kind: 'established' });
    this.startMultipath(now);
  }

  private handleFinish(
    now: number,
    path: PathTuple,
    packet: LongHeaderPacket,
    acceptPeer: (eid: Eid) => boolean,
  ): void {
    const hs = this.handshake;
    if (this.state !== 'handshake' || !hs || this.pattern !== PatternId.XX) {
      // A retransmitted FINISH: our HANDSHAKE_DONE was lost. Say it again.
      if (this.state === 'established') this.handshakeDonePending = true;
      this.reject('duplicate', 'FINISH already processed');
      return;
    }
    const payload = this.readHandshakeMessage(now, hs, packet.message);
    if (!payload) return;
    const refused = this.learnPeer(hs, payload, packet.scid, acceptPeer);
    if (refused) {
      this.installKeys(hs, now);
      this.addressValidated = true;
      this.outputs.push(refused.outputReject);
      this.close(now, CloseCode.PEER_REFUSED, 'peer not allowed');
      return;
    }
    this.installKeys(hs, now);
    this.validateAddress(now, path);
    this.processEarlyPackets(now);
  }

  /** A short-header packet routed to this session by its destination CID (of path `pathId`). */
  /**
   * A short packet routed to this session's path `pathId`; `datagram` is the whole datagram
   * (header and sealed payload), kept by FEC when the packet is protected.
   */
  handleShort(
    now: number,
    tuple: PathTuple,
    pathId: number,
    packet: ShortHeaderPacket,
    datagram: Uint8Array,
  ): void {
    this.receiveShort(now, tuple, pathId, packet, datagram, false);
    if (this.processingRebuilt) return;
    this.processingRebuilt = true;
    try {
      // Bounded: each rebuilt packet is one missing source of a group the peer announced.
      for (let i = 0; i < REBUILT_PER_DATAGRAM_MAX && this.rebuilt.length > 0; i++)
        this.processRebuilt(now, this.rebuilt.shift()!);
      this.rebuilt.length = 0;
    } finally {
      this.processingRebuilt = false;
    }
  }

  /** A packet FEC rebuilt goes through packet processing; only one that authenticates counts. */
  private processRebuilt(now: number, rb: RebuiltPacket): void {
    const path = this.paths.get(rb.pathId);
    const cid = this.localCids.get(rb.pathId) ?? (rb.pathId === 0 ? this.localCid : undefined);
    const parsed = parsePacket(rb.bytes);
    if (
      !path ||
      !cid ||
      !parsed.ok ||
      parsed.packet.form !== 'short' ||
      !constantTimeEqual(parsed.packet.dcid, cid)
    ) {
      this.fec.onRebuiltRejected();
      return;
    }
    if (!this.receiveShort(now, path, rb.pathId, parsed.packet, rb.bytes, true)) {
      this.fec.onRebuiltRejected();
      return;
    }
    this.fec.onRebuiltAccepted(rb.pathId, rb.packetNumber);
  }

  /**
   * Processes one short packet; `rebuilt`: FEC rebuilt it from repairs; it did not come off the wire.
   * Returns whether it authenticated (and was not a duplicate).
   */
  private receiveShort(
    now: number,
    tuple: PathTuple,
    pathId: number,
    packet: ShortHeaderPacket,
    datagram: Uint8Array,
    rebuilt: boolean,
  ): boolean {
    const size = datagram.length;
    this.lastNowMs = now;
    if (this.state === 'closed') {
      if (!rebuilt) this.reject('closed', 'session closed');
      return false;
    }
    const keys = this.keys;
    if (!keys) {
      if (rebuilt) return false;
      if (this.earlyPackets.length >= EARLY_PACKETS_MAX || pathId !== 0) {
        this.reject('no_keys', 'short packet before the handshake completed');
        return false;
      }
      const copy = copyBytes(datagram);
      const parsed = parsePacket(copy);
      if (parsed.ok && parsed.packet.form === 'short')
        this.earlyPackets.push({ path: tuple, packet: parsed.packet, datagram: copy });
      return false;
    }
    let path = this.paths.get(pathId);
    if (!path && !this.localCids.has(pathId)) {
      this.reject('unknown_cid', `path ${pathId} is not open`);
      return false;
    }
    const replay = path?.replay ?? new ReplayWindow();
    const pn = decodePacketNumber(replay.largest, packet.truncatedPacketNumber);
    if (!replay.check(pn)) {
      // A rebuilt packet whose original arrived after all is no error.
      if (!rebuilt)
        this.reject('replay', `packet ${pn} of path ${pathId} already received or too old`);
      return false;
    }
    // Opened over itself when the datagram is ours to overwrite and nothing keeps it sealed:
    // FEC keeps a protected packet as it came (a source for its group's repair).
    const inPlace = this.config.receivedDatagramsOwned && !rebuilt && !packet.fecProtected;
    const plaintext = keys.open(
      now,
      pathId,
      pn,
      packet.keyPhase,
      packet.header,
      packet.sealed,
      inPlace,
    );
    if (!plaintext) {
      if (!rebuilt)
        this.reject('auth_failed', `packet ${pn} of path ${pathId} failed authentication`);
      return false;
    }
    if (!path) {
      // The peer opened a path: its first packet authenticated. Validate it before using it.
      path = this.acceptPath(now, pathId, tuple);
      if (!path) {
        this.reject('path_limit', `no room for path ${pathId}`);
        return false;
      }
    }
    path.replay.accept(pn);
    if (keys.phaseChanged) keys.commitReceivePhase(now, packet.keyPhase, 3 * this.closePtoMs());
    if (!rebuilt) {
      this.counters.packetsReceived++;
      this.counters.bytesReceived += size;
      path.counters.packetsReceived++;
      path.counters.bytesReceived += size;
      // Only what came off the wire, authenticated, is kept as a source (window-decoder.ts).
      if (packet.fecProtected)
        this.queueRebuilt(this.fec.onProtectedReceived(now, pathId, pn, datagram));
    }
    path.lastReceivedMs = now;
    this.lastReceivedMs = now;
    this.elicitingSinceReceive = false;
    // A down path that carries packets again may have healed: probe it now, not at backoff.
    if (
      path.status === 'down' &&
      !path.adminDown &&
      !path.localGone &&
      path.nextProbeMs !== undefined &&
      path.nextProbeMs > now
    ) {
      path.nextProbeMs = now;
      path.probeBackoffMs = Math.max(100, this.suspectProbeMs(path)) / 2;
    }
    if (rebuilt) {
      // Arrived, in effect, where the path is now: no address change, no 3× credit.
    } else if (tuple.local !== path.local || tuple.remote !== path.remote)
      this.onNewAddress(now, path, tuple, size, pn === path.replay.largest);
    else if (!path.validated) path.unvalidatedReceived += size;
    if (this.state === 'closing') {
      if (this.closeFrame && this.closeRepeats < CLOSE_REPEATS_MAX) {
        this.closeRepeats++;
        this.sendClose();
      }
      return true;
    }
    if (this.state === 'draining') return true;
    let frames: Frame[];
    try {
      frames = decodeFrames(plaintext);
    } catch (err) {
      const detail = err instanceof WireDecodeError ? err.message : 'bad frame';
      this.close(now, CloseCode.FRAME_ENCODING_ERROR, detail);
      return true;
    }
    if (this.role === 'initiator' && !this.confirmedFlag) this.confirm();
    if (this.role === 'responder' && !this.addressValidated && pathId === 0)
      this.validateAddress(now, tuple);
    let elicits = false;
    for (const frame of frames) {
      if (isAckEliciting(frame)) elicits = true;
      if (!this.handleFrame(now, path, tuple, frame)) return true;
    }
    // The path may have been abandoned by a frame of this very packet.
    if (this.paths.get(pathId) === path) path.acks.onPacket(now, pn, elicits);
    this.takeStreamEvents();
    this.checkShutdown(now);
    return true;
  }

  private queueRebuilt(packets: readonly RebuiltPacket[]): void {
    for (const p of packets)
      if (this.rebuilt.length < REBUILT_PER_DATAGRAM_MAX) this.rebuilt.push(p);
  }

  /** Applies one frame; false when it closed the session. */
  private handleFrame(now: number, path: Path, tuple: PathTuple, frame: Frame): boolean {
    switch (frame.type) {
      case 'repair':
        this.queueRebuilt(this.fec.onRepairFrame(now, frame));
        return true;
      case 'recovered': {
        let count = 0;
        for (const r of frame.ranges) count += r.largest - r.smallest + 1;
        if (count > RECOVERED_PER_FRAME_MAX) {
          this.close(
            now,
            CloseCode.FRAME_ENCODING_ERROR,
            `RECOVERED names ${count} packets (at most ${RECOVERED_PER_FRAME_MAX})`,
          );
          return false;
        }
        if (this.paths.has(frame.pathId)) this.fec.onRecoveredFrame(frame.pathId, frame.ranges);
        return true;
      }
      case 'ack': {
        const target = this.paths.get(frame.pathId ?? 0);
        // An ACK for a path we dropped since: its packets were re-sent already.
        return target ? this.handleAck(now, target, frame) : true;
      }
      case 'datagram':
        this.counters.datagramsReceived++;
        this.outputs.push({ kind: 'datagram', data: frame.data });
        return true;
      case 'handshake_done':
        if (this.role === 'responder') {
          this.close(now, CloseCode.PROTOCOL_VIOLATION, 'HANDSHAKE_DONE from the initiator');
          return false;
        }
        return true;
      case 'connection_close':
        this.state = 'draining';
        this.drainUntilMs = now + 3 * this.closePtoMs();
        this.shutdown = undefined;
        this.pendingDatagrams.length = 0;
        this.takeStreamEvents();
        this.outputs.push({ kind: 'closed', code: frame.code, reason: frame.reason, byPeer: true });
        return false;
      case 'ping':
      case 'padding':
        return true;
      case 'path_challenge':
        // Answered on the path it came on, to the address it came from (RFC 9000 §8.2.2).
        if (path.responses.length < RESPONSES_MAX)
          path.responses.push({ data: frame.data, local: tuple.local, remote: tuple.remote });
        return true;
      case 'path_response':
        this.onPathResponse(now, frame.data);
        return true;
      case 'path_cid':
        if (
          frame.pathId > 0 &&
          !this.remoteCids.has(frame.pathId) &&
          this.remoteCids.size < 2 * this.config.maxPaths
        ) {
          this.remoteCids.set(frame.pathId, frame.cid);
          // The peer may have opened the path before this frame arrived (reordering).
          const opened = this.paths.get(frame.pathId);
          if (opened && !opened.remoteCid) opened.remoteCid = frame.cid;
          this.openPaths(now);
        }
        return true;
      case 'add_address':
        if (this.remoteAddresses.size < ADDRESSES_MAX) {
          this.remoteAddresses.set(frame.seq, frame.locator);
          this.unreachable.clear();
          this.openPaths(now);
        }
        return true;
      case 'remove_address': {
        const gone = this.remoteAddresses.get(frame.seq);
        this.remoteAddresses.delete(frame.seq);
        if (gone !== undefined)
          for (const p of this.pathList)
            if (p.remote === gone && p.id !== 0) this.removePath(now, p, 'peer address gone', true);
        return true;
      }
      case 'path_abandon': {
        const p = this.paths.get(frame.pathId);
        if (p && p.id !== 0) this.removePath(now, p, 'abandoned by the peer', false);
        return true;
      }
      default: {
        const violation = this.streams.onFrame(frame);
        if (violation instanceof StreamViolation) {
          this.close(now, violation.code, violation.reason);
          return false;
        }
        return true;
      }
    }
  }

  private handleAck(now: number, path: Path, frame: Frame & { type: 'ack' }): boolean {
    const outcome = path.recovery.onAck(
      now,
      frame.ranges,
      frame.ackDelayMs,
      this.peerMaxAckDelayMs,
      this.confirmed,
      path.appLimited,
    );
    if (outcome instanceof AckOfUnsentPacket) {
      this.close(
        now,
        CloseCode.PROTOCOL_VIOLATION,
        `ACK of packet ${outcome.packetNumber} of path ${path.id}, never sent`,
      );
      return false;
    }
    if (outcome.acked.length > 0) {
      path.lastAckMs = now;
      path.counters.packetsAcked += outcome.acked.length;
      if (path.status === 'suspect') this.pathUp(now, path);
    }
    for (const p of outcome.acked) {
      if (p.ackEliciting) this.fec.onOutcome(path.id, p.packetNumber, false);
      if (p.keyGeneration !== undefined) this.keys?.onAcked(p.keyGeneration);
      for (const f of p.frames) {
        if (f.kind === 'ping_request') this.pingAnswered(now, path, p, frame);
        else this.onFrameAcked(f);
      }
    }
    this.onPacketsLost(path, outcome.lost);
    return true;
  }

  /**
   * The round trip of a packet `pingPaths` marked: from its sending to this ACK, less the
   * delay the peer reports having held the ACK (RFC 9002 §5.3) when the packet is the one the
   * ACK was sent for.
   */
  private pingAnswered(
    now: number,
    path: Path,
    p: SentPacket<SentFrame>,
    ack: Frame & { type: 'ack' },
  ): void {
    const held = p.packetNumber === ack.ranges[0]?.largest ? ack.ackDelayMs : 0;
    const rttMs = Math.max(0, now - p.sentTimeMs - Math.min(held, this.peerMaxAckDelayMs));
    this.outputs.push({ kind: 'ping', pathId: path.id, rttMs });
  }

  /**
   * Asks for one RTT measurement on every path that carries data or is being probed back:
   * each sends an ack-eliciting packet at once, and its ACK yields a `ping` output. Returns
   * the ids of the paths asked.
   */
  pingPaths(_now: number): number[] {
    const asked: number[] = [];
    for (const p of this.pathList) {
      if (!p.validated || p.status === 'down' || p.adminDown || p.localGone) continue;
      p.pingAsked = true;
      p.pingPending = true;
      asked.push(p.id);
    }
    return asked;
  }

  private onFrameAcked(f: SentFrame): void {
    switch (f.kind) {
      case 'ack':
        this.paths.get(f.pathId)?.acks.onAckAcked(f.largest);
        return;
      case 'handshake_done':
      case 'ping':
      case 'ping_request':
      case 'repair':
      case 'datagram':
      case 'control':
        return;
      default:
        this.streams.onAcked(f);
    }
  }

  private onPacketsLost(path: Path, lost: readonly SentPacket<SentFrame>[]): void {
    path.counters.packetsLost += lost.length;
    for (const p of lost) {
      if (p.ackEliciting) this.fec.onOutcome(path.id, p.packetNumber, true);
      this.requeue(p.frames, path);
    }
  }

  /** Hands what lost (or abandoned) packets carried back to its owners, to be sent again. */
  private requeue(frames: readonly SentFrame[], path: Path): number {
    let streamBytes = 0;
    for (const f of frames) {
      switch (f.kind) {
        case 'handshake_done':
          this.handshakeDonePending = true;
          break;
        case 'control':
          if (this.controlStillWanted(f.frame)) this.control.push(f.frame);
          break;
        case 'ping_request':
          // The application's RTT measurement is asked again on the path's next packet.
          if (this.paths.get(path.id) === path) path.pingAsked = true;
          break;
        case 'ack':
        case 'ping':
        case 'repair':
        case 'datagram':
          break; // ACKs are rebuilt fresh; PINGs, repairs and datagrams are not repeated
        default:
          if (f.kind === 'stream') streamBytes += f.length;
          this.streams.onLost(f);
      }
    }
    return streamBytes;
  }

  /** A lost control frame is sent again only if it still says something true. */
  private controlStillWanted(frame: Frame): boolean {
    switch (frame.type) {
      case 'path_cid':
        return this.localCids.has(frame.pathId);
      case 'add_address':
        return this.localAddresses.get(frame.locator) === frame.seq;
      default:
        return true;
    }
  }

  // ---- paths ----------------------------------------------------------------------------

  /** The peer's first packet on a new path ID: a path to validate (or undefined: no room). */
  private acceptPath(now: number, pathId: number, tuple: PathTuple): Path | undefined {
    const cid = this.localCids.get(pathId);
    if (!cid || !this.makeRoomForPath()) return undefined;
    const path = this.newPath(pathId, tuple.local, tuple.remote, cid, false, now);
    path.remoteCid = this.remoteCids.get(pathId);
    this.addPath(path);
    this.startChallenge(now, path);
    this.pathEvent(path, 'added', 'opened by the peer');
    return path;
  }

  /** Opens a path from `local` to `remote` (initiator only): validated before it carries data. */
  private openPath(now: number, local: Locator, remote: Locator): void {
    let id = this.nextPathId;
    while (id <= this.cidsIssuedUpTo && (this.paths.has(id) || !this.remoteCids.has(id))) id++;
    const cid = this.localCids.get(id);
    const remoteCid = this.remoteCids.get(id);
    if (!cid || !remoteCid || !this.makeRoomForPath()) return;
    this.nextPathId = id + 1;
    const path = this.newPath(id, local, remote, cid, false, now);
    path.remoteCid = remoteCid;
    // We chose to send there; the 3× rule protects against the peer's choice, not ours.
    path.amplificationLimited = false;
    this.addPath(path);
    this.startChallenge(now, path);
    this.pathEvent(path, 'added', 'opened');
  }

  /**
   * The initiator opens a path for every (local, remote) pair it knows and has none for. The
   * responder never opens paths (so the two never open the same pair at once): it advertises
   * its addresses, and moves its own paths when its addresses change.
   */
  private openPaths(now: number): void {
    if (this.role !== 'initiator' || this.state !== 'established' || !this.remoteParams) return;
    const remotes = new Set<Locator>([this.path0.remote, ...this.remoteAddresses.values()]);
    for (const local of this.localAddresses.keys())
      for (const remote of remotes) {
        if (!this.config.pathFilter(local, remote)) continue;
        if (this.unreachable.has(pairKey(local, remote))) continue;
        let covered = false;
        for (const p of this.paths.values())
          if (p.local === local && p.remote === remote) covered = true;
        if (!covered) this.openPath(now, local, remote);
      }
  }

  /** At most `maxPaths` paths: the longest-down path gives way to a new one. */
  private makeRoomForPath(): boolean {
    if (this.paths.size < this.config.maxPaths) return true;
    let victim: Path | undefined;
    for (const p of this.paths.values())
      if (p.id !== 0 && p.status === 'down' && (!victim || p.sinceMs < victim.sinceMs)) victim = p;
    if (!victim) return false;
    this.removePath(this.lastNowMs, victim, 'made room for a new path', true);
    return true;
  }

  private removePath(now: number, path: Path, reason: string, tellPeer: boolean): void {
    if (path.carriesData || path.status === 'suspect') this.pathDown(now, path, reason);
    else this.reinject(path, path.recovery);
    this.paths.delete(path.id);
    this.fec.removePath(path.id);
    this.pathList = this.pathList.filter((p) => p !== path);
    if (this.currentPath === path) this.currentPath = undefined;
    const cid = this.localCids.get(path.id);
    if (cid) this.outputs.push({ kind: 'cid', pathId: path.id, cid, retired: true });
    this.localCids.delete(path.id);
    this.remoteCids.delete(path.id);
    if (tellPeer) this.control.push({ type: 'path_abandon', pathId: path.id });
    this.pathEvent(path, 'removed', reason);
    // Keep as many spare path IDs as before.
    this.issueCids(this.cidsIssuedUpTo + 1);
    this.checkSuspend(now);
  }

  /** Issues connection IDs for path IDs up to `upTo` (each side can then use them). */
  private issueCids(upTo: number): void {
    while (this.cidsIssuedUpTo < upTo) {
      const id = ++this.cidsIssuedUpTo;
      const cid = randomBytes(this.config.random, CID_BYTES);
      this.localCids.set(id, cid);
      this.outputs.push({ kind: 'cid', pathId: id, cid, retired: false });
      this.control.push({ type: 'path_cid', pathId: id, cid });
    }
  }

  /** Once established: connection IDs for the other paths, and our addresses. */
  private startMultipath(now: number): void {
    this.issueCids(this.config.maxPaths - 1);
    if (this.localAddresses.size === 0) this.localAddresses.set(this.path0.local, 0);
    this.nextAddressSeq = Math.max(this.nextAddressSeq, 1);
    for (const [locator, seq] of this.localAddresses)
      this.control.push({ type: 'add_address', seq, locator });
    this.openPaths(now);
  }

  /** A local address appeared (runtime input): advertise it, move paths that lost theirs. */
  addLocalAddress(now: number, locator: Locator): void {
    if (this.localAddresses.has(locator)) return;
    if (this.localAddresses.size >= ADDRESSES_MAX) return;
    const seq = this.nextAddressSeq++;
    this.localAddresses.set(locator, seq);
    this.unreachable.clear();
    if (this.state !== 'established') return;
    this.control.push({ type: 'add_address', seq, locator });
    // A path whose local address went away moves here (this is how a responder migrates).
    for (const p of this.paths.values())
      if (p.localGone && this.config.pathFilter(locator, p.remote)) {
        p.local = locator;
        p.localGone = false;
        p.validated = false;
        p.amplificationLimited = false;
        this.probeAgain(now, p);
      }
    this.openPaths(now);
  }

  /**
   * A local address is gone (runtime input): its paths go down now, without waiting for
   * acknowledgements to stop, and their data moves to the other paths.
   */
  removeLocalAddress(now: number, locator: Locator): void {
    const seq = this.localAddresses.get(locator);
    if (seq === undefined) return;
    this.localAddresses.delete(locator);
    if (this.state === 'established') this.control.push({ type: 'remove_address', seq });
    for (const p of this.pathList) {
      if (p.local !== locator) continue;
      this.pathDown(now, p, 'local address gone');
      p.localGone = true;
      p.challenge = undefined;
      p.nextProbeMs = undefined;
      // The initiator replaces it by paths from its other addresses; a lone path is kept so
      // that it can move when an address comes back.
      const others = [...this.localAddresses.keys()].some((l) => l !== locator);
      if (p.id !== 0 && others) this.removePath(now, p, 'local address gone', true);
    }
  }

  /**
   * Sending on these addresses failed for want of a route (runtime input: ENETUNREACH and the
   * like, for this destination only). The paths on exactly this pair go down now, without
   * waiting for acknowledgements to stop, and their data moves; they are probed with backoff and
   * come back when the route does. The local address stays: a route error names a destination,
   * and the address's paths to other destinations may work (a host whose first link went down
   * still reaches the peer's second address from its own second address, though not its first).
   * A path still being validated is left to its challenges.
   */
  pathUnreachable(now: number, tuple: PathTuple, reason: string): void {
    for (const p of this.pathList)
      if (
        p.local === tuple.local &&
        p.remote === tuple.remote &&
        (p.carriesData || p.status === 'suspect')
      )
        this.pathDown(now, p, reason);
  }

  /** Administrative standby: the path is used only when no active path is usable. */
  setPathStandby(_now: number, pathId: number, standby: boolean): void {
    const p = this.paths.get(pathId);
    if (!p) throw new UnknownPathError(`session ${this.id} has no path ${pathId}`);
    p.standby = standby;
    if (p.carriesData) {
      p.status = standby ? 'standby' : 'active';
      this.pathEvent(p, standby ? 'standby' : 'active', 'set by the application');
    }
  }

  /**
   * Administrative down (the operator's `braid path down`): the path is treated as failed and
   * its data moves; `up` lets it be probed and rejoin. Nothing is sent to the peer.
   */
  setPathDown(now: number, pathId: number, down: boolean): void {
    const p = this.paths.get(pathId);
    if (!p) throw new UnknownPathError(`session ${this.id} has no path ${pathId}`);
    if (down) {
      this.pathDown(now, p, 'taken down administratively');
      p.adminDown = true;
      p.nextProbeMs = undefined;
      p.challenge = undefined;
    } else if (p.adminDown) {
      p.adminDown = false;
      this.probeAgain(now, p);
    }
  }

  /** Where data goes when `failed` fails: a path that can carry it (never another suspect). */
  private failoverTarget(failed: Path): Path | undefined {
    const next = dataPaths(this.pathList, this.config.scheduler, undefined).find(
      (p) => p !== failed,
    );
    return next?.carriesData ? next : undefined;
  }

  /**
   * Challenges a path again (moved to a new local address, or let up by hand). A down path also
   * gets its probe schedule back, so a lost challenge is followed by another.
   */
  private probeAgain(now: number, path: Path): void {
    this.startChallenge(now, path);
    if (path.status !== 'down') return;
    path.probeBackoffMs = Math.max(100, this.suspectProbeMs(path));
    path.nextProbeMs = now + path.probeBackoffMs;
  }

  private startChallenge(now: number, path: Path): void {
    path.challenge = {
      data: randomBytes(this.config.random, PATH_CHALLENGE_BYTES),
      local: path.local,
      remote: path.remote,
      firstSentMs: now,
      lastSentMs: -Infinity,
      nextSendMs: now,
      tries: 0,
      received: 0,
      sent: 0,
    };
  }

  /** An authenticated packet on `path` came from other addresses: NAT rebinding, or a move. */
  private onNewAddress(
    now: number,
    path: Path,
    tuple: PathTuple,
    size: number,
    newest: boolean,
  ): void {
    const cand = path.candidate;
    if (cand && cand.local === tuple.local && cand.remote === tuple.remote) {
      cand.received += size;
      return;
    }
    // Only the newest packet moves a path (a reordered old one does not, RFC 9000 §9.3), and
    // only once the new addresses answer a challenge: a replayed packet from a spoofed source
    // cannot move it. Meanwhile the path keeps its addresses.
    if (!newest || (cand && now - cand.firstSentMs < this.challengeRetryMs(path))) return;
    path.candidate = {
      data: randomBytes(this.config.random, PATH_CHALLENGE_BYTES),
      local: tuple.local,
      remote: tuple.remote,
      firstSentMs: now,
      lastSentMs: -Infinity,
      nextSendMs: now,
      tries: 0,
      received: size,
      sent: 0,
    };
  }

  private onPathResponse(now: number, data: Uint8Array): void {
    for (const p of this.paths.values()) {
      if (p.challenge && constantTimeEqual(p.challenge.data, data)) {
        const c = p.challenge;
        p.challenge = undefined;
        if (c.tries === 1) p.recovery.rtt.update(now - c.lastSentMs, 0, 0, false);
        this.pathValidated(now, p);
        return;
      }
      const cand = p.candidate;
      if (cand && constantTimeEqual(cand.data, data)) {
        p.candidate = undefined;
        const hostChanged = locatorHost(cand.remote) !== locatorHost(p.remote);
        const from = `${p.local} -> ${p.remote}`;
        p.local = cand.local;
        p.remote = cand.remote;
        p.localGone = false;
        // A new address is a new network path: congestion state starts over (RFC 9000 §9.4).
        if (hostChanged) this.reinject(p, p.resetRecovery());
        p.challenge = undefined;
        this.pathEvent(p, 'rebound', `from ${from}`);
        this.pathValidated(now, p);
        return;
      }
    }
  }

  /** The path's addresses answered: it may carry data. */
  private pathValidated(now: number, path: Path): void {
    const before = path.status;
    path.validated = true;
    path.lastAckMs = now;
    path.lastReceivedMs = Math.max(path.lastReceivedMs, now);
    if (path.status === 'suspect' || path.carriesData) {
      if (path.status === 'suspect') this.pathUp(now, path);
      return;
    }
    path.status = path.standby ? 'standby' : 'active';
    path.nextProbeMs = undefined;
    path.reason = '';
    if (before === 'down') {
      path.counters.recoveries++;
      // It was silent for a while: its window and RTT variance start over.
      this.reinject(path, path.resetRecovery());
      this.pathEvent(path, 'recovered', `after ${Math.round(now - path.sinceMs)} ms down`);
    } else this.pathEvent(path, 'validated', '');
    path.sinceMs = now;
    this.checkResume(now);
  }

  /**
   * A suspect path was acknowledged again: a false alarm (a burst of loss, a delayed ACK). The
   * threshold doubles, so a lossy path is not suspected, and its data duplicated, every PTO.
   * Not when another path fell silent with it: that was the peer pausing, and a doubled
   * threshold would only delay the detection of a real failure of this path later.
   */
  private pathUp(now: number, path: Path): void {
    if (!path.sharedSilence) {
      path.suspectFactor = Math.min(path.suspectFactor * 2, SUSPECT_FACTOR_MAX);
      path.lastFalseAlarmMs = now;
    }
    path.sharedSilence = false;
    path.status = path.standby ? 'standby' : 'active';
    path.reason = '';
    path.sinceMs = now;
    path.nextProbeMs = undefined;
    this.pathEvent(path, 'up', '');
  }

  /**
   * Acknowledgements stopped: the path is suspect. If another path can carry data, what this
   * one had in flight is sent there at once (reinjection), without waiting for it to be declared
   * lost; the records stay, so a late ACK still counts.
   */
  private suspect(now: number, path: Path, reason: string): void {
    if (!path.carriesData) return;
    const carrying = this.carriesStream(now, path);
    path.status = 'suspect';
    path.reason = reason;
    path.sinceMs = now;
    path.counters.suspected++;
    path.sharedSilence = false;
    for (const other of this.paths.values())
      if (other !== path && other.status === 'suspect') {
        other.sharedSilence = true;
        path.sharedSilence = true;
      }
    path.pingPending = true;
    path.nextProbeMs = now + this.suspectProbeMs(path);
    this.pathEvent(path, 'suspect', reason);
    const alternative = this.failoverTarget(path);
    if (alternative) {
      this.reinject(path, path.recovery);
      if (carrying) this.failover(now, path, alternative, reason);
    }
  }

  /**
   * The path is down: its congestion state is dropped and everything it had in flight goes to
   * the other paths (or waits for one). A down path is probed with backoff, unless its local
   * address is gone or it was taken down by hand.
   */
  private pathDown(now: number, path: Path, reason: string): void {
    if (path.status === 'down') return;
    const carrying =
      (path.carriesData || path.status === 'suspect') && this.carriesStream(now, path);
    // A suspicion moved the data already (and reported it), unless data came back to the path
    // since, as it does to a lone suspect path.
    const moved = path.status === 'suspect' && this.currentPath !== path;
    path.status = 'down';
    path.reason = reason;
    path.sinceMs = now;
    path.counters.downs++;
    path.pingPending = false;
    path.copies.length = 0;
    path.candidate = undefined;
    this.reinject(path, path.resetRecovery());
    path.probeBackoffMs = Math.max(100, this.suspectProbeMs(path));
    path.nextProbeMs = now + path.probeBackoffMs;
    this.pathEvent(path, 'down', reason);
    if (this.currentPath === path) this.currentPath = undefined;
    const alternative = this.failoverTarget(path);
    if (carrying && !moved && alternative) this.failover(now, path, alternative, reason);
    this.checkSuspend(now);
  }

  /** Re-sends elsewhere the frames of every packet outstanding in `recovery`. */
  private reinject(path: Path, recovery: Path['recovery']): void {
    for (const p of recovery.outstanding()) {
      path.counters.reinjectedBytes += this.requeue(p.frames, path);
      // Once is enough: a later loss or ACK of this packet must not requeue them again.
      p.frames.length = 0;
    }
  }

  /**
   * Whether the stream is on `path`, so that moving off it is a failover: it is the path stream
   * data went on last (under `active-backup`, the one data keeps to: a request/response
   * application between two requests has nothing in flight, and its next request must not
   * silently take another path), stream data is in flight on it, or went on it within a probe
   * timeout (a paced or app-limited sender on a short path). Suspicion and down use this one
   * test, so stream data never leaves the path it was on without a failover reported. A session
   * that never sent stream data has no failovers.
   */
  private carriesStream(now: number, path: Path): boolean {
    return (
      (this.currentPath === path && path.lastStreamSentMs > -Infinity) ||
      hasStreamDataInFlight(path) ||
      now - path.lastStreamSentMs <= path.recovery.ptoMs(this.peerMaxAckDelayMs)
    );
  }

  private failover(now: number, from: Path, to: Path, reason: string): void {
    this.sessionCounters.failovers++;
    this.currentPath = to;
    this.outputs.push({
      kind: 'failover',
      from: from.id,
      to: to.id,
      reason,
      detectMs: now - from.lastAckMs,
    });
  }

  private checkSuspend(now: number): void {
    if (this.suspendedSinceMs !== undefined || this.state !== 'established') return;
    for (const p of this.paths.values()) if (p.status !== 'down') return;
    this.suspendedSinceMs = now;
    this.sessionCounters.suspensions++;
    this.outputs.push({ kind: 'suspended' });
  }

  private checkResume(now: number): void {
    if (this.suspendedSinceMs === undefined) return;
    const suspendedMs = now - this.suspendedSinceMs;
    this.suspendedSinceMs = undefined;
    this.outputs.push({ kind: 'resumed', suspendedMs });
  }

  private pathEvent(path: Path, change: PathChange, reason: string): void {
    this.outputs.push({
      kind: 'path',
      pathId: path.id,
      change,
      local: path.local,
      remote: path.remote,
      reason,
    });
  }

  /**
   * When a path with a packet in flight since `oldestSentMs` turns suspect: one probe timeout
   * after that packet left, or after the last acknowledgement if that came later.
   */
  private suspectAt(path: Path, oldestSentMs: number): number {
    const pto = path.recovery.rtt.ptoMs(this.peerMaxAckDelayMs);
    return Math.max(path.lastAckMs, oldestSentMs) + path.suspectFactor * pto;
  }

  private suspectProbeMs(path: Path): number {
    return Math.max(10, path.recovery.rtt.ptoMs(this.peerMaxAckDelayMs));
  }

  /** A challenge not answered within this is sent again. */
  private challengeRetryMs(path: Path): number {
    return Math.max(20, path.recovery.rtt.ptoMs(this.peerMaxAckDelayMs));
  }

  /** When the path must be looked at again for liveness (suspicion, probes). */
  private pathDeadline(path: Path): number | undefined {
    let t: number | undefined;
    const consider = (v: number | undefined) => {
      if (v !== undefined && (t === undefined || v < t)) t = v;
    };
    // Nothing at all is sent on a path taken down by hand, without its local address, or
    // without the peer's connection ID for it yet: none of its timers could be served.
    if (path.adminDown || path.localGone || !path.remoteCid) return undefined;
    // At the 3× limit nothing can go on it, not even an ACK, so neither its probe timer
    // (RFC 9002 §6.2.2.1) nor its ACK timer: they wait for more to arrive from its addresses.
    if (path.amplificationAllows(PROBE_PACKET_BYTES)) {
      consider(path.recovery.timeout(this.peerMaxAckDelayMs));
      consider(path.acks.deadline);
    }
    consider(path.pacingUntilMs);
    if (path.carriesData) {
      const oldest = path.recovery.oldestUnacked();
      if (oldest) consider(this.suspectAt(path, oldest.sentTimeMs));
      consider(this.idleProbeAt(path));
    } else if (path.status === 'suspect') {
      consider(path.nextProbeMs);
      consider(path.sinceMs + this.config.pathDownAfterMs);
    } else if (path.status === 'down') consider(path.nextProbeMs);
    if (path.challenge && this.challengeSendable(path, path.challenge))
      consider(path.challenge.nextSendMs);
    if (path.candidate && this.challengeSendable(path, path.candidate))
      consider(path.candidate.nextSendMs);
    return t;
  }

  /** Liveness of each path: suspicion, probing, failing validations. */
  private checkPaths(now: number): void {
    for (const path of this.pathList) {
      if (this.paths.get(path.id) !== path) continue;
      const lossAt = path.recovery.timeout(this.peerMaxAckDelayMs);
      if (lossAt !== undefined && now >= lossAt) {
        const { lost, probes } = path.recovery.onTimeout(now, this.peerMaxAckDelayMs);
        this.onPacketsLost(path, lost);
        if (probes > 0) this.armProbes(path, probes);
      }
      if (path.suspectFactor > 1 && now >= path.lastFalseAlarmMs + SUSPECT_FACTOR_DECAY_MS) {
        path.suspectFactor /= 2;
        path.lastFalseAlarmMs = now;
      }
      if (path.carriesData) {
        const oldest = path.recovery.oldestUnacked();
        if (oldest && now >= this.suspectAt(path, oldest.sentTimeMs))
          this.suspect(now, path, 'no acknowledgement');
        else {
          const idle = this.idleProbeAt(path);
          if (idle !== undefined && now >= idle) path.pingPending = true;
        }
      }
      if (path.status === 'suspect') {
        // Deadlines are compared as sums, the way pathDeadline computes them (no float drift).
        if (now >= path.sinceMs + this.config.pathDownAfterMs)
          this.pathDown(now, path, `no acknowledgement for ${Math.round(now - path.lastAckMs)} ms`);
        else if (path.nextProbeMs !== undefined && now >= path.nextProbeMs) {
          path.pingPending = true;
          path.nextProbeMs = now + this.suspectProbeMs(path);
        }
      }
      if (path.status === 'down' && path.nextProbeMs !== undefined && now >= path.nextProbeMs) {
        // Re-validate: a challenge now and then, backing off up to the configured cap.
        if (!path.challenge) this.startChallenge(now, path);
        path.challenge!.tries = 0;
        path.challenge!.nextSendMs = now;
        path.probeBackoffMs = Math.min(
          path.probeBackoffMs * 2,
          Math.max(path.probeBackoffMs, this.config.pathRecoveryProbeMaxMs),
        );
        path.nextProbeMs = now + path.probeBackoffMs;
      }
      const c = path.challenge;
      if (
        c &&
        path.status === 'validating' &&
        c.tries >= CHALLENGE_TRIES_MAX &&
        now >= c.nextSendMs
      ) {
        // Never answered: these addresses do not reach each other. Not tried again until an
        // address changes on either side.
        if (this.unreachable.size < ADDRESSES_MAX * ADDRESSES_MAX)
          this.unreachable.add(pairKey(path.local, path.remote));
        if (path.id === 0) this.pathDown(now, path, `no answer to ${c.tries} challenges`);
        else this.removePath(now, path, `no answer to ${c.tries} challenges`, true);
        continue;
      }
      const cand = path.candidate;
      if (cand && cand.tries >= CHALLENGE_TRIES_MAX && now >= cand.nextSendMs)
        path.candidate = undefined; // a spoofed or passing address: the path stays as it was
    }
  }

  /** PING on an idle path that carries data: every probe interval when there are several. */
  private idleProbeAt(path: Path): number | undefined {
    const interval =
      this.paths.size > 1 ? this.config.pathProbeIntervalMs : this.config.keepaliveIntervalMs;
    if (interval <= 0 || path.pingPending) return undefined;
    return Math.max(path.lastElicitingSentMs, path.lastReceivedMs) + interval;
  }

  handleTimeout(now: number): void {
    this.lastNowMs = now;
    if (this.drainUntilMs !== undefined && now >= this.drainUntilMs) {
      this.state = 'closed';
      this.drainUntilMs = undefined;
      return;
    }
    if (
      this.state === 'handshake' ||
      (this.role === 'initiator' && !this.confirmedFlag && this.state === 'established')
    ) {
      if (now >= this.handshakeDeadlineMs) {
        const error = new HandshakeTimeoutError(
          `no handshake with ${this.role === 'initiator' ? this.expectedEid?.toString() : 'the initiator'} after ${now - this.startedMs} ms`,
        );
        if (this.state === 'established')
          this.close(now, CloseCode.HANDSHAKE_FAILED, 'handshake not confirmed');
        else {
          this.state = 'closed';
          this.outputs.push({
            kind: 'closed',
            code: CloseCode.HANDSHAKE_FAILED,
            reason: error.message,
            byPeer: false,
            error,
          });
        }
        return;
      }
    }
    if (this.retransmitAtMs !== undefined && now >= this.retransmitAtMs) {
      this.retransmitCount++;
      this.counters.handshakeRetransmits++;
      if (this.retransmitFlight) this.sendRaw(this.retransmitFlight);
      else if (this.state === 'established') this.path0.pingPending = true;
      this.retransmitAtMs = now + this.probeTimeoutMs();
    }
    if (this.state !== 'established') return;
    const idle = this.idleDeadline();
    if (idle !== undefined && now >= idle) {
      // RFC 9000 §10.1: silently closed; the peer's own timer will do the same.
      const suspended = this.suspendedSinceMs !== undefined;
      this.state = 'closed';
      this.takeStreamEvents();
      this.outputs.push({
        kind: 'closed',
        code: CloseCode.IDLE_TIMEOUT,
        reason: suspended
          ? `suspended for ${Math.round(now - this.suspendedSinceMs!)} ms with every path down`
          : `nothing received for ${Math.round(now - this.lastReceivedMs)} ms`,
        byPeer: false,
      });
      return;
    }
    this.checkShutdown(now);
    if (this.state !== 'established') return;
    this.checkPaths(now);
    this.fec.send.onTimeout(now);
    if (this.keys?.updateDue(now)) this.keys.initiateUpdate(now);
    for (const p of this.paths.values())
      if (p.pacingUntilMs !== undefined && now >= p.pacingUntilMs) p.pacingUntilMs = undefined;
  }

  /**
   * A probe timeout: the next packets go out whatever the window says. With nothing new to
   * send, a probe carries the oldest unacknowledged stream data again (RFC 9002 §6.2.4); a
   * path that is not the last one left probes with a PING only (its data moved already).
   */
  private armProbes(path: Path, count: number): void {
    path.probesPending = count;
    const lastResort = dataPaths(this.pathList, this.config.scheduler, undefined);
    const carries = lastResort.includes(path);
    if (carries && (this.streams.hasData || this.pendingDatagrams.length > 0)) return;
    const oldest = carries ? path.recovery.oldestUnacked() : undefined;
    let requeued = false;
    for (const f of oldest?.frames ?? [])
      if (f.kind === 'stream') {
        this.streams.onLost(f);
        requeued = true;
      }
    if (!requeued) path.pingPending = true;
  }

  /** The next deadline of this session, or undefined. */
  nextTimeout(): number | undefined {
    let t: number | undefined;
    const consider = (v: number | undefined) => {
      if (v !== undefined && (t === undefined || v < t)) t = v;
    };
    consider(this.drainUntilMs);
    if (this.state === 'closing' || this.state === 'draining' || this.state === 'closed') return t;
    consider(this.retransmitAtMs);
    if (this.state === 'handshake' || (this.role === 'initiator' && !this.confirmedFlag))
      consider(this.handshakeDeadlineMs);
    if (this.state !== 'established') return t;
    consider(this.idleDeadline());
    for (const p of this.paths.values()) consider(this.pathDeadline(p));
    consider(this.fec.send.deadline());
    consider(this.shutdown?.deadlineMs);
    if (this.keys?.updateDue(Infinity)) consider(this.keys.updateAtMs);
    return t;
  }

  /** Builds the next datagram to send, if any may leave at `now`. */
  pollTransmit(now: number): Transmit | undefined {
    this.lastNowMs = now;
    if (this.outbox.length === 0) this.buildPacket(now);
    return this.outbox.shift();
  }

  // ---- internals ------------------------------------------------------------------------

  private localParams(): TransportParams {
    return {
      connectionId: this.localCid,
      // We accept datagrams up to the UDP maximum, so any DATAGRAM frame that fits one.
      maxDatagramFrameBytes: datagramPayloadMax(UDP_PAYLOAD_BYTES_MAX),
      idleTimeoutMs: this.config.idleTimeoutMs,
      initialMaxData: this.config.connectionWindowBytes,
      initialMaxStreamData: this.config.streamWindowBytes,
      initialMaxStreams: this.config.maxStreams,
      maxAckDelayMs: this.config.maxAckDelayMs,
      maxUdpPayloadBytes: this.config.maxDatagramBytes,
    };
  }

  /** RFC 9002 §6.2.1 probe timeout, with backoff capped during the handshake. */
  private probeTimeoutMs(): number {
    const rtt =
      this.counters.handshakeRttMs >= 0 ? this.counters.handshakeRttMs : this.config.initialRttMs;
    const base = Math.max(3 * rtt, 10);
    const backedOff = base * 2 ** Math.min(this.retransmitCount, 16);
    return Math.min(backedOff, Math.max(base, this.config.handshakeRetransmitMaxMs));
  }

  /** Checks the initiator's identity and parameters; returns a refusal or undefined. */
  private learnPeer(
    hs: HandshakeState,
    payload: Uint8Array,
    scid: Uint8Array,
    acceptPeer: (eid: Eid) => boolean,
  ): { reason: RejectReason; detail: string; outputReject: SessionOutput } | undefined {
    const remoteStatic = hs.remoteStaticKey;
    const refuse = (reason: RejectReason, detail: string) => ({
      reason,
      detail,
      outputReject: { kind: 'reject', reason, detail } as SessionOutput,
    });
    if (!remoteStatic) return refuse('handshake_failed', 'no initiator static key');
    let params: TransportParams;
    try {
      params = decodeTransportParams(payload);
    } catch (err) {
      return refuse('handshake_failed', err instanceof Error ? err.message : 'bad parameters');
    }
    if (!constantTimeEqual(params.connectionId, scid))
      return refuse('handshake_failed', 'connection ID mismatch');
    const eid = Eid.fromPublicKey(this.config.crypto, remoteStatic);
    if (!acceptPeer(eid)) return refuse('peer_refused', `peer ${eid.toString()} is not allowed`);
    this.remoteEid = eid;
    this.remoteParams = params;
    this.streams.setPeerLimits(params);
    return undefined;
  }

  private installKeys(hs: HandshakeState, now: number): void {
    const { send, receive } = hs.split();
    const sendKey = send.key;
    const receiveKey = receive.key;
    if (!sendKey || !receiveKey) throw new Error('split produced no keys');
    this.keys = new PacketKeys(this.config.crypto, sendKey, receiveKey, now, this.config.keyUpdate);
    this.handshakeHash = hs.handshakeHash;
    this.handshake = undefined;
  }

  private validateAddress(now: number, path: PathTuple): void {
    // Karn: an RTT sample only if the reply went out once (RFC 9002 §5.1 in spirit).
    if (this.replySends === 1) {
      this.counters.handshakeRttMs = now - this.replyFirstSentMs;
      this.path0.recovery.rtt.update(this.counters.handshakeRttMs, 0, 0, false);
    }
    this.addressValidated = true;
    const p0 = this.path0;
    p0.local = path.local;
    p0.remote = path.remote;
    p0.validated = true;
    p0.status = 'active';
    p0.lastElicitingSentMs = now;
    p0.lastAckMs = now;
    this.state = 'established';
    this.handshakeReply = undefined;
    this.handshakeDonePending = true;
    this.outputs.push({ kind: 'established' });
    this.startMultipath(now);
  }

  private confirm(): void {
    this.confirmedFlag = true;
    this.retransmitFlight = undefined;
    this.retransmitAtMs = undefined;
  }

  private processEarlyPackets(now: number): void {
    const early = this.earlyPackets;
    this.earlyPackets = [];
    for (const e of early) this.handleShort(now, e.path, 0, e.packet, e.datagram);
  }

  private sendHandshakeReply(now: number): void {
    const reply = this.handshakeReply;
    if (!reply) return;
    if (
      !this.addressValidated &&
      this.unvalidatedBytesSent + reply.length >
        AMPLIFICATION_FACTOR * this.unvalidatedBytesReceived
    ) {
      this.counters.repliesWithheld++;
      return;
    }
    if (!this.addressValidated) this.unvalidatedBytesSent += reply.length;
    if (this.replySends++ === 0) this.replyFirstSentMs = now;
    this.sendRaw(reply);
  }

  /**
   * Reads a Noise message. One that does not authenticate is dropped and the handshake goes on
   * (the Noise state is rolled back; the genuine message may still come). A low-order key, or
   * anything else, ends this handshake attempt.
   */
  private readHandshakeMessage(
    now: number,
    hs: HandshakeState,
    message: Uint8Array,
  ): Uint8Array | undefined {
    try {
      return hs.readMessage(message);
    } catch (err) {
      if (err instanceof DecryptError) this.reject('handshake_failed', err.message);
      else this.failHandshake(handshakeFailure(err), err);
      return undefined;
    }
  }

  private failHandshake(
    failure: { reason: RejectReason; detail: string },
    cause?: unknown,
    code: number = CloseCode.HANDSHAKE_FAILED,
  ): void {
    this.reject(failure.reason, failure.detail);
    const error = cause instanceof Error && 'code' in cause ? (cause as BraidError) : undefined;
    this.handshake = undefined;
    this.retransmitAtMs = undefined;
    this.retransmitFlight = undefined;
    this.state = 'closed';
    this.outputs.push({
      kind: 'closed',
      code,
      reason: failure.detail,
      byPeer: false,
      ...(error ? { error } : {}),
    });
  }

  private reject(reason: RejectReason, detail: string): void {
    this.outputs.push({ kind: 'reject', reason, detail });
  }

  private sendRaw(bytes: Uint8Array, to: PathTuple = this.path0): void {
    this.counters.packetsSent++;
    this.counters.bytesSent += bytes.length;
    this.outbox.push({ from: to.local, to: to.remote, bytes });
  }

  /** PTO for timers that outlive recovery (closing, old keys): RFC 9000 §10.2 uses 3×PTO. */
  private closePtoMs(): number {
    return this.keys
      ? this.primaryPath().recovery.rtt.ptoMs(this.peerMaxAckDelayMs)
      : this.probeTimeoutMs();
  }

  private get peerMaxAckDelayMs(): number {
    return this.remoteParams?.maxAckDelayMs ?? 25;
  }

  /** RFC 9000 §10.1: the smaller of both idle timeouts (0 = none), and at least 3×PTO. */
  private idleDeadline(): number | undefined {
    // Suspended (every path down): kept for suspendTimeoutMs, not closed at the idle timeout.
    if (this.suspendedSinceMs !== undefined && this.config.suspendTimeoutMs > 0)
      return this.suspendedSinceMs + this.config.suspendTimeoutMs;
    const local = this.config.idleTimeoutMs;
    const peer = this.remoteParams?.idleTimeoutMs ?? 0;
    const idle = local > 0 && peer > 0 ? Math.min(local, peer) : Math.max(local, peer);
    if (idle <= 0) return undefined;
    return this.lastReceivedMs + Math.max(idle, 3 * this.closePtoMs());
  }

  private takeStreamEvents(): void {
    const events = this.streams.events;
    if (events.length === 0) return;
    for (const e of events) this.outputs.push(e);
    events.length = 0;
  }

  /**
   * Assembles one short packet, if one may go now. Path-specific sends come first, taking turns
   * over the paths: PATH_RESPONSEs, challenges, ACKs that are due, probes and PINGs, copies of
   * redundant streams. Then data, on the first path the scheduler names whose congestion window
   * and pacer allow it.
   */
  private buildPacket(now: number): void {
    const keys = this.keys;
    if (!keys || !this.remoteCid || this.state !== 'established') return;
    if (this.role === 'responder' && !this.addressValidated) return;
    if (keys.updateDue(now)) keys.initiateUpdate(now);
    const order = dataPaths(
      this.pathList,
      this.config.scheduler,
      this.currentPath,
      this.packetPathOrder,
    );
    const paths = this.pathList;
    for (let i = 0; i < paths.length; i++) {
      const p = paths[(this.pathTurn + i) % paths.length]!;
      if (this.sendPathDuty(now, p, order.includes(p))) {
        this.pathTurn = (this.pathTurn + i + 1) % paths.length;
        return;
      }
      if (this.state !== 'established') return;
    }
    this.sendData(now, order);
  }

  /** Sends what `path` itself owes, if anything; true when a packet went out. */
  private sendPathDuty(now: number, path: Path, carriesData: boolean): boolean {
    if (!path.remoteCid || path.adminDown || path.localGone) return false;
    const response = path.responses.shift();
    if (response) {
      const frame: Frame = { type: 'path_response', data: response.data };
      const bytes = this.assemble(now, path, response, [frame], false, false);
      // To a candidate address, it counts against that address's 3× budget (RFC 9000 §8).
      const cand = path.candidate;
      if (cand && cand.local === response.local && cand.remote === response.remote)
        cand.sent += bytes;
      return true;
    }
    for (let i = 0; i < 2; i++) {
      const c = i === 0 ? path.candidate : path.challenge;
      if (!c || now < c.nextSendMs || !this.canSendChallenge(path, c)) continue;
      c.tries++;
      c.lastSentMs = now;
      // A down path's probes are paced by its backoff, not by retries.
      c.nextSendMs =
        path.status === 'down' && c === path.challenge
          ? Infinity
          : now + this.challengeRetryMs(path);
      path.counters.probesSent++;
      const frame: Frame = { type: 'path_challenge', data: c.data };
      const bytes = this.assemble(now, path, c, [frame], false, false);
      if (c === path.candidate) c.sent += bytes;
      return true;
    }
    const size = this.packetBytes;
    if (path.status === 'down') {
      // Packets still arrive on it: acknowledge them (the peer learns the path half works).
      return path.acks.mustSend(now) && this.assemble(now, path, path, [], false, false) > 0;
    }
    const probe = path.probesPending > 0;
    const copies = carriesData && path.copies.length > 0 && path.recovery.window >= size;
    if (!path.acks.mustSend(now) && !probe && !path.pingPending && !copies) return false;
    if (!path.amplificationAllows(PROBE_PACKET_BYTES)) return false;
    if (path.pingPending || probe) path.counters.probesSent++;
    return this.assemble(now, path, path, [], carriesData && path.validated, probe) > 0;
  }

  private canSendChallenge(path: Path, c: PathChallenge): boolean {
    if (!path.remoteCid || path.adminDown || path.localGone) return false;
    if (c.tries >= CHALLENGE_TRIES_MAX) return false;
    if (c === path.candidate)
      return c.sent + PROBE_PACKET_BYTES <= AMPLIFICATION_FACTOR * c.received;
    return path.amplificationAllows(PROBE_PACKET_BYTES);
  }

  /** Whether `c` needs a timer: it can be sent, or (after its last try) given up. */
  private challengeSendable(path: Path, c: PathChallenge): boolean {
    if (c.tries >= CHALLENGE_TRIES_MAX) return c === path.candidate || path.status === 'validating';
    return this.canSendChallenge(path, c);
  }

  /** Sends data on the first path in `order` with room in its window and pacer. */
  private sendData(now: number, order: readonly Path[]): void {
    const size = this.packetBytes;
    if (!this.hasMoreToSend() && !this.handshakeDonePending) {
      for (const p of order) if (p.recovery.window >= size) p.appLimited = true;
      return;
    }
    for (const p of order) {
      if (!p.validated) continue;
      if (p.recovery.window < size) {
        p.appLimited = false;
        continue;
      }
      const wait = p.recovery.pacingDelay(now, size);
      if (wait !== undefined) {
        p.pacingUntilMs = wait;
        continue;
      }
      p.pacingUntilMs = undefined;
      if (this.assemble(now, p, p, [], true, false) > 0) {
        this.currentPath = p;
        if (p.recovery.window >= size) p.appLimited = !this.hasMoreToSend();
        return;
      }
    }
  }

  /**
   * Builds and sends one packet on `path` to `to`: the path's ACK if it has news, `prefix`,
   * then (with `data`) ack-eliciting content. Returns the bytes sent (0: nothing to send).
   */
  private assemble(
    now: number,
    path: Path,
    to: PathTuple,
    prefix: Frame[],
    data: boolean,
    probe: boolean,
  ): number {
    // The last number is kept for the CONNECTION_CLOSE, so the peer hears why.
    if (path.nextPacketNumber + 1 >= this.packetNumberLimit) {
      this.close(now, CloseCode.AEAD_LIMIT_REACHED, 'packet numbers exhausted');
      return 0;
    }
    // Encoded and dropped when the packet is sealed: one array serves every packet.
    const frames = this.packetFrames;
    frames.length = 0;
    const sent: SentFrame[] = [];
    let room = payloadRoom(this.packetBytes);
    // The path's ACKs go to its own addresses: a packet to others (a challenge of a candidate,
    // a response to where a challenge came from) stays small, within their 3× budget.
    const elsewhere = to.local !== path.local || to.remote !== path.remote;
    if (path.acks.hasNews && !elsewhere) {
      const ack = path.acks.frame(now);
      if (ack) {
        // Before the ACK, so the peer knows which of the acknowledged packets FEC rebuilt.
        const report = this.fec.takeReport(path.id);
        if (report) {
          const recovered: Frame = { type: 'recovered', pathId: path.id, ranges: report };
          frames.push(recovered);
          room -= frameBytes(recovered);
        }
        const frame = path.id === 0 ? ack : { ...ack, pathId: path.id };
        frames.push(frame);
        sent.push({ kind: 'ack', pathId: path.id, largest: ack.ranges[0]!.largest });
        room -= frameBytes(frame);
      }
    }
    for (const f of prefix) {
      frames.push(f);
      sent.push({ kind: 'ping' });
      room -= frameBytes(f);
    }
    let eliciting = prefix.length > 0;
    let fec: FecParams | undefined;
    if (data) {
      eliciting = this.fillEliciting(path, frames, sent, room, probe) || eliciting;
      fec = this.filledFec;
    } else if (!eliciting && (path.pingPending || probe) && room >= 1) {
      frames.push({ type: 'ping' });
      sent.push({ kind: 'ping' });
      eliciting = true;
    }
    if (frames.length === 0) return 0;
    if (eliciting && path.pingAsked && !elsewhere) {
      sent.push({ kind: 'ping_request' });
      path.pingAsked = false;
    }
    if (eliciting) path.pingPending = false;
    if (probe && eliciting) path.probesPending--;
    return this.sealAndSend(now, path, to, frames, sent, eliciting, fec);
  }

  /** Whether anything ack-eliciting is still waiting after this packet. */
  private hasMoreToSend(): boolean {
    return (
      this.streams.hasData ||
      this.streams.hasControl ||
      this.pendingDatagrams.length > 0 ||
      this.control.length > 0 ||
      this.fec.send.pendingRepairs > 0
    );
  }

  /** Adds ack-eliciting frames that fit in `room`; returns whether it added any. */
  private fillEliciting(
    path: Path,
    frames: Frame[],
    sent: SentFrame[],
    room: number,
    probe: boolean,
  ): boolean {
    const before = sent.length;
    this.filledFec = undefined;
    // REPAIR frames first, in packets of their own: a repair is worth most when it is early.
    const repair = this.fec.nextRepair(room, payloadRoom(this.packetBytes));
    if (repair) {
      frames.push(repair);
      sent.push({ kind: 'repair' });
      return true;
    }
    // Whether this packet is an FEC source: decided by what goes first (datagrams, else the
    // next stream), and kept for what follows; a protected packet leaves room for its repair.
    const datagramFec = this.pendingDatagrams.length > 0 ? this.datagramFec(path, room) : undefined;
    const fec =
      this.pendingDatagrams.length > 0
        ? datagramFec
        : this.streams.hasData
          ? this.fecParams(path, this.streams.nextFecSetting())
          : undefined;
    if (fec) room -= this.repairReserveBytes();
    const protects = (setting: FecSetting) => this.protects(path, setting) === (fec !== undefined);
    if (this.handshakeDonePending && room > 1) {
      this.handshakeDonePending = false;
      frames.push({ type: 'handshake_done' });
      sent.push({ kind: 'handshake_done' });
      room -= 1;
    }
    while (this.control.length > 0) {
      const frame = this.control[0]!;
      const need = frameBytes(frame);
      if (need > room) break;
      this.control.shift();
      frames.push(frame);
      sent.push({ kind: 'control', frame });
      room -= need;
    }
    if (this.streams.hasControl) {
      const streamSent: SentStreamFrame[] = [];
      room -= this.streams.writeControl(room, frames, streamSent);
      for (const f of streamSent) sent.push(f);
    }
    // Datagrams first: they exist for latency, and are never held back by bulk streams.
    while (
      this.pendingDatagrams.length > 0 &&
      (datagramFec !== undefined) === (fec !== undefined)
    ) {
      const d = this.pendingDatagrams[0]!;
      if (d.length > this.maxDatagramBytes) {
        this.pendingDatagrams.shift();
        this.counters.datagramsDropped++;
        continue;
      }
      const need = datagramFrameBytes(d.length);
      if (need > room) break;
      this.pendingDatagrams.shift();
      frames.push({ type: 'datagram', data: d });
      sent.push({ kind: 'datagram' });
      this.counters.datagramsSent++;
      room -= need;
    }
    // Copies of redundant streams' frames that went on another path.
    while (path.copies.length > 0) {
      const copy = path.copies[0]!;
      const need = frameBytes(copy.frame);
      if (need > room) break;
      path.copies.shift();
      frames.push(copy.frame);
      sent.push(copy.sent);
      room -= need;
    }
    let others: Path[] | undefined;
    while (room > STREAM_FRAME_MIN_ROOM && protects(this.streams.nextFecSetting())) {
      const next = this.streams.nextFrame(room);
      if (!next) break;
      frames.push(next.frame);
      sent.push(next.sent);
      room -= frameBytes(next.frame);
      if (this.streams.policy(next.frame.streamId).mode === 'redundant') {
        others ??= dataPaths(this.pathList, 'aggregate', undefined).filter((p) => p !== path);
        for (const p of others)
          if (p.copies.length < REDUNDANT_COPIES_MAX)
            p.copies.push({ frame: next.frame, sent: next.sent });
      }
    }
    if (fec)
      for (let i = before; i < sent.length; i++)
        if (sent[i]!.kind === 'stream' || sent[i]!.kind === 'datagram') {
          this.filledFec = fec;
          break;
        }
    if ((path.pingPending || (probe && sent.length === before)) && room >= 1) {
      frames.push({ type: 'ping' });
      sent.push({ kind: 'ping' });
    }
    return sent.length > before;
  }

  /**
   * FEC parameters for a packet on `path` (`room` bytes of frames) led by the next datagram, or
   * undefined for none. A datagram too large to fit beside the reserve for its repair goes
   * unprotected rather than never.
   */
  private datagramFec(path: Path, room: number): FecParams | undefined {
    const params = this.fecParams(path, this.config.datagramFec);
    if (!params) return undefined;
    const need = datagramFrameBytes(this.pendingDatagrams[0]!.length);
    return need <= room - this.repairReserveBytes() ? params : undefined;
  }

  private fecParams(path: Path, setting: FecSetting): FecParams | undefined {
    return setting === 'off' ? undefined : this.fec.params(path.id, setting);
  }

  private protects(path: Path, setting: FecSetting): boolean {
    return this.fecParams(path, setting) !== undefined;
  }

  /**
   * Room a protected packet leaves free, so its group's REPAIR fits a packet: the frame's own
   * bytes for a group of `k` and the header and tag of the packet that carries it (the shard is
   * a whole sealed packet).
   */
  private repairReserveBytes(): number {
    return REPAIR_FRAME_OVERHEAD_MAX + SHORT_HEADER_BYTES + AEAD_TAG_BYTES;
  }

  private sealAndSend(
    now: number,
    path: Path,
    to: PathTuple,
    frames: Frame[],
    sent: SentFrame[],
    ackEliciting: boolean,
    fec?: FecParams,
  ): number {
    const pn = path.nextPacketNumber++;
    const keyGeneration = this.keys!.sendGeneration;
    const bytes = this.sealPacket(path.id, path.remoteCid!, pn, frames, fec !== undefined);
    this.sendRaw(bytes, to);
    path.counters.packetsSent++;
    path.counters.bytesSent += bytes.length;
    // A packet to other addresses (a challenge of a candidate, a response to where a
    // challenge came from) says nothing about this path's congestion: it is not tracked.
    const elsewhere = to.local !== path.local || to.remote !== path.remote;
    if (!path.validated && !elsewhere) path.unvalidatedSent += bytes.length;
    if (ackEliciting) {
      if (!this.elicitingSinceReceive) this.lastReceivedMs = Math.max(this.lastReceivedMs, now);
      this.elicitingSinceReceive = true;
      path.lastElicitingSentMs = now;
    }
    let repair = false;
    for (const f of sent)
      if (f.kind === 'stream') {
        path.counters.streamBytesSent += f.length;
        path.lastStreamSentMs = now;
      } else if (f.kind === 'repair') repair = true;
    const tracked = ackEliciting && !elsewhere;
    let holdUntilMs: number | undefined;
    if (fec && tracked) {
      // Until the group's repair can have been answered: one PTO after the group closes.
      const answerMs = path.recovery.rtt.ptoMs(this.peerMaxAckDelayMs);
      holdUntilMs = this.fec.onProtectedSent(now, path.id, pn, bytes, fec, answerMs);
    }
    if (repair) this.fec.onRepairSent(path.id, bytes.length);
    const record: SentPacket<SentFrame> = {
      packetNumber: pn,
      sentTimeMs: now,
      bytes: bytes.length,
      ackEliciting: tracked,
      inFlight: tracked,
      frames: tracked ? sent : [],
      keyGeneration,
    };
    if (holdUntilMs !== undefined) record.holdUntilMs = holdUntilMs;
    // Losing a repair is no congestion signal: repair is sent because of the loss the path
    // shows anyway. Nor is losing a protected packet FEC could not rebuild, while the path shows
    // no standing queue (smoothed RTT within a quarter of the minimum) and its loss stays at
    // most FEC_FLOOR_LOSS_MAX: loss without queueing delay is the path's floor, not a full
    // bottleneck queue, and cutting the window for it would queue the very stream FEC protects.
    // Once the RTT shows a queue, or the loss passes the cap, losses count as usual.
    if (
      repair ||
      (holdUntilMs !== undefined && noStandingQueue(path) && this.fec.lossIsFloor(path.id))
    )
      record.lossNotCongestion = true;
    path.recovery.onPacketSent(now, record);
    return bytes.length;
  }

  /**
   * Sends CONNECTION_CLOSE in a packet of its own on every path that may reach the peer (not
   * tracked: it is never retransmitted, only repeated in answer to late packets).
   */
  private sendClose(): void {
    const keys = this.keys;
    if (!keys || !this.closeFrame) return;
    const targets = this.pathList.filter(
      (p) => p.remoteCid && p.validated && p.status !== 'down' && !p.adminDown && !p.localGone,
    );
    if (targets.length === 0 && this.path0.remoteCid) targets.push(this.path0);
    for (const p of targets) {
      if (p.nextPacketNumber >= this.packetNumberLimit) continue;
      const pn = p.nextPacketNumber++;
      this.sendRaw(this.sealPacket(p.id, p.remoteCid!, pn, [this.closeFrame], false), p);
    }
  }

  /**
   * Encodes and seals one short packet. The packet is built and sealed in a scratch buffer of
   * the packet size, through views kept per length ({@link SealScratch}), and then copied to
   * the endpoint's slab (one view and one copy per packet, where sealing in the slab took five
   * views), or lent from the scratch itself with `borrowedTransmits`. Frames beyond the packet
   * size, which only test hooks build, get an array of their own.
   */
  private sealPacket(
    pathId: number,
    remoteCid: Uint8Array,
    pn: number,
    frames: Frame[],
    fecProtected: boolean,
  ): Uint8Array {
    const keys = this.keys!;
    if (this.sealScratch?.bytes.length !== this.packetBytes)
      this.sealScratch = new SealScratch(this.packetBytes);
    const scratch = this.sealScratch.bytes;
    writeShortHeader(scratch, remoteCid, pn, keys.sendPhase, fecProtected);
    const w = encodeFrames(frames, ByteWriter.over(scratch, SHORT_HEADER_BYTES));
    const length = w.length + AEAD_TAG_BYTES;
    if (w.target !== scratch || length > scratch.length) {
      const datagram = new Uint8Array(length);
      datagram.set(w.view());
      keys.sealInPlace(pathId, pn, datagram, SHORT_HEADER_BYTES);
      return datagram;
    }
    const v = this.sealScratch.views(length);
    keys.sealInto(pathId, pn, v.header, v.plaintext, v.sealed);
    // Lent as it is when the caller consumes it before the next seal can overwrite it: when it
    // is the only packet in the outbox. (FEC takes its own copy of a protected packet, as a
    // shard, when it is sent.)
    if (this.config.borrowedTransmits && this.outbox.length === 0) return v.datagram;
    return this.config.datagramSlab.copy(v.datagram);
  }

  /**
   * Test hook: seals `frames` as they are into the next packet of path 0 (or `pathId`),
   * bypassing every check of the sending side, so tests can play a peer that breaks the rules.
   */
  injectFrames(now: number, frames: Frame[], pathId = 0): void {
    const path = this.paths.get(pathId);
    if (!this.keys || !path?.remoteCid) throw new SessionClosedError('no keys to seal with');
    this.sealAndSend(now, path, path, frames, [], false);
  }

  /** Test hook: continue path 0's numbering from `next`, to exercise limits without 2^48 packets. */
  fastForwardPacketNumbers(next: number, limit = REJECT_AFTER_PACKETS): void {
    const path = this.path0;
    if (next < path.nextPacketNumber) throw new RangeError('packet numbers never go back');
    path.nextPacketNumber = next;
    this.packetNumberLimit = limit;
    // Keep loss detection's sequence: the skipped numbers were never sent.
    path.recovery.skipPacketNumbers(next);
  }

  get stats(): SessionStats {
    const primary = this.primaryPath().recovery;
    let cwndBytes = 0;
    let bytesInFlight = 0;
    let congestionEvents = 0;
    let packetsLost = 0;
    let bytesLost = 0;
    let ptoCount = 0;
    let persistentCongestion = 0;
    let pathsUp = 0;
    for (const p of this.paths.values()) {
      const r = p.recovery;
      const cc = r.cc.snapshot();
      if (p.carriesData) {
        pathsUp++;
        cwndBytes += cc.windowBytes;
      }
      bytesInFlight += r.bytesInFlight;
      congestionEvents += cc.congestionEvents + p.retired.congestionEvents;
      packetsLost += p.counters.packetsLost;
      bytesLost += r.bytesLost + p.retired.bytesLost;
      ptoCount += r.ptoFired + p.retired.ptoFired;
      persistentCongestion += r.persistentCongestionEvents + p.retired.persistentCongestion;
    }
    const cc = primary.cc.snapshot();
    return {
      ...this.counters,
      rttMs: primary.rtt.smoothedMs,
      rttVarMs: primary.rtt.varianceMs,
      minRttMs: primary.rtt.hasSample ? primary.rtt.minMs : -1,
      latestRttMs: primary.rtt.hasSample ? primary.rtt.latestMs : -1,
      congestionAlgorithm: cc.name,
      cwndBytes,
      ssthreshBytes: cc.ssthreshBytes,
      bytesInFlight,
      congestionEvents,
      packetsLost,
      bytesLost,
      retransmittedBytes: this.streams.bytesRetransmitted,
      deliveredBytes: this.streams.bytesAcked,
      readBytes: this.streams.bytesDelivered,
      ptoCount,
      persistentCongestion,
      keyUpdates: this.keys?.sendUpdates ?? 0,
      keyPhase: this.keys?.sendPhase ?? 0,
      streamsOpen: this.streams.openCount,
      streamsOpened: this.streams.streamsOpened,
      paths: this.paths.size,
      pathsUp,
      failovers: this.sessionCounters.failovers,
      suspended: this.suspendedSinceMs !== undefined,
      suspensions: this.sessionCounters.suspensions,
      fecRecoveredPackets: this.fec.totals.fecRecoveredPackets,
      ...this.fecTotals(),
    };
  }

  private fecTotals(): Pick<
    SessionStats,
    | 'fecProtectedPackets'
    | 'fecRepairPackets'
    | 'fecRepairBytes'
    | 'fecPeerRecoveredPackets'
    | 'fecRebuiltRejected'
    | 'fecUnrecoveredRepairs'
  > {
    const { fecProtectedPackets, fecRepairPackets, fecRepairBytes, fecPeerRecoveredPackets } =
      this.fec.totals;
    const r = this.fec.receive.stats();
    return {
      fecProtectedPackets,
      fecRepairPackets,
      fecRepairBytes,
      fecPeerRecoveredPackets,
      fecRebuiltRejected: r.rebuiltRejected + r.corrupt,
      fecUnrecoveredRepairs: r.unrecovered,
    };
  }

  /** Every path, as operators see it. */
  pathStats(): PathStats[] {
    const out: PathStats[] = [];
    for (const p of this.paths.values()) {
      const r = p.recovery;
      const settled = p.counters.packetsLost + p.counters.packetsAcked;
      out.push({
        id: p.id,
        local: p.local,
        remote: p.remote,
        status: p.status,
        standby: p.standby,
        rttMs: r.rtt.smoothedMs,
        minRttMs: r.rtt.hasSample ? r.rtt.minMs : -1,
        rttVarMs: r.rtt.varianceMs,
        cwndBytes: r.cc.snapshot().windowBytes,
        bytesInFlight: r.bytesInFlight,
        lossRate: settled > 0 ? p.counters.packetsLost / settled : 0,
        ...p.counters,
        ptoCount: r.ptoFired + p.retired.ptoFired,
        reason: p.reason,
        ...this.fec.pathStats(p.id),
      });
    }
    return out;
  }

  /**
   * Whether the handshake is over for both sides: for an initiator, the responder has shown it
   * holds the keys; for a responder, the initiator's address is validated.
   */
  get confirmed(): boolean {
    return this.role === 'initiator'
      ? this.confirmedFlag
      : this.addressValidated && this.state !== 'handshake';
  }

  /** The EID an initiator dialled (keys the integrity tag of the responder's packets). */
  expectedPeer(): Eid {
    if (!this.expectedEid) throw new Error('only an initiator has an expected peer');
    return this.expectedEid;
  }

  /** Every connection ID this session receives on (the endpoint routes them). */
  receiveCids(): Uint8Array[] {
    return [...this.localCids.values()];
  }

  /** Datagrams still queued; the endpoint takes them when it forgets the session. */
  takeOutbox(): Transmit[] {
    return this.outbox.splice(0);
  }

  /** Short id for logs: first 4 bytes of the local CID. */
  get shortId(): string {
    return toHex(this.localCid.subarray(0, 4));
  }
}

function handshakeFailure(err: unknown): { reason: RejectReason; detail: string } {
  if (err instanceof LowOrderPointError) return { reason: 'low_order_point', detail: err.message };
  return {
    reason: 'handshake_failed',
    detail: err instanceof Error ? err.message : 'handshake message refused',
  };
}

/** What a sent packet carried: stream-layer frames, or the session's own. */
export type SentFrame =
  | SentStreamFrame
  | { kind: 'ack'; pathId: number; largest: number }
  /** Path and address control, sent again when lost if still true. */
  | { kind: 'control'; frame: Frame }
  | { kind: 'handshake_done' }
  | { kind: 'ping' }
  /** A REPAIR frame: never sent again (a later group's repair is worth more). */
  | { kind: 'repair' }
  /** Marks the packet whose ACK answers `pingPaths` (no frame of its own). */
  | { kind: 'ping_request' }
  | { kind: 'datagram' };

/** Rebuilt packets processed after one datagram at most (a group rebuilds at most m ≤ 254). */
const REBUILT_PER_DATAGRAM_MAX = 256;
/** Smoothed RTT over the minimum, at most, for a path to count as having no standing queue. */
const STANDING_QUEUE_RTT_RATIO = 1.25;

/** Whether `path`'s smoothed RTT is within a quarter of its minimum (and a millisecond). */
function noStandingQueue(path: Path): boolean {
  const { smoothedMs, minMs } = path.recovery.rtt;
  return smoothedMs <= minMs * STANDING_QUEUE_RTT_RATIO + 1;
}

/** Below this much room, no STREAM frame is started (its header alone takes up to 25 bytes). */
const STREAM_FRAME_MIN_ROOM = 32;
/** A challenge (or a probe) is sent this many times before the addresses are given up. */
export const CHALLENGE_TRIES_MAX = 5;
/** Addresses each side keeps of the other at most. */
export const ADDRESSES_MAX = 16;
/** What the 3× rule budgets for one probing packet. */
const PROBE_PACKET_BYTES = 64;

/** Whether the path has stream data unacknowledged (a failover moves something). */
function hasStreamDataInFlight(path: Path): boolean {
  for (const p of path.recovery.outstanding())
    for (const f of p.frames) if (f.kind === 'stream') return true;
  return false;
}

function pairKey(local: Locator, remote: Locator): string {
  return `${local} ${remote}`;
}

/**
 * A buffer of one packet size where packets are built and sealed, with the views the AEAD
 * needs for each length (bulk packets are all one length; ACK-only ones vary): at most
 * {@link SEAL_VIEW_LENGTHS_MAX} lengths are kept, and the set starts over when full.
 */
class SealScratch {
  readonly bytes: Uint8Array;
  private readonly byLength = new Map<number, SealViews>();

  constructor(packetBytes: number) {
    this.bytes = new Uint8Array(packetBytes);
  }

  /** The views of a packet of `length` bytes (header, frames, tag) at the buffer's start. */
  views(length: number): SealViews {
    let v = this.byLength.get(length);
    if (v) return v;
    if (this.byLength.size >= SEAL_VIEW_LENGTHS_MAX) this.byLength.clear();
    const b = this.bytes;
    v = {
      datagram: b.subarray(0, length),
      header: b.subarray(0, SHORT_HEADER_BYTES),
      plaintext: b.subarray(SHORT_HEADER_BYTES, length - AEAD_TAG_BYTES),
      sealed: b.subarray(SHORT_HEADER_BYTES, length),
    };
    this.byLength.set(length, v);
    return v;
  }
}

interface SealViews {
  datagram: Uint8Array;
  header: Uint8Array;
  plaintext: Uint8Array;
  sealed: Uint8Array;
}

const SEAL_VIEW_LENGTHS_MAX = 16;
