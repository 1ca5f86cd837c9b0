/**
 * The sans-IO endpoint: one local identity, many sessions, routed by connection ID.
 *
 * Call order (as quinn-proto's `Endpoint`/`Connection`):
 * 1. Feed inputs: {@link Endpoint.handleDatagram} for every datagram received,
 *    {@link Endpoint.handleTimeout} when the deadline from {@link Endpoint.pollTimeout} passes,
 *    and commands ({@link Endpoint.connect}, {@link Endpoint.sendDatagram}, {@link Endpoint.close}).
 * 2. Drain outputs after every input: {@link Endpoint.pollTransmit} until it returns
 *    `undefined` (send each datagram), {@link Endpoint.pollEvent} until `undefined`.
 * 3. Re-arm one timer at {@link Endpoint.pollTimeout}.
 *
 * `now` is a monotonic time in milliseconds chosen by the caller; it must never go backwards.
 * Nothing here reads a clock, a socket or global randomness.
 */
import { ByteSlab, bytesEqual, copyBytes, toHex } from './bytes.js';
import type { CryptoProvider } from './crypto/provider.js';
import {
  CloseCode,
  InvalidOptionError,
  REJECT_REASONS,
  UnknownSessionError,
  type BraidError,
  type RejectReason,
} from './errors.js';
import type { Eid, Identity } from './identity.js';
import type { Random } from './random.js';
import {
  computeHandshakeMac,
  handshakeMacKey,
  Session,
  type PathTuple,
  type SessionConfig,
  type SessionId,
  type SessionState,
  type SessionStats,
  type Transmit,
  type Role,
  type Locator,
  type PathChange,
  type PathStats,
  type SessionOutput,
} from './session.js';
import { compatibleLocators, SCHEDULERS, type SchedulerName } from './path/scheduler.js';
import { constantTimeEqual } from './bytes.js';
import { LongType, parsePacket } from './wire/packet.js';
import { KEY_UPDATE_AFTER_MS, KEY_UPDATE_AFTER_PACKETS } from './packet-keys.js';
import type { CongestionAlgorithm } from './recovery/congestion.js';
import type { ReadResult } from './stream/recv-stream.js';
import type { FecSetting, StreamPolicy } from './stream/streams.js';
import { FEC_GROUP_DELAY_MS_DEFAULT, FEC_HORIZON_MS_DEFAULT } from './fec/session-fec.js';
import type { Frame } from './wire/frames.js';

const NO_OUTPUTS: readonly SessionOutput[] = [];

interface CidRoute {
  session: Session;
  pathId: number;
}

/**
 * Connection IDs to the session and path they name. The last one looked up is remembered as
 * bytes, so a run of packets for one connection costs a comparison of 8 bytes each, not a
 * hex string.
 */
class CidRoutes {
  private readonly byHex = new Map<string, CidRoute>();
  private lastCid: Uint8Array | undefined;
  private lastRoute: CidRoute | undefined;

  get(cid: Uint8Array): CidRoute | undefined {
    if (this.lastCid && bytesEqual(cid, this.lastCid)) return this.lastRoute;
    const route = this.byHex.get(toHex(cid));
    if (route) {
      this.lastCid = copyBytes(cid);
      this.lastRoute = route;
    }
    return route;
  }

  set(cid: Uint8Array, route: CidRoute): void {
    this.byHex.set(toHex(cid), route);
    this.lastCid = this.lastRoute = undefined;
  }

  delete(cid: Uint8Array): void {
    this.byHex.delete(toHex(cid));
    this.lastCid = this.lastRoute = undefined;
  }
}

export interface EndpointOptions {
  identity: Identity;
  crypto: CryptoProvider;
  /** Source of connection IDs and ephemeral keys: a CSPRNG in production, seeded in tests. */
  random: Random;
  /** A handshake not complete (and confirmed) after this long fails. Default 60 000 ms. */
  handshakeTimeoutMs?: number;
  /** RTT assumed before any sample (RFC 9002 §6.2.2 kInitialRtt). Default 333 ms. */
  initialRttMs?: number;
  /** Ceiling of the handshake retransmission backoff. Default 4 000 ms. */
  handshakeRetransmitMaxMs?: number;
  /** Half-open responder handshakes kept at once; beyond, INITIALs are refused. Default 1024. */
  pendingHandshakesMax?: number;
  /** Sessions kept at once (any state). Default 4096. */
  sessionsMax?: number;
  /** Datagrams queued per session before `sendDatagram` pushes back. Default 256. */
  datagramQueueMax?: number;
  /** Events queued before the oldest datagram events are dropped (counted). Default 65 536. */
  eventQueueMax?: number;
  /**
   * A session with nothing received for this long is closed (the smaller of both sides'
   * values applies; RFC 9000 §10.1). Default 30 000 ms.
   */
  idleTimeoutMs?: number;
  /** PING after this long without sending anything, so idle sessions and NAT bindings live. Default 10 000 ms; 0 turns it off. */
  keepaliveIntervalMs?: number;
  /** Size of the datagrams sent (before path MTU discovery). Default 1200, range 1200–65527. */
  maxDatagramBytes?: number;
  /**
   * The caller hands each datagram given to {@link Endpoint.handleDatagram} over, and never
   * reads or reuses it afterwards: packets may then be decrypted over themselves (no array per
   * packet). Default false: the datagram is only read.
   */
  receivedDatagramsOwned?: boolean;
  /**
   * The caller is done with each {@link Transmit}'s bytes (has sent or copied them) before it
   * next calls into the endpoint: a packet may then be lent from a buffer that the next one
   * reuses, with no copy of its own. Default false: the bytes are the caller's to keep.
   */
  borrowedTransmits?: boolean;
  /** Delay before acknowledging a lone packet, announced to the peer. Default 25 ms. */
  maxAckDelayMs?: number;
  /** Congestion controller. Default `cubic`. */
  congestion?: CongestionAlgorithm;
  /** Key update after this many packets under one key. Default 2^24. */
  keyUpdateAfterPackets?: number;
  /** Key update after a key is this old. Default 120 000 ms. */
  keyUpdateAfterMs?: number;
  /** Receive window per stream, at first. Default 1 MiB. */
  streamWindowBytes?: number;
  /** Receive window per session (all streams), at first. Default 4 MiB. */
  connectionWindowBytes?: number;
  /**
   * Auto-tuning: a receive window whose credit the reader uses up within two round trips
   * doubles, up to this. At most `streamWindowBytes` turns it off. Default 6 MiB (Chromium's):
   * 16 MiB measured 1.4 % loss on loopback, a busy receiver's socket buffer overflowing.
   */
  streamWindowMaxBytes?: number;
  /** The same for the session window. Default 15 MiB (Chromium's). */
  connectionWindowMaxBytes?: number;
  /** Streams the peer may have open at once. Default 1024. */
  maxStreams?: number;
  /** Unacknowledged bytes buffered per stream before writes take less. Default 1 MiB. */
  streamSendBufferBytes?: number;
  /** Whether to accept sessions from this peer. Default: everyone (open mode). */
  acceptPeer?: (eid: Eid) => boolean;
  /** Whether this endpoint answers INITIALs at all. Default true. */
  acceptIncoming?: boolean;
  /**
   * How bulk and low-latency streams use the paths: `aggregate` (default: every active path,
   * lowest RTT first) or `active-backup` (one path at a time). Redundant streams use all.
   */
  scheduler?: SchedulerName;
  /** PING an idle path this often when a session has several (default 1000 ms; 0: never). */
  pathProbeIntervalMs?: number;
  /** A suspect path silent this long is declared down (default 1000 ms). */
  pathDownAfterMs?: number;
  /** Cap of the probe backoff of a down path (default 1000 ms): it rejoins within about this. */
  pathRecoveryProbeMaxMs?: number;
  /** With every path down, keep the session this long (default 6 h; 0: close at idle timeout). */
  suspendTimeoutMs?: number;
  /** Paths per session at most, path 0 included (default 8, at most 64). */
  maxPaths?: number;
  /** Which (local, remote) locator pairs may form a path (default: same address family). */
  pathFilter?: (local: Locator, remote: Locator) => boolean;
  /** This endpoint's local addresses at start; more come and go with add/removeLocalAddress. */
  localAddresses?: Locator[];
  /**
   * FEC: a protected packet waits at most this long for a repair that covers it (default
   * 10 ms), so a quiet stream's last packet is protected too (docs/fec.md).
   */
  fecGroupDelayMs?: number;
  /**
   * FEC `auto`: the delay a loss may add to a protected packet (default 15 ms). `auto` chooses
   * the least repair that keeps all but `fecTargetLateFraction` of the packets within it.
   */
  fecHorizonMs?: number;
  /** FEC `auto`: the fraction of protected packets it lets be later than the horizon (default 0.01). */
  fecTargetLateFraction?: number;
  /** FEC `auto`: the most repair it sends, as a fraction of the protected packets (default 0.5). */
  fecMaxOverhead?: number;
  /** FEC for unreliable datagrams: `auto` (default), `off` or a fixed `{k, m}` (m repairs per k). */
  datagramFec?: FecSetting;
}

function fecSettingOption(name: string, v: FecSetting): FecSetting {
  if (v === 'off' || v === 'auto') return v;
  if (
    typeof v === 'object' &&
    Number.isInteger(v.k) &&
    Number.isInteger(v.m) &&
    v.k >= 1 &&
    v.k <= 255 &&
    v.m >= 1 &&
    v.m <= 8 * v.k
  )
    return { k: v.k, m: v.m };
  throw new InvalidOptionError(
    `${name} must be 'off', 'auto' or {k, m}: m repairs per k packets, 1 ≤ k ≤ 255, 1 ≤ m ≤ 8k`,
  );
}

function nonNegative(name: string, v: number | undefined, dflt: number): number {
  const value = v ?? dflt;
  if (!Number.isFinite(value) || value < 0)
    throw new InvalidOptionError(`${name} must be a number ≥ 0, got ${String(v)}`);
  return value;
}

function inRange(name: string, v: number | undefined, dflt: number, min: number, max: number) {
  const value = v ?? dflt;
  if (!Number.isInteger(value) || value < min || value > max)
    throw new InvalidOptionError(`${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  return value;
}

function schedulerOption(v: string | undefined): SchedulerName {
  const value = v ?? 'aggregate';
  if (!(SCHEDULERS as readonly string[]).includes(value))
    throw new InvalidOptionError(
      `scheduler must be one of ${SCHEDULERS.join(', ')}, got ${String(v)}`,
    );
  return value as SchedulerName;
}

function congestionOption(v: string | undefined): CongestionAlgorithm {
  const value = v ?? 'cubic';
  if (value !== 'cubic' && value !== 'newreno')
    throw new InvalidOptionError(`congestion must be 'cubic' or 'newreno', got ${String(v)}`);
  return value;
}

export interface ConnectOptions {
  remoteEid: Eid;
  /** The peer's static public key, if known: selects IK (1 RTT, initiator identity encrypted). */
  remoteStaticKey?: Uint8Array;
  /** Local locator to send from. */
  local: Locator;
  /** The peer's locator. */
  remote: Locator;
}

export type EndpointEvent =
  | {
      type: 'established';
      session: SessionId;
      role: Role;
      remoteEid: Eid;
      pattern: string;
      handshakeMs: number;
    }
  | { type: 'datagram'; session: SessionId; data: Uint8Array }
  /** The peer opened a stream. */
  | { type: 'stream_opened'; session: SessionId; streamId: number }
  /** Bytes (or the end) can be read; read until `streamRead` returns undefined. */
  | { type: 'stream_readable'; session: SessionId; streamId: number }
  /** A stream whose writes were cut short has room again. */
  | { type: 'stream_writable'; session: SessionId; streamId: number }
  /** The peer abandoned its sending half with `code`. */
  | { type: 'stream_reset'; session: SessionId; streamId: number; code: number }
  /** The peer asked us to stop sending; our half was reset with its `code`. */
  | { type: 'stream_stopped'; session: SessionId; streamId: number; code: number }
  /** Both halves finished: the stream is gone. */
  | { type: 'stream_closed'; session: SessionId; streamId: number }
  /** The peer raised its stream limit after `openStream` was refused. */
  | { type: 'streams_available'; session: SessionId; available: number }
  | {
      type: 'path';
      session: SessionId;
      pathId: number;
      change: PathChange;
      local: Locator;
      remote: Locator;
      reason: string;
    }
  /** Data moved off path `from` onto `to`; `detectMs` since `from` was last acknowledged. */
  | {
      type: 'failover';
      session: SessionId;
      from: number;
      to: number;
      reason: string;
      detectMs: number;
    }
  | { type: 'suspended'; session: SessionId }
  | { type: 'resumed'; session: SessionId; suspendedMs: number }
  /** A `pingPaths` measurement: one packet's round trip on `pathId`. */
  | { type: 'ping'; session: SessionId; pathId: number; rttMs: number }
  | {
      type: 'closed';
      session: SessionId;
      code: number;
      reason: string;
      byPeer: boolean;
      error?: BraidError;
    };

export interface EndpointStats {
  datagramsReceived: number;
  datagramsSent: number;
  bytesReceived: number;
  bytesSent: number;
  /** Received datagrams dropped, by reason. Every drop is counted exactly once. */
  rejected: Record<RejectReason, number>;
  handshakesStarted: number;
  handshakesAccepted: number;
  handshakesCompleted: number;
  handshakesFailed: number;
  sessionsOpen: number;
  eventsDropped: number;
}

export interface SessionInfo {
  id: SessionId;
  role: Role;
  state: SessionState;
  /** The handshake is over for both sides (see `Session.confirmed`). */
  confirmed: boolean;
  shortId: string;
  pattern: string;
  path: PathTuple;
  remoteEid: Eid | undefined;
  handshakeHash: Uint8Array | undefined;
  maxDatagramBytes: number;
  stats: SessionStats;
  paths: PathStats[];
}

/** Datagrams of forgotten sessions still to be sent (their last CONNECTION_CLOSE). */
export const ORPHAN_TRANSMITS_MAX = 256;
/** The most recent rejects kept for diagnostics. */
export const RECENT_REJECTS_MAX = 64;

const PATTERN_LABEL: Record<number, string> = { 1: 'XX', 2: 'IK', 3: 'XXpsk3', 4: 'IKpsk2' };

export class Endpoint {
  private readonly config: SessionConfig;
  private readonly macKey: Uint8Array;
  private readonly acceptPeer: (eid: Eid) => boolean;
  private readonly acceptIncoming: boolean;
  private readonly pendingHandshakesMax: number;
  private readonly sessionsMax: number;
  private readonly eventQueueMax: number;
  private readonly sessions = new Map<SessionId, Session>();
  private readonly byCid = new CidRoutes();
  private readonly localAddresses = new Set<Locator>();
  private readonly byOdcid = new Map<string, Session>();
  /** Sessions the application has heard of (initiators always; responders once established). */
  private readonly announced = new Set<SessionId>();
  private readonly startedMs = new Map<SessionId, number>();
  private readonly events: EndpointEvent[] = [];
  private readonly orphans: Transmit[] = [];
  private readonly recent: { reason: RejectReason; detail: string; from: Locator }[] = [];
  private nextSessionId = 1;
  /** Sessions that may have datagrams to send, in round-robin order (see `pollTransmit`). */
  private readonly sending = new Set<Session>();
  /** The session `pollTransmit` asked last. */
  private lastSending: Session | undefined;
  /** Responder sessions not yet established: bounded by `pendingHandshakesMax`. */
  private readonly halfOpen = new Set<SessionId>();
  private readonly counters: EndpointStats;

  constructor(options: EndpointOptions) {
    const positive = (name: string, v: number | undefined, dflt: number) => {
      const value = v ?? dflt;
      if (!Number.isFinite(value) || value <= 0)
        throw new InvalidOptionError(`${name} must be a positive number, got ${String(v)}`);
      return value;
    };
    this.config = {
      identity: options.identity,
      crypto: options.crypto,
      random: options.random,
      handshakeTimeoutMs: positive('handshakeTimeoutMs', options.handshakeTimeoutMs, 60_000),
      initialRttMs: positive('initialRttMs', options.initialRttMs, 333),
      handshakeRetransmitMaxMs: positive(
        'handshakeRetransmitMaxMs',
        options.handshakeRetransmitMaxMs,
        4_000,
      ),
      datagramQueueMax: positive('datagramQueueMax', options.datagramQueueMax, 256),
      idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs, 30_000),
      keepaliveIntervalMs: nonNegative('keepaliveIntervalMs', options.keepaliveIntervalMs, 10_000),
      maxDatagramBytes: inRange('maxDatagramBytes', options.maxDatagramBytes, 1200, 1200, 65_527),
      maxAckDelayMs: inRange('maxAckDelayMs', options.maxAckDelayMs, 25, 0, 16_383),
      congestion: congestionOption(options.congestion),
      keyUpdate: {
        updateAfterPackets: positive(
          'keyUpdateAfterPackets',
          options.keyUpdateAfterPackets,
          KEY_UPDATE_AFTER_PACKETS,
        ),
        updateAfterMs: positive('keyUpdateAfterMs', options.keyUpdateAfterMs, KEY_UPDATE_AFTER_MS),
      },
      scheduler: schedulerOption(options.scheduler),
      pathProbeIntervalMs: nonNegative('pathProbeIntervalMs', options.pathProbeIntervalMs, 1_000),
      pathDownAfterMs: positive('pathDownAfterMs', options.pathDownAfterMs, 1_000),
      pathRecoveryProbeMaxMs: positive(
        'pathRecoveryProbeMaxMs',
        options.pathRecoveryProbeMaxMs,
        1_000,
      ),
      suspendTimeoutMs: nonNegative('suspendTimeoutMs', options.suspendTimeoutMs, 6 * 3_600_000),
      maxPaths: inRange('maxPaths', options.maxPaths, 8, 1, 64),
      pathFilter: options.pathFilter ?? compatibleLocators,
      fecGroupDelayMs: nonNegative(
        'fecGroupDelayMs',
        options.fecGroupDelayMs,
        FEC_GROUP_DELAY_MS_DEFAULT,
      ),
      fecHorizonMs: nonNegative('fecHorizonMs', options.fecHorizonMs, FEC_HORIZON_MS_DEFAULT),
      fecEstimator: {
        ...(options.fecTargetLateFraction !== undefined
          ? { targetLateFraction: options.fecTargetLateFraction }
          : {}),
        ...(options.fecMaxOverhead !== undefined ? { maxOverhead: options.fecMaxOverhead } : {}),
      },
      datagramFec: fecSettingOption('datagramFec', options.datagramFec ?? 'auto'),
      streamWindowBytes: positive('streamWindowBytes', options.streamWindowBytes, 1 << 20),
      connectionWindowBytes: positive(
        'connectionWindowBytes',
        options.connectionWindowBytes,
        4 << 20,
      ),
      streamWindowMaxBytes: positive('streamWindowMaxBytes', options.streamWindowMaxBytes, 6 << 20),
      connectionWindowMaxBytes: positive(
        'connectionWindowMaxBytes',
        options.connectionWindowMaxBytes,
        15 << 20,
      ),
      maxStreams: positive('maxStreams', options.maxStreams, 1024),
      streamSendBufferBytes: positive(
        'streamSendBufferBytes',
        options.streamSendBufferBytes,
        1 << 20,
      ),
      datagramSlab: new ByteSlab(),
      receivedDatagramsOwned: options.receivedDatagramsOwned ?? false,
      borrowedTransmits: options.borrowedTransmits ?? false,
    };
    this.pendingHandshakesMax = positive(
      'pendingHandshakesMax',
      options.pendingHandshakesMax,
      1024,
    );
    this.sessionsMax = positive('sessionsMax', options.sessionsMax, 4096);
    this.eventQueueMax = positive('eventQueueMax', options.eventQueueMax, 65_536);
    this.acceptPeer = options.acceptPeer ?? (() => true);
    this.acceptIncoming = options.acceptIncoming ?? true;
    this.macKey = handshakeMacKey(options.crypto, options.identity.eid);
    for (const l of options.localAddresses ?? []) this.localAddresses.add(l);
    const rejected = {} as Record<RejectReason, number>;
    for (const r of REJECT_REASONS) rejected[r] = 0;
    this.counters = {
      datagramsReceived: 0,
      datagramsSent: 0,
      bytesReceived: 0,
      bytesSent: 0,
      rejected,
      handshakesStarted: 0,
      handshakesAccepted: 0,
      handshakesCompleted: 0,
      handshakesFailed: 0,
      sessionsOpen: 0,
      eventsDropped: 0,
    };
  }

  get eid(): Eid {
    return this.config.identity.eid;
  }

  // ---- commands -------------------------------------------------------------------------

  /** Starts a session to `remoteEid` at `remote`. Events report its progress. */
  connect(now: number, options: ConnectOptions): SessionId {
    this.ensureRoom();
    const id = this.nextSessionId++;
    const session = Session.initiate(
      id,
      this.config,
      {
        remoteEid: options.remoteEid,
        path: { local: options.local, remote: options.remote },
        ...(options.remoteStaticKey ? { remoteStaticKey: options.remoteStaticKey } : {}),
      },
      now,
    );
    this.adoptAddresses(session, now, options.local);
    this.register(session, now);
    this.announced.add(id);
    this.counters.handshakesStarted++;
    return id;
  }

  /** Queues an unreliable datagram. Throws DatagramTooLargeError, BackpressureError, SessionClosedError. */
  /**
   * A local address appeared (from the runtime): sessions advertise it, and paths from it are
   * opened (by initiators) or moved to it (paths whose address went away).
   */
  addLocalAddress(now: number, locator: Locator): void {
    this.localAddresses.add(locator);
    for (const s of this.sessions.values()) {
      s.addLocalAddress(now, locator);
      this.collect(s, now);
    }
  }

  /** A local address is gone: its paths are down at once and their data moves. */
  removeLocalAddress(now: number, locator: Locator): void {
    this.localAddresses.delete(locator);
    for (const s of [...this.sessions.values()]) {
      s.removeLocalAddress(now, locator);
      this.collect(s, now);
    }
  }

  /**
   * Sending from `tuple.local` to `tuple.remote` failed for want of a route: every session's
   * path on that pair goes down now and its data moves (the address itself stays; see
   * `removeLocalAddress` for an address that is gone).
   */
  pathUnreachable(now: number, tuple: PathTuple, reason: string): void {
    for (const s of [...this.sessions.values()]) {
      s.pathUnreachable(now, tuple, reason);
      this.collect(s, now);
    }
  }

  localAddressList(): Locator[] {
    return [...this.localAddresses];
  }

  /** Keeps a path in reserve (used only when no active path is) or makes it active again. */
  setPathStandby(now: number, id: SessionId, pathId: number, standby: boolean): void {
    const s = this.session(id);
    s.setPathStandby(now, pathId, standby);
    this.collect(s, now);
  }

  /** Takes a path down by hand (nothing is sent on it) or lets it be probed and rejoin. */
  setPathDown(now: number, id: SessionId, pathId: number, down: boolean): void {
    const s = this.session(id);
    s.setPathDown(now, pathId, down);
    this.collect(s, now);
  }

  /**
   * Measures the round trip of every usable path of session `id` once: each sends an
   * ack-eliciting packet now, and a `ping` event follows per path when it is acknowledged
   * (none for a path whose packet is lost and not answered again). Returns the paths asked.
   */
  pingPaths(now: number, id: SessionId): number[] {
    const s = this.session(id);
    const asked = s.pingPaths(now);
    this.collect(s, now);
    return asked;
  }

  paths(id: SessionId): PathStats[] {
    return this.session(id).pathStats();
  }

  sendDatagram(_now: number, id: SessionId, data: Uint8Array): void {
    const s = this.session(id);
    s.sendDatagram(data);
    this.sending.add(s);
  }

  /**
   * Closes a session now: the peer receives `code` and `reason`; unsent and unacknowledged
   * stream data is abandoned. See {@link closeGracefully} to let streams drain first.
   */
  close(now: number, id: SessionId, reason = '', code: number = CloseCode.NO_ERROR): void {
    const s = this.session(id);
    s.close(now, code, reason);
    this.collect(s, now);
  }

  /**
   * Closes a session once everything written to its streams is acknowledged, or after
   * `timeoutMs` (default 30 s) whatever remains. Reads go on meanwhile.
   */
  closeGracefully(now: number, id: SessionId, reason = '', timeoutMs = 30_000): void {
    const s = this.session(id);
    s.closeGracefully(now, reason, timeoutMs);
    this.collect(s, now);
  }

  /** Opens a stream. Throws StreamLimitError (wait for `streams_available`), StreamStateError. */
  openStream(_now: number, id: SessionId, policy?: Partial<StreamPolicy>): number {
    const s = this.session(id);
    const streamId = s.openStream(policy);
    return streamId;
  }

  /** Writes what fits of `data`; returns the bytes taken. Wait for `stream_writable` for more. */
  streamWrite(now: number, id: SessionId, streamId: number, data: Uint8Array): number {
    const s = this.session(id);
    const n = s.streamWrite(streamId, data);
    this.collect(s, now);
    return n;
  }

  /** Ends a stream's sending half (after what was written). */
  streamEnd(now: number, id: SessionId, streamId: number): void {
    const s = this.session(id);
    s.streamEnd(streamId);
    this.collect(s, now);
  }

  /** Abandons a stream's sending half with an application code. */
  streamReset(now: number, id: SessionId, streamId: number, code: number): void {
    const s = this.session(id);
    s.streamReset(streamId, code);
    this.collect(s, now);
  }

  /** Asks the peer to stop sending on a stream; what arrives is discarded. */
  streamStopSending(now: number, id: SessionId, streamId: number, code: number): void {
    const s = this.session(id);
    s.streamStopSending(streamId, code);
    this.collect(s, now);
  }

  /** Reads up to `max` bytes of a stream in order; undefined when nothing is ready. */
  streamRead(now: number, id: SessionId, streamId: number, max = 65_536): ReadResult | undefined {
    const s = this.session(id);
    const r = s.streamRead(now, streamId, max);
    this.collect(s, now);
    return r;
  }

  setStreamPolicy(id: SessionId, streamId: number, policy: Partial<StreamPolicy>): void {
    this.session(id).setStreamPolicy(streamId, policy);
  }

  /** Test hook: see `Session.injectFrames`. */
  injectFrames(now: number, id: SessionId, frames: Frame[]): void {
    const s = this.session(id);
    s.injectFrames(now, frames);
    this.collect(s, now);
  }

  /** Test hook: see `Session.fastForwardPacketNumbers`. */
  fastForwardPacketNumbers(id: SessionId, next: number, limit?: number): void {
    this.session(id).fastForwardPacketNumbers(next, limit);
  }

  // ---- inputs ---------------------------------------------------------------------------

  handleDatagram(now: number, path: PathTuple, bytes: Uint8Array): void {
    this.counters.datagramsReceived++;
    this.counters.bytesReceived += bytes.length;
    const parsed = parsePacket(bytes);
    if (!parsed.ok) {
      this.reject(parsed.reason, parsed.detail, path.remote);
      return;
    }
    const packet = parsed.packet;
    if (packet.form === 'short') {
      const route = this.byCid.get(packet.dcid);
      if (!route) {
        this.reject('unknown_cid', `no session for ${toHex(packet.dcid)}`, path.remote);
        return;
      }
      const s = route.session;
      s.handleShort(now, path, route.pathId, packet, bytes);
      this.collect(s, now, path.remote);
      return;
    }
    if (packet.type === LongType.INITIAL) {
      if (
        !constantTimeEqual(
          computeHandshakeMac(this.config.crypto, this.macKey, packet.authenticated),
          packet.mac,
        )
      ) {
        this.reject('bad_mac', 'INITIAL not addressed to this EID, or corrupted', path.remote);
        return;
      }
      const existing = this.byOdcid.get(toHex(packet.dcid));
      if (existing) {
        existing.handleLong(now, path, packet, bytes.length, this.acceptPeer);
        this.collect(existing, now, path.remote);
        return;
      }
      if (!this.acceptIncoming) {
        this.reject('peer_refused', 'this endpoint accepts no sessions', path.remote);
        return;
      }
      if (bytes.length < 1200) {
        this.reject(
          'malformed',
          `INITIAL of ${bytes.length} bytes is not padded to 1200`,
          path.remote,
        );
        return;
      }
      if (
        this.halfOpen.size >= this.pendingHandshakesMax ||
        this.sessions.size >= this.sessionsMax
      ) {
        this.reject('handshake_limit', 'too many sessions or half-open handshakes', path.remote);
        return;
      }
      const id = this.nextSessionId++;
      const result = Session.accept(
        id,
        this.config,
        this.macKey,
        path,
        packet,
        bytes.length,
        now,
        this.acceptPeer,
      );
      if (!(result instanceof Session)) {
        this.reject(result.reason, result.detail, path.remote);
        return;
      }
      this.counters.handshakesAccepted++;
      this.adoptAddresses(result, now, path.local);
      this.register(result, now);
      this.byOdcid.set(toHex(result.odcid), result);
      this.collect(result, now, path.remote);
      return;
    }
    // HANDSHAKE and FINISH are addressed to a CID we chose.
    const s = this.byCid.get(packet.dcid)?.session;
    if (!s) {
      this.reject('unknown_cid', `no session for ${toHex(packet.dcid)}`, path.remote);
      return;
    }
    const macKey =
      s.role === 'responder' ? this.macKey : handshakeMacKey(this.config.crypto, s.expectedPeer());
    if (
      !constantTimeEqual(
        computeHandshakeMac(this.config.crypto, macKey, packet.authenticated),
        packet.mac,
      )
    ) {
      this.reject('bad_mac', 'handshake packet failed its integrity check', path.remote);
      return;
    }
    s.handleLong(now, path, packet, bytes.length, this.acceptPeer);
    this.collect(s, now, path.remote);
  }

  handleTimeout(now: number): void {
    for (const s of [...this.sessions.values()]) {
      const t = s.nextTimeout();
      if (t !== undefined && t <= now) {
        s.handleTimeout(now);
        this.collect(s, now);
      }
    }
  }

  // ---- outputs --------------------------------------------------------------------------

  /** The next datagram to send, round-robin over sessions; `undefined` when there is none. */
  pollTransmit(now: number): Transmit | undefined {
    const orphan = this.orphans.shift();
    if (orphan) return this.count(orphan);
    // Only sessions touched since they last ran dry are asked; one that yields a datagram goes
    // to the back of the line, so busy sessions take turns.
    // One session sending (the bulk case): no turn to take, so no reordering of the set.
    const only = this.lastSending;
    if (this.sending.size === 1 && only && this.sending.has(only)) {
      const t = only.pollTransmit(now);
      if (t) return this.count(t);
      this.sending.delete(only);
      return undefined;
    }
    for (const s of this.sending) {
      this.lastSending = s;
      this.sending.delete(s);
      const t = s.pollTransmit(now);
      if (t) {
        this.sending.add(s);
        return this.count(t);
      }
    }
    return undefined;
  }

  private count(t: Transmit): Transmit {
    this.counters.datagramsSent++;
    this.counters.bytesSent += t.bytes.length;
    return t;
  }

  /** The earliest deadline over all sessions, or `undefined`. */
  pollTimeout(): number | undefined {
    let t: number | undefined;
    for (const s of this.sessions.values()) {
      const d = s.nextTimeout();
      if (d !== undefined && (t === undefined || d < t)) t = d;
    }
    return t;
  }

  pollEvent(): EndpointEvent | undefined {
    return this.events.shift();
  }

  // ---- observation ----------------------------------------------------------------------

  stats(): EndpointStats {
    return {
      ...this.counters,
      rejected: { ...this.counters.rejected },
      sessionsOpen: this.sessions.size,
    };
  }

  sessionInfo(id: SessionId): SessionInfo {
    const s = this.session(id);
    return {
      id: s.id,
      role: s.role,
      state: s.state,
      confirmed: s.confirmed,
      shortId: s.shortId,
      pattern: PATTERN_LABEL[s.pattern] ?? String(s.pattern),
      path: { ...s.path },
      remoteEid: s.remoteEid,
      handshakeHash: s.handshakeHash?.slice(),
      maxDatagramBytes: s.maxDatagramBytes,
      stats: { ...s.stats },
      paths: s.pathStats(),
    };
  }

  /** Ids of the sessions the application knows of (not half-open responder handshakes). */
  sessionIds(): SessionId[] {
    return [...this.sessions.keys()].filter((id) => this.announced.has(id));
  }

  /** The last {@link RECENT_REJECTS_MAX} rejected datagrams, oldest first, for diagnostics. */
  recentRejects(): readonly { reason: RejectReason; detail: string; from: Locator }[] {
    return this.recent;
  }

  // ---- internals ------------------------------------------------------------------------

  private session(id: SessionId): Session {
    const s = this.sessions.get(id);
    if (!s || !this.announced.has(id)) throw new UnknownSessionError(`no session ${id}`);
    return s;
  }

  private ensureRoom(): void {
    if (this.sessions.size >= this.sessionsMax)
      throw new InvalidOptionError(`session limit of ${this.sessionsMax} reached`);
  }

  private register(s: Session, now: number): void {
    this.sessions.set(s.id, s);
    this.byCid.set(s.localCid, { session: s, pathId: 0 });
    this.startedMs.set(s.id, now);
    this.sending.add(s);
    if (s.role === 'responder') this.halfOpen.add(s.id);
  }

  /** A new session learns this endpoint's addresses (the one it started on first). */
  private adoptAddresses(s: Session, now: number, first: Locator): void {
    s.addLocalAddress(now, first);
    for (const l of this.localAddresses) s.addLocalAddress(now, l);
  }

  private reject(reason: RejectReason, detail: string, from: Locator): void {
    this.counters.rejected[reason]++;
    this.recent.push({ reason, detail, from });
    if (this.recent.length > RECENT_REJECTS_MAX) this.recent.shift();
  }

  private emit(event: EndpointEvent): void {
    if (this.events.length >= this.eventQueueMax) {
      // Only unreliable datagrams may be shed; lifecycle events are always kept.
      const i = this.events.findIndex((e) => e.type === 'datagram');
      if (event.type === 'datagram' || i < 0) {
        this.counters.eventsDropped++;
        if (event.type === 'datagram') return;
      } else {
        this.events.splice(i, 1);
        this.counters.eventsDropped++;
      }
    }
    this.events.push(event);
  }

  /** Turns a session's outputs into events and counters, and forgets finished sessions. */
  /** `from`: where the input came from (default: the session's current path). */
  private collect(s: Session, now: number, from?: Locator): void {
    // Most calls find nothing to say: no array is taken then.
    const outputs = s.outputs.length > 0 ? s.outputs.splice(0) : NO_OUTPUTS;
    for (const out of outputs) {
      switch (out.kind) {
        case 'reject':
          this.reject(out.reason, out.detail, from ?? s.path.remote);
          break;
        case 'established':
          this.announced.add(s.id);
          this.halfOpen.delete(s.id);
          this.counters.handshakesCompleted++;
          this.emit({
            type: 'established',
            session: s.id,
            role: s.role,
            remoteEid: s.remoteEid!,
            pattern: PATTERN_LABEL[s.pattern] ?? String(s.pattern),
            handshakeMs: now - (this.startedMs.get(s.id) ?? now),
          });
          break;
        case 'datagram':
          this.emit({ type: 'datagram', session: s.id, data: out.data });
          break;
        case 'stream_opened':
        case 'stream_readable':
        case 'stream_writable':
        case 'stream_closed':
          this.emit({ type: out.kind, session: s.id, streamId: out.streamId });
          break;
        case 'stream_reset':
        case 'stream_stopped':
          this.emit({ type: out.kind, session: s.id, streamId: out.streamId, code: out.code });
          break;
        case 'streams_available':
          this.emit({ type: out.kind, session: s.id, available: out.available });
          break;
        case 'cid':
          if (out.retired) this.byCid.delete(out.cid);
          else this.byCid.set(out.cid, { session: s, pathId: out.pathId });
          break;
        case 'path':
          this.emit({
            type: 'path',
            session: s.id,
            pathId: out.pathId,
            change: out.change,
            local: out.local,
            remote: out.remote,
            reason: out.reason,
          });
          break;
        case 'failover':
          this.emit({
            type: 'failover',
            session: s.id,
            from: out.from,
            to: out.to,
            reason: out.reason,
            detectMs: out.detectMs,
          });
          break;
        case 'suspended':
          this.emit({ type: 'suspended', session: s.id });
          break;
        case 'resumed':
          this.emit({ type: 'resumed', session: s.id, suspendedMs: out.suspendedMs });
          break;
        case 'ping':
          this.emit({ type: 'ping', session: s.id, pathId: out.pathId, rttMs: out.rttMs });
          break;
        case 'closed':
          if (
            out.code === CloseCode.HANDSHAKE_FAILED ||
            out.code === CloseCode.PEER_IDENTITY_MISMATCH ||
            out.code === CloseCode.PEER_REFUSED
          )
            this.counters.handshakesFailed++;
          if (this.announced.has(s.id))
            this.emit({
              type: 'closed',
              session: s.id,
              code: out.code,
              reason: out.reason,
              byPeer: out.byPeer,
              ...(out.error ? { error: out.error } : {}),
            });
          break;
      }
    }
    if (s.state === 'closed') this.forget(s);
    else this.sending.add(s);
  }

  private forget(s: Session): void {
    // Whatever the session still had to say (e.g. its CONNECTION_CLOSE) is sent all the same.
    for (const t of s.takeOutbox())
      if (this.orphans.length < ORPHAN_TRANSMITS_MAX) this.orphans.push(t);
    this.sessions.delete(s.id);
    this.sending.delete(s);
    if (this.lastSending === s) this.lastSending = undefined;
    this.halfOpen.delete(s.id);
    for (const cid of s.receiveCids()) this.byCid.delete(cid);
    this.byOdcid.delete(toHex(s.odcid));
    this.announced.delete(s.id);
    this.startedMs.delete(s.id);
  }
}
