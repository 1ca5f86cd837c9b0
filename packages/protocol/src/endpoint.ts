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
import { toHex } from './bytes.js';
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
} from './session.js';
import { constantTimeEqual } from './bytes.js';
import { LongType, parsePacket } from './wire/packet.js';

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
  /** Idle timeout announced to peers (enforced from the streams layer on). Default 30 000 ms. */
  idleTimeoutMs?: number;
  /** Whether to accept sessions from this peer. Default: everyone (open mode). */
  acceptPeer?: (eid: Eid) => boolean;
  /** Whether this endpoint answers INITIALs at all. Default true. */
  acceptIncoming?: boolean;
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
  private readonly byCid = new Map<string, Session>();
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
    this.register(session, now);
    this.announced.add(id);
    this.counters.handshakesStarted++;
    return id;
  }

  /** Queues an unreliable datagram. Throws DatagramTooLargeError, BackpressureError, SessionClosedError. */
  sendDatagram(_now: number, id: SessionId, data: Uint8Array): void {
    const s = this.session(id);
    s.sendDatagram(data);
    this.sending.add(s);
  }

  /** Closes a session gracefully: the peer receives `code` and `reason`. */
  close(now: number, id: SessionId, reason = '', code: number = CloseCode.NO_ERROR): void {
    const s = this.session(id);
    s.close(now, code, reason);
    this.collect(s, now);
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
      const s = this.byCid.get(toHex(packet.dcid));
      if (!s) {
        this.reject('unknown_cid', `no session for ${toHex(packet.dcid)}`, path.remote);
        return;
      }
      s.handleShort(now, path, packet, bytes.length);
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
      this.register(result, now);
      this.byOdcid.set(toHex(result.odcid), result);
      this.collect(result, now, path.remote);
      return;
    }
    // HANDSHAKE and FINISH are addressed to a CID we chose.
    const s = this.byCid.get(toHex(packet.dcid));
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
  pollTransmit(_now: number): Transmit | undefined {
    const orphan = this.orphans.shift();
    if (orphan) return this.count(orphan);
    // Only sessions touched since they last ran dry are asked; one that yields a datagram goes
    // to the back of the line, so busy sessions take turns.
    for (const s of this.sending) {
      this.sending.delete(s);
      const t = s.pollTransmit();
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
    this.byCid.set(toHex(s.localCid), s);
    this.startedMs.set(s.id, now);
    this.sending.add(s);
    if (s.role === 'responder') this.halfOpen.add(s.id);
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
  private collect(s: Session, now: number, from: Locator = s.path.remote): void {
    for (const out of s.outputs.splice(0)) {
      switch (out.kind) {
        case 'reject':
          this.reject(out.reason, out.detail, from);
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
    this.halfOpen.delete(s.id);
    this.byCid.delete(toHex(s.localCid));
    this.byOdcid.delete(toHex(s.odcid));
    this.announced.delete(s.id);
    this.startedMs.delete(s.id);
  }
}
