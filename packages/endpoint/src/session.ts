/**
 * `BraidSession` on the embedded endpoint: one protocol session, its streams with their
 * service headers (docs/protocol.md §15), datagrams, paths, pings and events.
 */
import { TypedEmitter } from './typed-emitter.js';
import {
  BackpressureError,
  closeCodeName,
  CloseCode,
  SessionClosedError,
  type Endpoint,
  type EndpointEvent,
  type PathStats,
  type ReadResult,
  type SessionStats,
  type StreamPolicy,
} from '@braid/protocol';
import type { Logger } from 'pino';
import type {
  Abortable,
  BraidSession,
  BraidStream,
  OpenStreamOptions,
  PingResult,
  SessionEvents,
} from './api.js';
import { abortable, throwIfAborted } from './abort.js';
import { claimStream, holdUntilClaimed } from './claim.js';
import { ServiceRefusedError, ServiceUnknownError, StreamResetError } from './errors.js';
import {
  checkServiceName,
  encodeServiceAccept,
  encodeServiceRequest,
  parseServiceAccept,
  parseServiceRequest,
  SERVICE_REQUEST_BYTES_MAX,
  StreamCode,
} from './service-header.js';
import type { EmbeddedServiceListener } from './service-listener.js';
import { EmbeddedStream, type StreamHost } from './stream.js';

/** `openStream` calls waiting for the peer's stream limit to rise, per session. */
export const STREAM_OPEN_WAITERS_MAX = 1024;
/** `ping` calls waiting at once, per session. */
export const PING_WAITERS_MAX = 64;
/** Default `ping` timeout. */
export const PING_TIMEOUT_MS_DEFAULT = 2000;

/** What a session needs from the endpoint that owns it. */
export interface SessionRuntime {
  readonly core: Endpoint;
  readonly logger: Logger;
  readonly streamHighWaterMarkBytes: number;
  readonly closeTimeoutMs: number;
  /** The monotonic clock (ms). */
  now(): number;
  /** Something changed: drain the protocol's outputs soon (this event-loop turn). */
  kick(): void;
  listener(service: string): EmbeddedServiceListener | undefined;
  /** The session is closed: the endpoint forgets it. */
  forget(session: EmbeddedSession): void;
}

type Slot =
  /** A stream the peer opened, its service header not yet complete. */
  | { kind: 'header'; bytes: Uint8Array; fin: boolean }
  /** A stream we opened, waiting for the peer's accept. */
  | {
      kind: 'opening';
      service: string;
      bytes: Uint8Array;
      fin: boolean;
      resolve: (stream: BraidStream) => void;
      reject: (error: Error) => void;
    }
  | { kind: 'open'; stream: EmbeddedStream };

interface PingWaiter {
  pending: Set<number>;
  rtts: Map<number, number>;
  done: () => void;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export class EmbeddedSession extends TypedEmitter<SessionEvents> implements BraidSession {
  private readonly slots = new Map<number, Slot>();
  private readonly openWaiters: (() => void)[] = [];
  private readonly pingWaiters = new Set<PingWaiter>();
  private closedWith: { code: number; reason: string; byPeer: boolean } | undefined;
  /** `close()` was called: streams are being ended, no new ones. */
  private closing = false;
  private readonly closeWaiters: (() => void)[] = [];
  private readonly streamHost: StreamHost;
  readonly logger: Logger;

  constructor(
    private readonly runtime: SessionRuntime,
    /** The protocol's session handle. */
    readonly handle: number,
    readonly id: string,
    readonly peer: string,
    readonly role: 'initiator' | 'responder',
  ) {
    super();
    this.logger = runtime.logger.child({ session: id });
    this.streamHost = {
      write: (streamId, data) =>
        this.command((now) => this.core.streamWrite(now, handle, streamId, data)),
      end: (streamId) => this.command((now) => this.core.streamEnd(now, handle, streamId)),
      // Reads go on while a closed session drains: the peer's last bytes and FIN are there.
      read: (streamId, max) => {
        const r = this.core.streamRead(this.runtime.now(), handle, streamId, max);
        this.runtime.kick();
        return r;
      },
      abort: (streamId, code, send, receive) => this.abortStream(streamId, code, send, receive),
      release: (streamId) => {
        if (this.slots.get(streamId)?.kind === 'open') this.slots.delete(streamId);
      },
    };
  }

  private get core(): Endpoint {
    return this.runtime.core;
  }

  /** Established and not closing: new streams may be opened. */
  get usable(): boolean {
    return this.closedWith === undefined && !this.closing;
  }

  get closeInfo(): { code: number; reason: string; byPeer: boolean } | undefined {
    return this.closedWith;
  }

  /** Runs a protocol command now and drains its outputs this turn. */
  private command<T>(fn: (now: number) => T): T {
    if (this.closedWith) throw this.closedError();
    const result = fn(this.runtime.now());
    this.runtime.kick();
    return result;
  }

  private closedError(): SessionClosedError {
    const c = this.closedWith;
    return c
      ? SessionClosedError.ended(this.id, c)
      : new SessionClosedError(`session ${this.id} is closed`);
  }

  // ---- BraidSession -------------------------------------------------------------------

  async openStream(service: string, options: OpenStreamOptions = {}): Promise<BraidStream> {
    checkServiceName(service);
    throwIfAborted(options.signal);
    if (this.closing && !this.closedWith)
      throw new SessionClosedError(`session ${this.id} is closing`);
    const policy: StreamPolicy | undefined = options.policy
      ? { mode: options.policy.mode ?? 'bulk', fec: options.policy.fec ?? 'off' }
      : undefined;
    let streamId: number | undefined;
    while (streamId === undefined) {
      try {
        streamId = this.command((now) => this.core.openStream(now, this.handle, policy));
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_BRAID_STREAM_LIMIT') throw err;
        // Wait for `streams_available`, then try again.
        if (this.openWaiters.length >= STREAM_OPEN_WAITERS_MAX)
          throw new BackpressureError(
            `${STREAM_OPEN_WAITERS_MAX} openStream calls already wait for the peer's stream limit`,
          );
        await abortable(
          new Promise<void>((resolve) => this.openWaiters.push(resolve)),
          options.signal,
        );
        if (this.closedWith) throw this.closedError();
      }
    }
    const id = streamId;
    const opened = new Promise<BraidStream>((resolve, reject) => {
      this.slots.set(id, {
        kind: 'opening',
        service,
        bytes: new Uint8Array(0),
        fin: false,
        resolve,
        reject,
      });
    });
    // A fresh stream's send buffer (≥ 64 KiB) always takes the 66-byte header whole.
    this.command((now) =>
      this.core.streamWrite(now, this.handle, id, encodeServiceRequest(service)),
    );
    let stream: BraidStream;
    try {
      stream = await abortable(opened, options.signal);
    } catch (err) {
      const slot = this.slots.get(id);
      if (slot?.kind === 'opening') {
        // Aborted while waiting: the peer sees the stream reset.
        this.slots.delete(id);
        this.abortStream(id, StreamCode.SERVICE_ABANDONED, 'reset', true);
      } else if (slot?.kind === 'open' && (err as { code?: string }).code === 'ERR_BRAID_ABORTED') {
        // Accepted in the same turn as the abort: nobody will use it.
        slot.stream.destroy();
      }
      throw err;
    }
    // Reset by the peer before this line ran (the accept and the reset handled in one turn):
    // the reset is the answer. The endpoint hands out events in turns of their own today, so
    // this guards against a batched receive path as much as against what happens now.
    if (!claimStream(stream)) throw stream.errored ?? this.closedError();
    return stream;
  }

  sendDatagram(data: Uint8Array): void {
    this.command((now) => this.core.sendDatagram(now, this.handle, data));
  }

  async stats(options: Abortable = {}): Promise<SessionStats> {
    throwIfAborted(options.signal);
    if (this.closedWith) throw this.closedError();
    return this.core.sessionInfo(this.handle).stats;
  }

  async paths(options: Abortable = {}): Promise<PathStats[]> {
    throwIfAborted(options.signal);
    if (this.closedWith) throw this.closedError();
    return this.core.paths(this.handle);
  }

  async setPathDown(pathId: number, down: boolean, options: Abortable = {}): Promise<void> {
    throwIfAborted(options.signal);
    this.command((now) => this.core.setPathDown(now, this.handle, pathId, down));
  }

  async ping(options: Abortable & { timeoutMs?: number } = {}): Promise<PingResult[]> {
    throwIfAborted(options.signal);
    const timeoutMs = options.timeoutMs ?? PING_TIMEOUT_MS_DEFAULT;
    if (this.pingWaiters.size >= PING_WAITERS_MAX)
      throw new BackpressureError(`${PING_WAITERS_MAX} pings already wait on session ${this.id}`);
    const asked = this.command((now) => this.core.pingPaths(now, this.handle));
    const paths = new Map(this.core.paths(this.handle).map((p) => [p.id, p]));
    const waiter: PingWaiter = { pending: new Set(asked), rtts: new Map(), done: () => {} };
    const answered = new Promise<void>((resolve) => {
      waiter.done = resolve;
      if (asked.length === 0) resolve();
    });
    this.pingWaiters.add(waiter);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    try {
      await abortable(Promise.race([answered, timedOut]), options.signal);
    } finally {
      clearTimeout(timer);
      this.pingWaiters.delete(waiter);
    }
    return asked.map((pathId) => ({
      pathId,
      local: paths.get(pathId)?.local ?? '',
      remote: paths.get(pathId)?.remote ?? '',
      rttMs: waiter.rtts.get(pathId),
    }));
  }

  /**
   * Closes gracefully: every open stream is ended (what it buffered goes out first, then its
   * FIN), then the protocol closes once all of it is acknowledged; at most `closeTimeoutMs` in
   * all, after which the session closes at once. The peer's readers see their streams end.
   */
  async close(reason = ''): Promise<void> {
    if (this.closedWith) return;
    const closed = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    if (!this.closing) {
      this.closing = true;
      const deadline = this.runtime.now() + this.runtime.closeTimeoutMs;
      await this.endStreams(this.runtime.closeTimeoutMs);
      if (!this.closedWith) {
        const leftMs = Math.max(1, deadline - this.runtime.now());
        this.command((now) => this.core.closeGracefully(now, this.handle, reason, leftMs));
      }
    }
    await closed;
  }

  /** Ends every open stream's writing half and waits (at most `timeoutMs`) until each finished. */
  private async endStreams(timeoutMs: number): Promise<void> {
    const finishing: Promise<void>[] = [];
    for (const slot of this.slots.values()) {
      if (slot.kind !== 'open') continue;
      const stream = slot.stream;
      if (stream.writableFinished || stream.destroyed) continue;
      finishing.push(
        new Promise<void>((resolve) => {
          stream.once('finish', resolve);
          stream.once('close', resolve);
        }),
      );
      if (!stream.writableEnded) stream.end();
    }
    if (finishing.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(finishing),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Closes at once (no draining); the endpoint's last resort. */
  closeNow(reason: string): void {
    if (this.closedWith) return;
    try {
      this.core.close(this.runtime.now(), this.handle, reason, CloseCode.NO_ERROR);
    } catch {
      // Already gone in the protocol: the `closed` event has been queued.
    }
    this.runtime.kick();
  }

  // ---- protocol events (from the endpoint) --------------------------------------------

  onEvent(e: EndpointEvent): void {
    switch (e.type) {
      case 'stream_opened':
        this.slots.set(e.streamId, { kind: 'header', bytes: new Uint8Array(0), fin: false });
        return;
      case 'stream_readable':
        this.onReadable(e.streamId);
        return;
      case 'stream_writable': {
        const slot = this.slots.get(e.streamId);
        if (slot?.kind === 'open') slot.stream.onWritable();
        return;
      }
      case 'stream_reset':
      case 'stream_stopped':
        this.onStreamAbort(e.streamId, e.code, e.type === 'stream_reset');
        return;
      case 'stream_closed': {
        const slot = this.slots.get(e.streamId);
        // A header or opening slot whose stream ended before it was settled.
        if (slot && slot.kind !== 'open')
          this.onStreamAbort(e.streamId, StreamCode.CANCELLED, true);
        return;
      }
      case 'streams_available':
        for (const wake of this.openWaiters.splice(0)) wake();
        return;
      case 'datagram':
        this.emit('datagram', e.data);
        return;
      case 'path':
        this.logger.info(
          { path: e.pathId, change: e.change, local: e.local, remote: e.remote, reason: e.reason },
          'path',
        );
        this.emit('path', {
          pathId: e.pathId,
          change: e.change,
          local: e.local,
          remote: e.remote,
          reason: e.reason,
        });
        return;
      case 'failover':
        this.logger.info(
          { from: e.from, to: e.to, reason: e.reason, detectMs: e.detectMs },
          'failover',
        );
        this.emit('failover', { from: e.from, to: e.to, reason: e.reason, detectMs: e.detectMs });
        return;
      case 'suspended':
        this.logger.warn('suspended: every path is down');
        this.emit('suspended');
        return;
      case 'resumed':
        this.logger.info({ suspendedMs: e.suspendedMs }, 'resumed');
        this.emit('resumed');
        return;
      case 'ping':
        for (const w of this.pingWaiters) {
          if (!w.pending.delete(e.pathId)) continue;
          w.rtts.set(e.pathId, e.rttMs);
          if (w.pending.size === 0) w.done();
        }
        return;
      case 'closed':
        this.onClosed(e.code, e.reason, e.byPeer);
        return;
      case 'established':
        return;
    }
  }

  private onClosed(code: number, reason: string, byPeer: boolean): void {
    if (this.closedWith) return;
    this.closedWith = { code, reason, byPeer };
    this.logger.info({ code: closeCodeName(code), reason, byPeer }, 'closed');
    const error = this.closedError();
    // Closed here on purpose: streams just close; by the peer or on an error: they fail.
    const streamError = !byPeer && code === CloseCode.NO_ERROR ? undefined : error;
    for (const [, slot] of this.slots) {
      if (slot.kind === 'open') slot.stream.onSessionClosed(streamError);
      else if (slot.kind === 'opening') slot.reject(error);
    }
    this.slots.clear();
    for (const wake of this.openWaiters.splice(0)) wake();
    for (const w of this.pingWaiters) w.done();
    this.runtime.forget(this);
    this.emit('closed', { code, reason, byPeer });
    for (const done of this.closeWaiters.splice(0)) done();
  }

  private onReadable(streamId: number): void {
    const slot = this.slots.get(streamId);
    if (!slot) return;
    if (slot.kind === 'open') slot.stream.onReadable();
    else if (slot.kind === 'header') this.readRequest(streamId, slot);
    else this.readAccept(streamId, slot);
  }

  /** Reads exactly the header's bytes (never stream data behind it), in as many turns as needed. */
  private readHeaderBytes(
    streamId: number,
    have: Uint8Array,
    need: number,
  ): { bytes: Uint8Array; fin: boolean } | undefined {
    let r: ReadResult | undefined;
    try {
      r = this.core.streamRead(this.runtime.now(), this.handle, streamId, need);
    } catch {
      return undefined;
    }
    this.runtime.kick();
    if (!r) return { bytes: have, fin: false };
    return { bytes: concat(have, r.data), fin: r.fin };
  }

  private readRequest(streamId: number, slot: Slot & { kind: 'header' }): void {
    // Each turn reads at least one byte of at most SERVICE_REQUEST_BYTES_MAX.
    for (let turn = 0; turn <= SERVICE_REQUEST_BYTES_MAX; turn++) {
      const progress = parseServiceRequest(slot.bytes);
      if (progress.state === 'invalid') {
        this.logger.warn({ stream: streamId, reason: progress.reason }, 'bad service header');
        this.refuse(streamId, StreamCode.SERVICE_HEADER_INVALID);
        return;
      }
      if (progress.state === 'done') {
        this.route(streamId, progress.service, slot.fin);
        return;
      }
      const read = this.readHeaderBytes(streamId, slot.bytes, progress.need);
      if (!read) return;
      const grew = read.bytes.length > slot.bytes.length;
      slot.bytes = read.bytes;
      slot.fin = read.fin;
      if (read.fin && parseServiceRequest(slot.bytes).state === 'partial') {
        this.refuse(streamId, StreamCode.SERVICE_HEADER_INVALID);
        return;
      }
      if (!grew) return;
    }
  }

  /** `finRead`: the peer's end came with the header (the stream's reader sees it at once). */
  private route(streamId: number, service: string, finRead: boolean): void {
    const listener = this.runtime.listener(service);
    if (!listener) {
      this.logger.info({ stream: streamId, service }, 'stream refused: unknown service');
      this.refuse(streamId, StreamCode.SERVICE_UNKNOWN);
      return;
    }
    if (!listener.hasRoom) {
      this.logger.warn({ stream: streamId, service }, 'stream refused: backlog full or closing');
      this.refuse(streamId, StreamCode.SERVICE_REFUSED);
      return;
    }
    try {
      this.command((now) =>
        this.core.streamWrite(now, this.handle, streamId, encodeServiceAccept()),
      );
    } catch {
      this.slots.delete(streamId);
      return;
    }
    const stream = this.newStream(streamId, service, finRead);
    listener.deliver(stream);
    // Data that came behind the header is read when the application first reads.
  }

  private readAccept(streamId: number, slot: Slot & { kind: 'opening' }): void {
    for (let turn = 0; turn <= 2; turn++) {
      const progress = parseServiceAccept(slot.bytes);
      if (progress.state === 'invalid') {
        this.slots.delete(streamId);
        this.abortStream(streamId, StreamCode.SERVICE_HEADER_INVALID, 'reset', true);
        slot.reject(new StreamResetError(StreamCode.SERVICE_HEADER_INVALID, progress.reason));
        return;
      }
      if (progress.state === 'done') {
        const stream = this.newStream(streamId, slot.service, slot.fin);
        holdUntilClaimed(stream);
        slot.resolve(stream);
        return;
      }
      const read = this.readHeaderBytes(streamId, slot.bytes, progress.need);
      if (!read) return;
      const grew = read.bytes.length > slot.bytes.length;
      slot.bytes = read.bytes;
      slot.fin = read.fin;
      if (read.fin && parseServiceAccept(slot.bytes).state === 'partial') {
        this.slots.delete(streamId);
        this.abortStream(streamId, StreamCode.SERVICE_HEADER_INVALID, 'reset', true);
        slot.reject(
          new StreamResetError(
            StreamCode.SERVICE_HEADER_INVALID,
            'the peer ended the stream before accepting it',
          ),
        );
        return;
      }
      if (!grew) return;
    }
  }

  private newStream(streamId: number, service: string, finRead: boolean): EmbeddedStream {
    const stream = new EmbeddedStream(
      this.streamHost,
      this,
      streamId,
      service,
      this.runtime.streamHighWaterMarkBytes,
    );
    this.slots.set(streamId, { kind: 'open', stream });
    if (finRead) stream.onEndRead();
    return stream;
  }

  /** A peer's reset or STOP_SENDING on a stream in any state. */
  private onStreamAbort(streamId: number, code: number, wasReset: boolean): void {
    const slot = this.slots.get(streamId);
    this.logger.debug(
      { stream: streamId, code, state: slot?.kind ?? 'gone' },
      wasReset ? 'stream reset by the peer' : 'stream stopped by the peer',
    );
    if (!slot) return;
    if (slot.kind === 'open') {
      if (wasReset) slot.stream.onReset(code);
      else slot.stream.onStopped(code);
      return;
    }
    this.slots.delete(streamId);
    // Free whatever half is left so the stream does not linger in the protocol.
    this.abortStream(streamId, code, 'reset', true);
    if (slot.kind === 'opening') {
      const message = `stream to service "${slot.service}" was refused by the peer`;
      slot.reject(
        code === StreamCode.SERVICE_UNKNOWN
          ? new ServiceUnknownError(`${message}: no listener for "${slot.service}"`)
          : code === StreamCode.SERVICE_REFUSED
            ? new ServiceRefusedError(`${message}: its listener is full or closing`)
            : new StreamResetError(code, `${message} (code ${code})`),
      );
    }
  }

  /** Refuses a stream the peer opened: both halves reset with `code`. */
  private refuse(streamId: number, code: number): void {
    this.slots.delete(streamId);
    this.abortStream(streamId, code, 'reset', true);
  }

  private abortStream(
    streamId: number,
    code: number,
    send: 'end' | 'reset' | 'none',
    receive: boolean,
  ): void {
    if (this.closedWith) return;
    this.logger.debug({ stream: streamId, code, send, stop: receive }, 'stream abandoned');
    const now = this.runtime.now();
    // Either half may be finished (and the stream freed) already: that is not an error here.
    if (send !== 'none')
      try {
        if (send === 'end') this.core.streamEnd(now, this.handle, streamId);
        else this.core.streamReset(now, this.handle, streamId, code);
      } catch {
        /* finished */
      }
    if (receive)
      try {
        this.core.streamStopSending(now, this.handle, streamId, code);
      } catch {
        /* finished */
      }
    this.runtime.kick();
  }
}
