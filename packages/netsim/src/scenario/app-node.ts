/**
 * A simulated host: a Braid {@link Endpoint} plus a small application that sends numbered
 * messages as datagrams and acknowledges what it receives, re-sending what is not acknowledged.
 * (Datagrams are unreliable, so the application does its own retransmission, which is what
 * makes "everything sent arrived" checkable under loss; streams are `stream-transfer.ts`.)
 *
 * The node checks safety as it runs and throws {@link SafetyViolation} at once when:
 * - a delivered message differs from what was sent (a forged or corrupted packet was accepted);
 * - the same datagram transmission is delivered twice (replay protection failed).
 * The scenario checks, from both nodes' counts, that no handshake made two sessions.
 */
import {
  BraidError,
  type Eid,
  type EndpointEvent,
  type EndpointOptions,
  type Locator,
  type SessionId,
} from '@braid/protocol';
import { EndpointNode } from './common.js';

const MSG_DATA = 1;
const MSG_ACK = 2;
const HEADER_BYTES = 1 + 4 + 4;
/** Messages in flight per direction before the application waits for acknowledgements. */
export const APP_WINDOW_MESSAGES = 32;
/** Re-sends of one message before the scenario gives up on it (a liveness failure). */
export const APP_ATTEMPTS_MAX = 10_000;

/** A safety property was broken: a bug, never an acceptable outcome of a fault. */
export class SafetyViolation extends BraidError {
  readonly code = 'ERR_BRAID_SIM_SAFETY';
  constructor(message: string) {
    super(message);
    this.name = 'SafetyViolation';
  }
}

/** Deterministic content of message `id`, so that the receiver can check every byte. */
export function messageBytes(id: number, sizeBytes: number, salt: number): Uint8Array {
  const out = new Uint8Array(sizeBytes);
  let x = (Math.imul(id + 1, 0x9e3779b1) ^ salt) >>> 0;
  for (let i = 0; i < sizeBytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export interface AppNodeOptions {
  name: string;
  endpoint: EndpointOptions;
  local: Locator;
  /** Messages this node sends once a session is up. */
  messages: number;
  messageBytes: number;
  /** Content salt of the messages this node sends (the peer must know it to verify). */
  salt: number;
  /** Content salt of the messages the peer sends. */
  peerSalt: number;
  /** Initiators only: whom to dial. Re-dials after a failed handshake. */
  dial?: { eid: Eid; staticKey?: Uint8Array; remote: Locator };
  /** Re-dial at most this many times after a handshake fails. Default 20. */
  redialsMax?: number;
}

export interface AppStats {
  sessionsEstablished: number;
  handshakeMs: number[];
  messagesSent: number;
  messagesAcked: number;
  messagesDelivered: number;
  /** Deliveries of a message already delivered: re-sends whose acknowledgement was lost. */
  messagesRedelivered: number;
  appRetransmits: number;
  redials: number;
  closes: { code: number; reason: string; error?: string }[];
}

export class AppNode extends EndpointNode {
  readonly stats: AppStats = {
    sessionsEstablished: 0,
    handshakeMs: [],
    messagesSent: 0,
    messagesAcked: 0,
    messagesDelivered: 0,
    messagesRedelivered: 0,
    appRetransmits: 0,
    redials: 0,
    closes: [],
  };
  session: SessionId | undefined;
  private ready = false;
  private readonly options: AppNodeOptions;
  private nextMessage = 0;
  /** msgId → [attempt, deadline] of unacknowledged messages. */
  private readonly unacked = new Map<number, { attempt: number; resendAtMs: number }>();
  private readonly delivered = new Set<number>();
  /** `${msgId}/${attempt}` of every delivery, to catch a datagram delivered twice. */
  private readonly transmissionsSeen = new Set<string>();
  private readonly acksToSend: number[] = [];
  private rttMs = 1000;

  constructor(options: AppNodeOptions, now = 0) {
    super(options.endpoint);
    this.options = options;
    if (options.dial) this.dial(now);
  }

  /** Every message this node sends was acknowledged, and every message of the peer arrived. */
  done(peerMessages: number): boolean {
    return (
      this.stats.messagesAcked === this.options.messages && this.delivered.size === peerMessages
    );
  }

  get deliveredCount(): number {
    return this.delivered.size;
  }

  // ---- SimNode (the rest is EndpointNode's) -------------------------------------------

  override handleTimeout(now: number): void {
    super.handleTimeout(now);
    this.resendDue(now);
  }

  override pollTimeout(): number | undefined {
    let t = this.endpoint.pollTimeout();
    if (this.ready)
      for (const u of this.unacked.values())
        if (t === undefined || u.resendAtMs < t) t = u.resendAtMs;
    return t;
  }

  // ---- application ----------------------------------------------------------------------

  private dial(now: number): void {
    const d = this.options.dial!;
    this.session = this.endpoint.connect(now, {
      remoteEid: d.eid,
      ...(d.staticKey ? { remoteStaticKey: d.staticKey } : {}),
      local: this.options.local,
      remote: d.remote,
    });
  }

  protected override react(now: number): void {
    super.react(now);
    this.flushAcks(now);
    this.fillWindow(now);
  }

  protected onEvent(now: number, e: EndpointEvent): void {
    switch (e.type) {
      case 'established': {
        this.session = e.session;
        this.ready = true;
        this.stats.sessionsEstablished++;
        this.stats.handshakeMs.push(e.handshakeMs);
        const rtt = this.endpoint.sessionInfo(e.session).stats.handshakeRttMs;
        if (rtt > 0) this.rttMs = rtt;
        // Everything unacknowledged goes again on the new session.
        for (const u of this.unacked.values()) u.resendAtMs = now;
        break;
      }
      case 'datagram':
        this.onDatagram(e.data);
        break;
      case 'closed':
        this.stats.closes.push({
          code: e.code,
          reason: e.reason,
          ...(e.error ? { error: e.error.code } : {}),
        });
        if (e.session === this.session) {
          this.ready = false;
          this.session = undefined;
          if (this.options.dial && this.stats.redials < (this.options.redialsMax ?? 20)) {
            this.stats.redials++;
            this.dial(now);
          }
        }
        break;
    }
  }

  private onDatagram(data: Uint8Array): void {
    if (data.length < 5) throw new SafetyViolation(`${this.options.name}: runt datagram accepted`);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const type = data[0];
    const id = view.getUint32(1);
    if (type === MSG_ACK) {
      if (this.unacked.delete(id)) this.stats.messagesAcked++;
      return;
    }
    if (type !== MSG_DATA || data.length < HEADER_BYTES)
      throw new SafetyViolation(`${this.options.name}: unknown message accepted`);
    const attempt = view.getUint32(5);
    const transmission = `${id}/${attempt}`;
    if (this.transmissionsSeen.has(transmission))
      throw new SafetyViolation(
        `${this.options.name}: transmission ${transmission} delivered twice`,
      );
    this.transmissionsSeen.add(transmission);
    const body = data.subarray(HEADER_BYTES);
    const expected = messageBytes(id, this.options.messageBytes, this.options.peerSalt);
    if (body.length !== expected.length || body.some((b, i) => b !== expected[i]))
      throw new SafetyViolation(`${this.options.name}: message ${id} arrived altered`);
    if (this.delivered.has(id)) this.stats.messagesRedelivered++;
    else {
      this.delivered.add(id);
      this.stats.messagesDelivered++;
    }
    this.acksToSend.push(id);
  }

  private flushAcks(now: number): void {
    if (!this.ready || this.session === undefined) return;
    while (this.acksToSend.length > 0) {
      const ack = new Uint8Array(5);
      ack[0] = MSG_ACK;
      new DataView(ack.buffer).setUint32(1, this.acksToSend[0]!);
      if (!this.trySend(now, ack)) return;
      this.acksToSend.shift();
    }
  }

  private fillWindow(now: number): void {
    if (!this.ready) return;
    while (this.unacked.size < APP_WINDOW_MESSAGES && this.nextMessage < this.options.messages) {
      const id = this.nextMessage;
      if (!this.trySend(now, this.encode(id, 0))) return;
      this.nextMessage++;
      this.stats.messagesSent++;
      this.unacked.set(id, { attempt: 0, resendAtMs: now + this.rtoMs() });
    }
  }

  private resendDue(now: number): void {
    if (!this.ready) return;
    for (const [id, u] of this.unacked) {
      if (u.resendAtMs > now) continue;
      if (u.attempt >= APP_ATTEMPTS_MAX)
        throw new SafetyViolation(`${this.options.name}: message ${id} never acknowledged`);
      if (!this.trySend(now, this.encode(id, u.attempt + 1))) {
        // The session's queue is full (datagrams wait for the congestion window): try later.
        for (const v of this.unacked.values())
          if (v.resendAtMs <= now) v.resendAtMs = now + this.rtoMs();
        return;
      }
      u.attempt++;
      u.resendAtMs = now + this.rtoMs();
      this.stats.appRetransmits++;
    }
  }

  private rtoMs(): number {
    return Math.max(4 * this.rttMs, 20);
  }

  private encode(id: number, attempt: number): Uint8Array {
    const out = new Uint8Array(HEADER_BYTES + this.options.messageBytes);
    out[0] = MSG_DATA;
    const view = new DataView(out.buffer);
    view.setUint32(1, id);
    view.setUint32(5, attempt);
    out.set(messageBytes(id, this.options.messageBytes, this.options.salt), HEADER_BYTES);
    return out;
  }

  /** Queues a datagram; false when the session pushes back (the caller retries later). */
  private trySend(now: number, data: Uint8Array): boolean {
    if (this.session === undefined) return false;
    try {
      this.endpoint.sendDatagram(now, this.session, data);
      return true;
    } catch (err) {
      if (err instanceof BraidError && err.code === 'ERR_BRAID_BACKPRESSURE') return false;
      if (err instanceof BraidError && err.code === 'ERR_BRAID_SESSION_CLOSED') return false;
      throw err;
    }
  }
}
