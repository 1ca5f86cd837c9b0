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
  type BraidError,
  type RejectReason,
} from './errors.js';
import { Eid, type Identity } from './identity.js';
import { HandshakeState } from './noise/index.js';
import { randomBytes, type Random } from './random.js';
import { ReplayWindow } from './replay-window.js';
import { ByteWriter, WireDecodeError } from './wire/codec.js';
import {
  datagramFrameBytes,
  decodeFrames,
  encodeFrames,
  isAckEliciting,
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
  packetNonce,
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

/** Largest DATAGRAM payload that fits one v1 packet (before PMTU discovery raises it). */
export const DATAGRAM_PAYLOAD_BYTES_MAX =
  MAX_DATAGRAM_BYTES - SHORT_HEADER_BYTES - AEAD_TAG_BYTES - (1 + 2); // type + 2-byte length
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
}

/** What the session asks its endpoint to do; the endpoint turns these into events and counters. */
export type SessionOutput =
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
  readonly stats: SessionStats = {
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
  private sendKey: Uint8Array | undefined;
  private receiveKey: Uint8Array | undefined;
  private nextPacketNumber = 0;
  private readonly replay = new ReplayWindow();

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
  private readonly pendingFrames: Frame[] = [];
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
    if (hs.isComplete) s.installKeys(hs); // IK: keys now, but no 1-RTT data until validated
    s.sendHandshakeReply(now);
    return s;
  }

  // ---- commands -------------------------------------------------------------------------

  /** Largest datagram payload the session accepts now. */
  get maxDatagramBytes(): number {
    const peer = this.remoteParams?.maxDatagramFrameBytes ?? DATAGRAM_PAYLOAD_BYTES_MAX;
    return Math.min(peer, DATAGRAM_PAYLOAD_BYTES_MAX);
  }

  sendDatagram(data: Uint8Array): void {
    if (this.state !== 'handshake' && this.state !== 'established')
      throw new SessionClosedError(`session ${this.id} is ${this.state}`);
    if (data.length > this.maxDatagramBytes)
      throw new DatagramTooLargeError(
        `datagram of ${data.length} bytes exceeds the limit of ${this.maxDatagramBytes}`,
      );
    if (this.pendingDatagrams.length >= this.config.datagramQueueMax)
      throw new BackpressureError(`datagram queue is full (${this.config.datagramQueueMax})`);
    this.pendingDatagrams.push(data.slice());
  }

  close(now: number, code: number, reason: string): void {
    if (this.state === 'closing' || this.state === 'draining' || this.state === 'closed') return;
    if (this.sendKey && this.remoteCid) {
      this.closeFrame = { type: 'connection_close', code, reason };
      this.pendingFrames.length = 0;
      this.pendingDatagrams.length = 0;
      this.sendFrames([this.closeFrame]);
      this.state = 'closing';
      this.drainUntilMs = now + 3 * this.probeTimeoutMs();
    } else {
      this.state = 'closed';
    }
    this.outputs.push({ kind: 'closed', code, reason, byPeer: false });
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
    this.stats.bytesReceived += size;
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
    if (this.retransmitCount === 0) this.stats.handshakeRttMs = now - this.firstInitialSentMs;
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
    this.remoteCid = packet.scid.slice();
    this.retransmitCount = 0;
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
      this.pendingFrames.push({ type: 'ping' });
    }
    this.installKeys(hs);
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
      if (this.state === 'established') this.pendingFrames.push({ type: 'handshake_done' });
      this.reject('duplicate', 'FINISH already processed');
      return;
    }
    const payload = this.readHandshakeMessage(now, hs, packet.message);
    if (!payload) return;
    const refused = this.learnPeer(hs, payload, packet.scid, acceptPeer);
    if (refused) {
      this.installKeys(hs);
      this.addressValidated = true;
      this.outputs.push(refused.outputReject);
      this.close(now, CloseCode.PEER_REFUSED, 'peer not allowed');
      return;
    }
    this.installKeys(hs);
    this.validateAddress(now, path);
    this.processEarlyPackets(now);
  }

  /** A short-header packet routed to this session by its destination CID. */
  handleShort(now: number, path: PathTuple, packet: ShortHeaderPacket, size: number): void {
    if (this.state === 'closed') {
      this.reject('closed', 'session closed');
      return;
    }
    if (!this.receiveKey) {
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
    const plaintext = this.config.crypto.aeadOpen(
      this.receiveKey,
      packetNonce(pn),
      packet.header,
      packet.sealed,
    );
    if (!plaintext) {
      this.reject('auth_failed', `packet ${pn} failed authentication`);
      return;
    }
    this.replay.accept(pn);
    this.stats.packetsReceived++;
    this.stats.bytesReceived += size;
    if (this.state === 'closing') {
      if (this.closeFrame && this.closeRepeats < CLOSE_REPEATS_MAX) {
        this.closeRepeats++;
        this.sendFrames([this.closeFrame]);
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
      switch (frame.type) {
        case 'datagram':
          this.stats.datagramsReceived++;
          this.outputs.push({ kind: 'datagram', data: frame.data });
          break;
        case 'handshake_done':
          if (this.role === 'responder') {
            this.close(now, CloseCode.PROTOCOL_VIOLATION, 'HANDSHAKE_DONE from the initiator');
            return;
          }
          break;
        case 'connection_close':
          this.state = 'draining';
          this.drainUntilMs = now + 3 * this.probeTimeoutMs();
          this.pendingFrames.length = 0;
          this.pendingDatagrams.length = 0;
          this.outputs.push({
            kind: 'closed',
            code: frame.code,
            reason: frame.reason,
            byPeer: true,
          });
          return;
        case 'ping':
        case 'padding':
          break;
      }
    }
    // Until ACK frames exist (streams layer), an ack-eliciting packet gets an immediate reply
    // carrying only PADDING, which is not ack-eliciting, so replies never ping-pong.
    if (elicits && this.pendingFrames.length === 0 && this.pendingDatagrams.length === 0)
      this.pendingFrames.push({ type: 'padding', length: 1 });
  }

  handleTimeout(now: number): void {
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
      this.stats.handshakeRetransmits++;
      if (this.retransmitFlight) this.sendRaw(this.retransmitFlight);
      else if (this.state === 'established') this.pendingFrames.push({ type: 'ping' });
      this.retransmitAtMs = now + this.probeTimeoutMs();
    }
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
    return t;
  }

  /** Moves queued frames into packets and returns the next datagram to send, if any. */
  pollTransmit(): Transmit | undefined {
    this.flush();
    return this.outbox.shift();
  }

  // ---- internals ------------------------------------------------------------------------

  private localParams(): TransportParams {
    return {
      connectionId: this.localCid,
      maxDatagramFrameBytes: DATAGRAM_PAYLOAD_BYTES_MAX,
      idleTimeoutMs: this.config.idleTimeoutMs,
    };
  }

  /** RFC 9002 §6.2.1 probe timeout, with backoff capped during the handshake. */
  private probeTimeoutMs(): number {
    const rtt =
      this.stats.handshakeRttMs >= 0 ? this.stats.handshakeRttMs : this.config.initialRttMs;
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
    return undefined;
  }

  private installKeys(hs: HandshakeState): void {
    const { send, receive } = hs.split();
    const sendKey = send.key;
    const receiveKey = receive.key;
    if (!sendKey || !receiveKey) throw new Error('split produced no keys');
    this.sendKey = sendKey;
    this.receiveKey = receiveKey;
    this.handshakeHash = hs.handshakeHash;
    this.handshake = undefined;
  }

  private validateAddress(now: number, path: PathTuple): void {
    // Karn: an RTT sample only if the reply went out once (RFC 9002 §5.1 in spirit).
    if (this.replySends === 1) this.stats.handshakeRttMs = now - this.replyFirstSentMs;
    this.addressValidated = true;
    this.path = path;
    this.state = 'established';
    this.handshakeReply = undefined;
    this.pendingFrames.push({ type: 'handshake_done' });
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
      this.stats.repliesWithheld++;
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
    this.stats.packetsSent++;
    this.stats.bytesSent += bytes.length;
    this.outbox.push({ from: this.path.local, to: this.path.remote, bytes });
  }

  private flush(): void {
    if (!this.sendKey || !this.remoteCid) return;
    if (this.state !== 'established') return;
    if (this.role === 'responder' && !this.addressValidated) return;
    while (this.pendingFrames.length > 0 || this.pendingDatagrams.length > 0) {
      const frames: Frame[] = [];
      let room = MAX_DATAGRAM_BYTES - SHORT_HEADER_BYTES - AEAD_TAG_BYTES;
      while (this.pendingFrames.length > 0 && room > 64) {
        const f = this.pendingFrames.shift()!;
        frames.push(f);
        room -= encodeFrames([f]).length;
      }
      while (this.pendingDatagrams.length > 0) {
        const d = this.pendingDatagrams[0]!;
        if (d.length > this.maxDatagramBytes) {
          this.pendingDatagrams.shift();
          this.stats.datagramsDropped++;
          continue;
        }
        const need = datagramFrameBytes(d.length);
        if (need > room) break;
        this.pendingDatagrams.shift();
        frames.push({ type: 'datagram', data: d });
        this.stats.datagramsSent++;
        room -= need;
      }
      if (frames.length === 0) break;
      this.sendFrames(frames);
    }
  }

  private sendFrames(frames: Frame[]): void {
    if (!this.sendKey || !this.remoteCid) return;
    const pn = this.nextPacketNumber++;
    const header = encodeShortHeader(this.remoteCid, pn, 0);
    const plaintext = encodeFrames(frames).finish();
    const sealed = this.config.crypto.aeadSeal(this.sendKey, packetNonce(pn), header, plaintext);
    this.sendRaw(concatBytes(header, sealed));
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
    this.flush();
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

function copyShort(p: ShortHeaderPacket): ShortHeaderPacket {
  return { ...p, dcid: p.dcid.slice(), header: p.header.slice(), sealed: p.sealed.slice() };
}
