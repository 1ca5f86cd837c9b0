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
import { asciiBytes, concatBytes, constantTimeEqual, toHex } from './bytes.js';
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
  type BraidError,
  type RejectReason,
} from './errors.js';
import { Eid, type Identity } from './identity.js';
import { HandshakeState } from './noise/index.js';
import { PacketKeys, type KeyUpdateConfig } from './packet-keys.js';
import { randomBytes, type Random } from './random.js';
import { AckTracker } from './recovery/ack-tracker.js';
import type { CongestionAlgorithm } from './recovery/congestion.js';
import { AckOfUnsentPacket, LossDetection, type SentPacket } from './recovery/loss-detection.js';
import { REJECT_AFTER_PACKETS, ReplayWindow } from './replay-window.js';
import {
  DEFAULT_STREAM_POLICY,
  Streams,
  StreamViolation,
  type SentStreamFrame,
  type StreamEvent,
  type StreamPolicy,
} from './stream/streams.js';
import type { ReadResult } from './stream/recv-stream.js';
import { ByteWriter, WireDecodeError } from './wire/codec.js';
import {
  datagramFrameBytes,
  decodeFrames,
  encodeFrames,
  isAckEliciting,
  streamFrameOverhead,
  type Frame,
} from './wire/frames.js';
import {
  CID_BYTES,
  decodePacketNumber,
  encodeLongHeader,
  encodeShortHeader,
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
/** The responder sends at most this many times the bytes it received before validation. */
export const AMPLIFICATION_FACTOR = 3;
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
  maxStreams: number;
  streamSendBufferBytes: number;
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
}

/** What the session asks its endpoint to do; the endpoint turns these into events and counters. */
export type SessionOutput =
  | StreamEvent
  | { kind: 'established' }
  | { kind: 'datagram'; data: Uint8Array }
  | { kind: 'closed'; code: number; reason: string; byPeer: boolean; error?: BraidError }
  | { kind: 'reject'; reason: RejectReason; detail: string };

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
  path: PathTuple;
  remoteCid: Uint8Array | undefined;
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
  private nextPacketNumber = 0;
  private readonly replay = new ReplayWindow();
  private readonly streams: Streams;
  private readonly acks: AckTracker;
  private readonly recovery: LossDetection<SentFrame>;
  /** Frames owed to the peer outside the streams: HANDSHAKE_DONE, a PING. */
  private handshakeDonePending = false;
  private pingPending = false;
  /** Probe packets to send regardless of the congestion window (RFC 9002 §6.2.4). */
  private probesPending = 0;
  /** The sender had nothing to send while the window had room (RFC 9002 §7.8). */
  private appLimited = true;
  /** Set when only the pacer holds back a packet: when to try again. */
  private pacingUntilMs: number | undefined;
  private lastReceivedMs: number;
  private lastElicitingSentMs: number;
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
  private earlyPackets: { path: PathTuple; packet: ShortHeaderPacket; size: number }[] = [];

  private readonly outbox: Transmit[] = [];
  private readonly pendingDatagrams: Uint8Array[] = [];
  private closeFrame: Frame | undefined;
  private closeRepeats = 0;
  private drainUntilMs: number | undefined;
  readonly outputs: SessionOutput[] = [];

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
    this.path = path;
    this.pattern = pattern;
    this.odcid = odcid;
    this.macKey = macKey;
    this.expectedEid = expectedEid;
    this.localCid = randomBytes(config.random, CID_BYTES);
    this.addressValidated = role === 'initiator';
    this.startedMs = now;
    this.handshakeDeadlineMs = now + config.handshakeTimeoutMs;
    this.lastReceivedMs = now;
    this.lastElicitingSentMs = now;
    this.lastNowMs = now;
    this.streams = new Streams(role === 'initiator', {
      streamWindow: config.streamWindowBytes,
      connectionWindow: config.connectionWindowBytes,
      maxStreams: config.maxStreams,
      sendBufferMax: config.streamSendBufferBytes,
    });
    this.acks = new AckTracker(config.maxAckDelayMs);
    this.recovery = new LossDetection<SentFrame>({
      initialRttMs: config.initialRttMs,
      maxDatagramBytes: config.maxDatagramBytes,
      algorithm: config.congestion,
    });
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
    this.pendingDatagrams.push(data.slice());
  }

  /** Opens a stream to the peer; throws StreamLimitError when the peer's limit is reached. */
  openStream(policy: StreamPolicy = DEFAULT_STREAM_POLICY): number {
    this.assertOpen();
    if (this.state !== 'established' || !this.remoteParams)
      throw new StreamStateError(`session ${this.id} is not established yet`);
    return this.streams.open(policy);
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
  streamRead(streamId: number, max: number): ReadResult | undefined {
    const r = this.streams.read(streamId, max);
    // Reading the end may free the stream: its `stream_closed` goes out now.
    this.takeStreamEvents();
    return r;
  }

  streamWritable(streamId: number): number {
    return this.streams.writable(streamId);
  }

  setStreamPolicy(streamId: number, policy: StreamPolicy): void {
    this.streams.setPolicy(streamId, policy);
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
      // A retransmitted INITIAL: the reply was lost, or is still in flight. Answer from cache.
      if (!this.addressValidated) this.sendHandshakeReply(now);
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
      this.recovery.rtt.update(this.counters.handshakeRttMs, 0, 0, false);
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
      this.pingPending = true;
    }
    this.installKeys(hs, now);
    this.state = 'established';
    this.retransmitAtMs = now + this.probeTimeoutMs();
    this.outputs.push({ kind: 'established' });
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

  /** A short-header packet routed to this session by its destination CID. */
  handleShort(now: number, path: PathTuple, packet: ShortHeaderPacket, size: number): void {
    this.lastNowMs = now;
    if (this.state === 'closed') {
      this.reject('closed', 'session closed');
      return;
    }
    const keys = this.keys;
    if (!keys) {
      if (this.earlyPackets.length >= EARLY_PACKETS_MAX) {
        this.reject('no_keys', 'short packet before the handshake completed');
        return;
      }
      this.earlyPackets.push({ path, packet: copyShort(packet), size });
      return;
    }
    const pn = decodePacketNumber(this.replay.largest, packet.truncatedPacketNumber);
    if (!this.replay.check(pn)) {
      this.reject('replay', `packet ${pn} already received or too old`);
      return;
    }
    const plaintext = keys.open(now, pn, packet.keyPhase, packet.header, packet.sealed);
    if (!plaintext) {
      this.reject('auth_failed', `packet ${pn} failed authentication`);
      return;
    }
    this.replay.accept(pn);
    keys.commitReceivePhase(now, pn, packet.keyPhase, 3 * this.closePtoMs());
    this.counters.packetsReceived++;
    this.counters.bytesReceived += size;
    this.lastReceivedMs = now;
    this.elicitingSinceReceive = false;
    if (this.state === 'closing') {
      if (this.closeFrame && this.closeRepeats < CLOSE_REPEATS_MAX) {
        this.closeRepeats++;
        this.sendClose();
      }
      return;
    }
    if (this.state === 'draining') return;
    let frames: Frame[];
    try {
      frames = decodeFrames(plaintext);
    } catch (err) {
      const detail = err instanceof WireDecodeError ? err.message : 'bad frame';
      this.close(now, CloseCode.FRAME_ENCODING_ERROR, detail);
      return;
    }
    if (this.role === 'initiator' && !this.confirmedFlag) this.confirm();
    if (this.role === 'responder' && !this.addressValidated) this.validateAddress(now, path);
    let elicits = false;
    for (const frame of frames) {
      if (isAckEliciting(frame)) elicits = true;
      if (!this.handleFrame(now, frame)) return;
    }
    this.acks.onPacket(now, pn, elicits);
    this.takeStreamEvents();
    this.checkShutdown(now);
  }

  /** Applies one frame; false when it closed the session. */
  private handleFrame(now: number, frame: Frame): boolean {
    switch (frame.type) {
      case 'ack':
        return this.handleAck(now, frame);
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

  private handleAck(now: number, frame: Frame & { type: 'ack' }): boolean {
    const outcome = this.recovery.onAck(
      now,
      frame.ranges,
      frame.ackDelayMs,
      this.peerMaxAckDelayMs,
      this.confirmed,
      this.appLimited,
    );
    if (outcome instanceof AckOfUnsentPacket) {
      this.close(
        now,
        CloseCode.PROTOCOL_VIOLATION,
        `ACK of packet ${outcome.packetNumber}, never sent`,
      );
      return false;
    }
    for (const p of outcome.acked) {
      this.keys?.onAcked(p.packetNumber);
      for (const f of p.frames) this.onFrameAcked(f);
    }
    this.onPacketsLost(outcome.lost);
    return true;
  }

  private onFrameAcked(f: SentFrame): void {
    switch (f.kind) {
      case 'ack':
        this.acks.onAckAcked(f.largest);
        return;
      case 'handshake_done':
      case 'ping':
      case 'datagram':
        return;
      default:
        this.streams.onAcked(f);
    }
  }

  private onPacketsLost(lost: readonly SentPacket<SentFrame>[]): void {
    for (const p of lost)
      for (const f of p.frames) {
        switch (f.kind) {
          case 'handshake_done':
            this.handshakeDonePending = true;
            break;
          case 'ack':
          case 'ping':
          case 'datagram':
            break; // ACKs are rebuilt fresh; PINGs and datagrams are not repeated
          default:
            this.streams.onLost(f);
        }
      }
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
      else if (this.state === 'established') this.pingPending = true;
      this.retransmitAtMs = now + this.probeTimeoutMs();
    }
    if (this.state !== 'established') return;
    const idle = this.idleDeadline();
    if (idle !== undefined && now >= idle) {
      // RFC 9000 §10.1: silently closed; the peer's own timer will do the same.
      this.state = 'closed';
      this.takeStreamEvents();
      this.outputs.push({
        kind: 'closed',
        code: CloseCode.IDLE_TIMEOUT,
        reason: `nothing received for ${now - this.lastReceivedMs} ms`,
        byPeer: false,
      });
      return;
    }
    this.checkShutdown(now);
    if (this.state !== 'established') return;
    const lossAt = this.recovery.timeout(this.peerMaxAckDelayMs);
    if (lossAt !== undefined && now >= lossAt) {
      const { lost, probes } = this.recovery.onTimeout(now, this.peerMaxAckDelayMs);
      this.onPacketsLost(lost);
      if (probes > 0) this.armProbes(probes);
    }
    const keepalive = this.keepaliveAt();
    if (keepalive !== undefined && now >= keepalive) this.pingPending = true;
    if (this.keys?.updateDue(now)) this.keys.initiateUpdate(now);
    if (this.pacingUntilMs !== undefined && now >= this.pacingUntilMs)
      this.pacingUntilMs = undefined;
  }

  /**
   * A probe timeout: the next packets go out whatever the window says. With nothing new to
   * send, a probe carries the oldest unacknowledged stream data again (RFC 9002 §6.2.4).
   */
  private armProbes(count: number): void {
    this.probesPending = count;
    if (this.streams.hasData || this.pendingDatagrams.length > 0) return;
    const oldest = this.recovery.oldestUnacked();
    let requeued = false;
    for (const f of oldest?.frames ?? [])
      if (f.kind === 'stream') {
        this.streams.onLost(f);
        requeued = true;
      }
    if (!requeued) this.pingPending = true;
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
    consider(this.recovery.timeout(this.peerMaxAckDelayMs));
    consider(this.acks.deadline);
    consider(this.keepaliveAt());
    consider(this.shutdown?.deadlineMs);
    consider(this.pacingUntilMs);
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
      this.recovery.rtt.update(this.counters.handshakeRttMs, 0, 0, false);
    }
    this.addressValidated = true;
    this.path = path;
    this.state = 'established';
    this.lastElicitingSentMs = now;
    this.handshakeReply = undefined;
    this.handshakeDonePending = true;
    this.outputs.push({ kind: 'established' });
  }

  private confirm(): void {
    this.confirmedFlag = true;
    this.retransmitFlight = undefined;
    this.retransmitAtMs = undefined;
  }

  private processEarlyPackets(now: number): void {
    const early = this.earlyPackets;
    this.earlyPackets = [];
    for (const e of early) this.handleShort(now, e.path, e.packet, e.size);
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

  private sendRaw(bytes: Uint8Array): void {
    this.counters.packetsSent++;
    this.counters.bytesSent += bytes.length;
    this.outbox.push({ from: this.path.local, to: this.path.remote, bytes });
  }

  /** PTO for timers that outlive recovery (closing, old keys): RFC 9000 §10.2 uses 3×PTO. */
  private closePtoMs(): number {
    return this.keys ? this.recovery.rtt.ptoMs(this.peerMaxAckDelayMs) : this.probeTimeoutMs();
  }

  private get peerMaxAckDelayMs(): number {
    return this.remoteParams?.maxAckDelayMs ?? 25;
  }

  /** RFC 9000 §10.1: the smaller of both idle timeouts (0 = none), and at least 3×PTO. */
  private idleDeadline(): number | undefined {
    const local = this.config.idleTimeoutMs;
    const peer = this.remoteParams?.idleTimeoutMs ?? 0;
    const idle = local > 0 && peer > 0 ? Math.min(local, peer) : Math.max(local, peer);
    if (idle <= 0) return undefined;
    return this.lastReceivedMs + Math.max(idle, 3 * this.closePtoMs());
  }

  private keepaliveAt(): number | undefined {
    const interval = this.config.keepaliveIntervalMs;
    if (interval <= 0 || this.pingPending) return undefined;
    return Math.max(this.lastElicitingSentMs, this.lastReceivedMs) + interval;
  }

  private takeStreamEvents(): void {
    const events = this.streams.events;
    if (events.length === 0) return;
    for (const e of events) this.outputs.push(e);
    events.length = 0;
  }

  /**
   * Assembles one short packet, if one may go now: an ACK when one is due, and ack-eliciting
   * content when the congestion window and pacer allow (probes ignore both).
   */
  private buildPacket(now: number): void {
    const keys = this.keys;
    if (!keys || !this.remoteCid || this.state !== 'established') return;
    if (this.role === 'responder' && !this.addressValidated) return;
    // The last number is kept for the CONNECTION_CLOSE, so the peer hears why.
    if (this.nextPacketNumber + 1 >= this.packetNumberLimit) {
      this.close(now, CloseCode.AEAD_LIMIT_REACHED, 'packet numbers exhausted');
      return;
    }
    if (keys.updateDue(now)) keys.initiateUpdate(now);
    const size = this.packetBytes;
    const probe = this.probesPending > 0;
    let eliciting =
      this.handshakeDonePending ||
      this.pingPending ||
      this.streams.hasControl ||
      this.streams.hasData ||
      this.pendingDatagrams.length > 0;
    if (eliciting && !probe) {
      if (this.recovery.window < size) {
        eliciting = false;
        this.appLimited = false;
      } else {
        const wait = this.recovery.pacingDelay(now, size);
        if (wait !== undefined) {
          this.pacingUntilMs = wait;
          eliciting = false;
        } else this.pacingUntilMs = undefined;
      }
    }
    const ackDue = this.acks.mustSend(now);
    if (!eliciting && !ackDue && !probe) {
      if (this.recovery.window >= size) this.appLimited = true;
      return;
    }
    const frames: Frame[] = [];
    const sent: SentFrame[] = [];
    let room = payloadRoom(size);
    if (this.acks.hasNews) {
      const ack = this.acks.frame(now);
      if (ack) {
        frames.push(ack);
        sent.push({ kind: 'ack', largest: ack.ranges[0]!.largest });
        room -= encodeFrames([ack]).length;
      }
    }
    const ackEliciting = (eliciting || probe) && this.fillEliciting(frames, sent, room, probe);
    if (frames.length === 0) return;
    if (probe && ackEliciting) this.probesPending--;
    if (ackEliciting && this.recovery.window >= size) this.appLimited = !this.hasMoreToSend();
    this.sealAndSend(now, frames, sent, ackEliciting);
  }

  /** Whether anything ack-eliciting is still waiting after this packet. */
  private hasMoreToSend(): boolean {
    return this.streams.hasData || this.streams.hasControl || this.pendingDatagrams.length > 0;
  }

  /** Adds ack-eliciting frames that fit in `room`; returns whether it added any. */
  private fillEliciting(frames: Frame[], sent: SentFrame[], room: number, probe: boolean): boolean {
    const before = sent.length;
    if (this.handshakeDonePending && room > 1) {
      this.handshakeDonePending = false;
      frames.push({ type: 'handshake_done' });
      sent.push({ kind: 'handshake_done' });
      room -= 1;
    }
    if (this.streams.hasControl) {
      const streamSent: SentStreamFrame[] = [];
      room -= this.streams.writeControl(room, frames, streamSent);
      for (const f of streamSent) sent.push(f);
    }
    // Datagrams first: they exist for latency, and are never held back by bulk streams.
    while (this.pendingDatagrams.length > 0) {
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
    while (room > STREAM_FRAME_MIN_ROOM) {
      const next = this.streams.nextFrame(room);
      if (!next) break;
      frames.push(next.frame);
      sent.push(next.sent);
      room -= encodedStreamFrameBytes(next.frame);
    }
    if ((this.pingPending || (probe && sent.length === before)) && room >= 1) {
      this.pingPending = false;
      frames.push({ type: 'ping' });
      sent.push({ kind: 'ping' });
    }
    return sent.length > before;
  }

  private sealAndSend(now: number, frames: Frame[], sent: SentFrame[], ackEliciting: boolean) {
    const keys = this.keys!;
    const pn = this.nextPacketNumber++;
    const header = encodeShortHeader(this.remoteCid!, pn, keys.sendPhase);
    // Sealing copies the plaintext, so the writer's own buffer serves without another copy.
    const plaintext = encodeFrames(frames, new ByteWriter(this.packetBytes)).view();
    const sealed = keys.seal(pn, header, plaintext);
    const bytes = concatBytes(header, sealed);
    this.sendRaw(bytes);
    if (ackEliciting) {
      if (!this.elicitingSinceReceive) this.lastReceivedMs = Math.max(this.lastReceivedMs, now);
      this.elicitingSinceReceive = true;
      this.lastElicitingSentMs = now;
    }
    this.recovery.onPacketSent(now, {
      packetNumber: pn,
      sentTimeMs: now,
      bytes: bytes.length,
      ackEliciting,
      inFlight: ackEliciting,
      frames: sent,
    });
  }

  /** Sends CONNECTION_CLOSE in a packet of its own (not tracked: it is never retransmitted). */
  private sendClose(): void {
    const keys = this.keys;
    if (!keys || !this.remoteCid || !this.closeFrame) return;
    if (this.nextPacketNumber >= this.packetNumberLimit) return;
    const pn = this.nextPacketNumber++;
    const header = encodeShortHeader(this.remoteCid, pn, keys.sendPhase);
    const sealed = keys.seal(pn, header, encodeFrames([this.closeFrame]).finish());
    this.sendRaw(concatBytes(header, sealed));
  }

  /**
   * Test hook: seals `frames` as they are into the next packet, bypassing every check of the
   * sending side, so tests can play a peer that breaks the rules.
   */
  injectFrames(now: number, frames: Frame[]): void {
    if (!this.keys || !this.remoteCid) throw new SessionClosedError('no keys to seal with');
    this.sealAndSend(now, frames, [], false);
  }

  /** Test hook: continue packet numbering from `next`, to exercise limits without 2^48 packets. */
  fastForwardPacketNumbers(next: number, limit = REJECT_AFTER_PACKETS): void {
    if (next < this.nextPacketNumber) throw new RangeError('packet numbers never go back');
    this.nextPacketNumber = next;
    this.packetNumberLimit = limit;
    // Keep loss detection's sequence: the skipped numbers were never sent.
    this.recovery.skipPacketNumbers(next);
  }

  get stats(): SessionStats {
    const r = this.recovery;
    const cc = r.cc.snapshot();
    return {
      ...this.counters,
      rttMs: r.rtt.smoothedMs,
      rttVarMs: r.rtt.varianceMs,
      minRttMs: r.rtt.hasSample ? r.rtt.minMs : -1,
      latestRttMs: r.rtt.hasSample ? r.rtt.latestMs : -1,
      congestionAlgorithm: cc.name,
      cwndBytes: cc.windowBytes,
      ssthreshBytes: cc.ssthreshBytes,
      bytesInFlight: r.bytesInFlight,
      congestionEvents: cc.congestionEvents,
      packetsLost: r.packetsLost,
      bytesLost: r.bytesLost,
      retransmittedBytes: this.streams.bytesRetransmitted,
      deliveredBytes: this.streams.bytesAcked,
      readBytes: this.streams.bytesDelivered,
      ptoCount: r.ptoFired,
      persistentCongestion: r.persistentCongestionEvents,
      keyUpdates: this.keys?.sendUpdates ?? 0,
      keyPhase: this.keys?.sendPhase ?? 0,
      streamsOpen: this.streams.openCount,
      streamsOpened: this.streams.streamsOpened,
    };
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
  | { kind: 'ack'; largest: number }
  | { kind: 'handshake_done' }
  | { kind: 'ping' }
  | { kind: 'datagram' };

/** Below this much room, no STREAM frame is started (its header alone takes up to 25 bytes). */
const STREAM_FRAME_MIN_ROOM = 32;

function encodedStreamFrameBytes(f: Frame & { type: 'stream' }): number {
  return streamFrameOverhead(f.streamId, f.offset, f.data.length) + f.data.length;
}

function copyShort(p: ShortHeaderPacket): ShortHeaderPacket {
  return { ...p, dcid: p.dcid.slice(), header: p.header.slice(), sealed: p.sealed.slice() };
}
