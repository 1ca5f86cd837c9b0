/**
 * A host of the multipath scenarios: one Braid endpoint that sends the streams of its plan
 * (all at once, or paced as small messages) and reads the peer's, checking every byte as it
 * arrives, like the stream transfer (`stream-transfer.ts`, whose content and hash it uses).
 *
 * It also watches what the endpoint does, for the scenario's figures and the tests' checks:
 * - every path, failover, suspend and resume event, with its virtual time, in one log shared
 *   by both hosts (so the two sides' events interleave in order);
 * - for each datagram sent, the stream bytes it carried and on which path (the difference of
 *   the path's `streamBytesSent` across the `pollTransmit` that produced it);
 * - when each stream byte was read (application delivery, for stalls);
 * - per remote address, the bytes received from it and the bytes sent to it while no validated
 *   path had it as its remote (the 3× anti-amplification rule, RFC 9000 §8).
 */
import {
  BraidError,
  type Endpoint,
  type EndpointEvent,
  type EndpointOptions,
  type Locator,
  type PathStats,
  type SessionId,
  type StreamPolicy,
  type Transmit,
} from '@braid/protocol';
import { SafetyViolation } from './app-node.js';
import { EndpointNode, type Dial } from './common.js';
import {
  Fnv1a32,
  readCheckedStream,
  streamContent,
  writeContent,
  type IncomingStream,
  type Outgoing,
} from './stream-transfer.js';

export type Side = 'a' | 'b';

/** What one host sends: one stream per entry of `sizes`. */
export interface StreamPlan {
  sizes: number[];
  /** Policy of these streams. Default bulk. */
  policy?: StreamPolicy;
  /**
   * Write `chunkBytes` every `intervalMs` (an application sending small messages) instead of
   * everything at once. Default: all at once.
   */
  pace?: { chunkBytes: number; intervalMs: number };
}

/** One protocol event, as the scenario log keeps it. */
export interface LoggedEvent {
  /** Order among all logged events and stream sends of the run (both hosts). */
  seq: number;
  atMs: number;
  side: Side;
  type: 'established' | 'path' | 'failover' | 'suspended' | 'resumed' | 'closed';
  pathId?: number;
  change?: string;
  local?: Locator;
  remote?: Locator;
  from?: number;
  to?: number;
  reason?: string;
  detectMs?: number;
  suspendedMs?: number;
}

/** Stream bytes one datagram carried. */
export interface StreamSend {
  seq: number;
  atMs: number;
  pathId: number;
  /** Where the datagram went (a path's remote, or a candidate address being challenged). */
  to: Locator;
  bytes: number;
}

/**
 * What a host sent to and received from one remote address. "Unvalidated": while no path of
 * the session that has passed validation had this address as its remote.
 */
export interface AddressLedger {
  address: Locator;
  /** Bytes received from it. */
  received: number;
  /** Bytes sent to it while unvalidated. */
  sentUnvalidated: number;
  /** Largest `sentUnvalidated / received` right after such a send (0 when there was none). */
  worstRatio: number;
  /** Stream bytes sent to it, in all and while unvalidated (which must never happen). */
  streamBytes: number;
  streamBytesUnvalidated: number;
}

/** Shared by both hosts of a run: the event log and the order counter. */
export class RunLog {
  readonly events: LoggedEvent[] = [];
  #seq = 0;
  next(): number {
    return this.#seq++;
  }
}

/** Content index of the `index`th stream a side opens (so A's and B's streams differ). */
function contentIndex(opener: Side, index: number): number {
  return (opener === 'a' ? 0 : 0x1_0000) + index;
}

/** Bounds of what a node records (a run that would exceed them is too big for a scenario). */
export const STREAM_SENDS_MAX = 2_000_000;
export const DELIVERIES_MAX = 2_000_000;
export const EVENTS_MAX = 100_000;

export interface MultipathNodeOptions {
  side: Side;
  endpoint: EndpointOptions;
  local: Locator;
  dial?: Dial;
  /** What this host sends, and what the peer sends (to check it). */
  send: StreamPlan;
  peerSizes: number[];
  log: RunLog;
}

interface Incoming extends IncomingStream {
  index: number;
  size: number;
  hash: Fnv1a32;
}

export class MultipathNode extends EndpointNode {
  readonly side: Side;
  session: SessionId | undefined;
  establishedAtMs: number | undefined;
  establishedCount = 0;
  handshakeMs: number | null = null;
  readonly closes: string[] = [];
  /** Per stream index, the hash of what this host wrote, and of what it read from the peer. */
  readonly hashOut: string[];
  readonly hashIn: string[];
  bytesIn = 0;
  streamsDone = 0;
  finishedAtMs: number | undefined;
  /** Every read that returned bytes: when, and how many. */
  readonly deliveries: { atMs: number; bytes: number }[] = [];
  readonly streamSends: StreamSend[] = [];
  readonly ledger = new Map<Locator, AddressLedger>();
  /** Called for each datagram this host sends (after it is recorded), e.g. to capture one. */
  onTransmit: ((now: number, tx: Transmit) => void) | undefined;
  /** Streams still being written, in opening order (paced plans write one chunk each per tick). */
  private readonly out = new Map<number, Outgoing>();
  private readonly incoming = new Map<number, Incoming>();
  private nextToOpen = 0;
  private nextWriteMs: number | undefined;
  /** Each path's `streamBytesSent` as last seen. */
  private readonly streamBytesSeen = new Map<number, number>();

  constructor(private readonly options: MultipathNodeOptions) {
    super(options.endpoint);
    this.side = options.side;
    const d = options.dial;
    if (d)
      this.session = this.endpoint.connect(0, {
        remoteEid: d.eid,
        ...(d.staticKey ? { remoteStaticKey: d.staticKey } : {}),
        local: options.local,
        remote: d.remote,
      });
    this.hashOut = options.send.sizes.map((size, i) => {
      const h = new Fnv1a32();
      const index = contentIndex(this.side, i);
      for (let at = 0; at < size; at += 1 << 20)
        h.update(streamContent(index, at, Math.min(1 << 20, size - at)));
      return h.hex;
    });
    this.hashIn = options.peerSizes.map(() => '');
  }

  /** Every stream of the peer was read to its end. */
  get done(): boolean {
    return this.streamsDone === this.options.peerSizes.length;
  }

  /** Everything this host had to write is written and ended. */
  get allWritten(): boolean {
    if (this.nextToOpen < this.options.send.sizes.length) return false;
    for (const o of this.out.values()) if (!o.ended) return false;
    return true;
  }

  /**
   * Runs a command on the endpoint (from a scripted action: an address comes or goes) and hands
   * the events it caused to the application at once, so they carry the command's time.
   */
  command(now: number, fn: (endpoint: Endpoint) => void): void {
    fn(this.endpoint);
    this.react(now);
  }

  /** The session's paths now, or [] when it is gone. */
  paths(): PathStats[] {
    if (this.session === undefined) return [];
    try {
      return this.endpoint.paths(this.session);
    } catch {
      return [];
    }
  }

  // ---- SimNode --------------------------------------------------------------------------

  override handleDatagram(
    now: number,
    path: { local: Locator; remote: Locator },
    bytes: Uint8Array,
  ): void {
    this.ledgerOf(path.remote).received += bytes.length;
    super.handleDatagram(now, path, bytes);
  }

  override handleTimeout(now: number): void {
    this.endpoint.handleTimeout(now);
    if (this.nextWriteMs !== undefined && now >= this.nextWriteMs) this.writePaced(now);
    this.react(now);
  }

  override pollTimeout(): number | undefined {
    const t = this.endpoint.pollTimeout();
    const w = this.nextWriteMs;
    return w !== undefined && (t === undefined || w < t) ? w : t;
  }

  override pollTransmit(now: number): Transmit | undefined {
    const tx = this.endpoint.pollTransmit(now);
    if (!tx) return undefined;
    this.observe(now, tx);
    this.onTransmit?.(now, tx);
    return tx;
  }

  /** Records what `tx` carried (a path snapshot per datagram: the price of exact figures). */
  private observe(now: number, tx: Transmit): void {
    const paths = this.paths();
    const validated = new Set(paths.filter((p) => p.status !== 'validating').map((p) => p.remote));
    let streamBytes = 0;
    for (const p of paths) {
      const before = this.streamBytesSeen.get(p.id) ?? 0;
      if (p.streamBytesSent === before) continue;
      this.streamBytesSeen.set(p.id, p.streamBytesSent);
      // A path that was removed and whose ID came back starts from zero.
      const bytes = p.streamBytesSent > before ? p.streamBytesSent - before : p.streamBytesSent;
      streamBytes += bytes;
      if (this.streamSends.length < STREAM_SENDS_MAX)
        this.streamSends.push({
          seq: this.options.log.next(),
          atMs: now,
          pathId: p.id,
          to: tx.to,
          bytes,
        });
    }
    const l = this.ledgerOf(tx.to);
    l.streamBytes += streamBytes;
    if (!validated.has(tx.to)) {
      l.streamBytesUnvalidated += streamBytes;
      l.sentUnvalidated += tx.bytes.length;
      l.worstRatio = Math.max(
        l.worstRatio,
        l.received > 0 ? l.sentUnvalidated / l.received : Infinity,
      );
    }
  }

  private ledgerOf(address: Locator): AddressLedger {
    let l = this.ledger.get(address);
    if (!l) {
      l = {
        address,
        received: 0,
        sentUnvalidated: 0,
        worstRatio: 0,
        streamBytes: 0,
        streamBytesUnvalidated: 0,
      };
      // Bounded by the addresses that ever sent to this host, a handful in any scenario.
      this.ledger.set(address, l);
    }
    return l;
  }

  // ---- application ----------------------------------------------------------------------

  protected onEvent(now: number, e: EndpointEvent): void {
    switch (e.type) {
      case 'established':
        this.establishedCount++;
        this.record(now, { type: 'established' });
        if (this.establishedCount > 1)
          throw new SafetyViolation(`${this.side}: a second session was established`);
        this.session = e.session;
        this.establishedAtMs = now;
        this.handshakeMs = e.handshakeMs;
        this.openStreams(now);
        return;
      case 'path':
        this.record(now, {
          type: 'path',
          pathId: e.pathId,
          change: e.change,
          local: e.local,
          remote: e.remote,
          ...(e.reason ? { reason: e.reason } : {}),
        });
        return;
      case 'failover':
        this.record(now, {
          type: 'failover',
          from: e.from,
          to: e.to,
          reason: e.reason,
          detectMs: e.detectMs,
        });
        return;
      case 'suspended':
        this.record(now, { type: 'suspended' });
        return;
      case 'resumed':
        this.record(now, { type: 'resumed', suspendedMs: e.suspendedMs });
        return;
      case 'streams_available':
        this.openStreams(now);
        return;
      case 'stream_opened':
        this.acceptStream(now, e.streamId);
        return;
      case 'stream_writable':
        if (!this.options.send.pace) this.writeMore(now, e.streamId, Infinity);
        return;
      case 'stream_readable':
        this.readAll(now, e.streamId);
        return;
      case 'stream_reset':
      case 'stream_stopped':
        throw new SafetyViolation(`${this.side}: stream ${e.streamId} ${e.type} (${e.code})`);
      case 'closed':
        this.closes.push(`${e.code}: ${e.reason}${e.byPeer ? ' (by peer)' : ''}`);
        this.record(now, { type: 'closed', reason: `${e.code}: ${e.reason}` });
        return;
      default:
        return;
    }
  }

  private record(now: number, e: Omit<LoggedEvent, 'seq' | 'atMs' | 'side'>): void {
    const log = this.options.log;
    if (log.events.length < EVENTS_MAX)
      log.events.push({ seq: log.next(), atMs: now, side: this.side, ...e });
  }

  private openStreams(now: number): void {
    const plan = this.options.send;
    const sid = this.session!;
    while (this.nextToOpen < plan.sizes.length) {
      let streamId: number;
      try {
        streamId = this.endpoint.openStream(now, sid, plan.policy);
      } catch (err) {
        if (err instanceof BraidError && err.code === 'ERR_BRAID_STREAM_LIMIT') return;
        throw err;
      }
      this.out.set(streamId, { index: this.nextToOpen++, written: 0, ended: false });
      if (plan.pace) this.nextWriteMs ??= now;
      else this.writeMore(now, streamId, Infinity);
    }
    if (plan.pace && this.nextWriteMs !== undefined && now >= this.nextWriteMs)
      this.writePaced(now);
  }

  /** One chunk on every paced stream, then the next tick. */
  private writePaced(now: number): void {
    const pace = this.options.send.pace!;
    for (const streamId of this.out.keys()) this.writeMore(now, streamId, pace.chunkBytes);
    this.nextWriteMs = this.allWritten ? undefined : now + pace.intervalMs;
  }

  /** Writes up to `budget` more bytes of a stream, ending it when all is written. */
  private writeMore(now: number, streamId: number, budget: number): void {
    const o = this.out.get(streamId);
    if (!o) return;
    const size = this.options.send.sizes[o.index]!;
    writeContent(
      this.endpoint,
      now,
      this.session!,
      streamId,
      o,
      contentIndex(this.side, o.index),
      size,
      budget,
    );
  }

  private acceptStream(now: number, streamId: number): void {
    const opener: Side = streamId % 4 === 0 ? 'a' : 'b';
    if (opener === this.side) return; // our own stream, opened by us
    const i = Math.floor(streamId / 4);
    const size = this.options.peerSizes[i];
    if (this.incoming.has(streamId) || size === undefined)
      throw new SafetyViolation(`${this.side}: unexpected stream ${streamId}`);
    this.incoming.set(streamId, { index: i, size, read: 0, done: false, hash: new Fnv1a32() });
    // Nothing goes back on the peer's streams: our half ends at once.
    this.endpoint.streamEnd(now, this.session!, streamId);
  }

  private readAll(now: number, streamId: number): void {
    const inc = this.incoming.get(streamId);
    const expect = inc && { content: contentIndex(this.peer, inc.index), size: inc.size };
    readCheckedStream(
      this.endpoint,
      now,
      this.session!,
      streamId,
      this.side,
      inc,
      expect,
      (data, fin) => {
        inc!.hash.update(data);
        this.bytesIn += data.length;
        if (data.length > 0 && this.deliveries.length < DELIVERIES_MAX)
          this.deliveries.push({ atMs: now, bytes: data.length });
        if (!fin) return;
        this.hashIn[inc!.index] = inc!.hash.hex;
        this.streamsDone++;
        if (this.done) this.finishedAtMs = now;
      },
    );
  }

  private get peer(): Side {
    return this.side === 'a' ? 'b' : 'a';
  }
}
