/**
 * The daemon client: the application API (`BraidClient` of `@braid/endpoint`'s `api.ts`) carried
 * over braidd's control socket. Sessions, streams and listeners here are proxies of the daemon's;
 * streams are `Duplex`es whose backpressure is the IPC credit window, so a slow reader slows the
 * daemon, which slows the peer (protocol flow control), with bounded buffers at every hop.
 */
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import {
  QueuedServiceListener,
  SERVICE_NAME_PATTERN,
  claimStream,
  holdUntilClaimed,
  ServiceNameError,
  TypedEmitter,
  type Abortable,
  type BraidClient,
  type BraidSession,
  type BraidStream,
  type ClientEvents,
  type NodeStatus,
  type OpenSessionOptions,
  type OpenStreamOptions,
  type PeerEntry,
  type PingResult,
  type ServiceListener,
  type SessionEvents,
  type SessionSummary,
} from '@braid/endpoint';
import {
  IpcConnection,
  controlProtocol,
  type ControlEvent,
  type ControlProtocol,
  type ErrorBody,
  type EventName,
  type IpcStream,
} from '@braid/ipc';
import { SessionClosedError, type PathStats, type SessionStats } from '@braid/protocol';
import { DaemonConnectionLostError, ForwardedError } from './errors.js';

export const SDK_VERSION = (
  createRequire(import.meta.url)('../package.json') as { version: string }
).version;
/** Incoming streams queued per listener for its iterator, beyond which they are reset. */
export const LISTEN_BACKLOG = 128;
/** Sessions the client keeps proxies for (closed ones are dropped first). */
export const SESSIONS_MAX = 4096;

type EventData<E extends EventName<ControlProtocol>> = ControlEvent<E>;

/** The same check, and error, as the embedded endpoint's. */
function checkService(service: string): void {
  if (typeof service !== 'string' || !SERVICE_NAME_PATTERN.test(service))
    throw new ServiceNameError(
      `service name ${JSON.stringify(service)} is not 1–64 of A-Z a-z 0-9 . _ -`,
    );
}

/** A stream over the control socket: the IPC stream, with the BraidStream fields. */
function asBraidStream(
  stream: IpcStream,
  streamId: number,
  service: string,
  session: BraidSession,
): BraidStream {
  Object.defineProperties(stream, {
    streamId: { value: streamId, enumerable: true },
    service: { value: service, enumerable: true },
    session: { value: session, enumerable: false },
  });
  return stream as unknown as BraidStream;
}

/** `status()` of a daemon: the node's status and where the daemon serves. */
export interface DaemonStatus extends NodeStatus {
  /** The daemon's process id. */
  pid: number;
  socketPath: string;
  /** Where the daemon serves Prometheus metrics, when enabled. */
  metricsUrl?: string;
}

export class DaemonSession extends TypedEmitter<SessionEvents> implements BraidSession {
  private closedWith: { code: number; reason: string; byPeer: boolean } | undefined;

  constructor(
    private readonly client: DaemonClient,
    readonly id: string,
    readonly peer: string,
    readonly role: 'initiator' | 'responder',
  ) {
    super();
  }

  /** Whether the session is open (not closed, and the daemon connection is up). */
  get usable(): boolean {
    return this.closedWith === undefined;
  }

  private check(): void {
    if (this.closedWith) throw SessionClosedError.ended(this.id, this.closedWith);
  }

  async openStream(service: string, options: OpenStreamOptions = {}): Promise<BraidStream> {
    checkService(service);
    this.check();
    const { result, stream } = await this.client.connection.requestWithStream(
      'openStream',
      {
        session: this.id,
        service,
        ...(options.policy && {
          policy: {
            ...(options.policy.mode !== undefined && { mode: options.policy.mode }),
            ...(options.policy.fec !== undefined && { fec: options.policy.fec }),
          },
        }),
      },
      { signal: options.signal },
    );
    if (!stream) throw new DaemonConnectionLostError('braidd answered openStream without a stream');
    // Reset right behind braidd's answer (the peer refused it at once): the reset is the answer.
    if (!claimStream(stream))
      throw stream.errored ?? new DaemonConnectionLostError('the connection to braidd closed');
    return asBraidStream(stream, result.streamId, result.service, this);
  }

  sendDatagram(data: Uint8Array): void {
    this.check();
    this.client.connection
      .request('sendDatagram', { session: this.id, data })
      .catch((err: Error) => this.client.reportError(err));
  }

  async stats(options: Abortable = {}): Promise<SessionStats> {
    this.check();
    const r = await this.client.connection.request('sessionStats', { session: this.id }, options);
    return r as unknown as SessionStats;
  }

  async paths(options: Abortable = {}): Promise<PathStats[]> {
    this.check();
    const r = await this.client.connection.request('sessionPaths', { session: this.id }, options);
    return r as unknown as PathStats[];
  }

  async setPathDown(pathId: number, down: boolean, options: Abortable = {}): Promise<void> {
    this.check();
    await this.client.connection.request(
      'setPathDown',
      { session: this.id, pathId, down },
      options,
    );
  }

  async ping(options: Abortable & { timeoutMs?: number } = {}): Promise<PingResult[]> {
    this.check();
    const r = await this.client.connection.request(
      'ping',
      {
        session: this.id,
        ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      },
      { signal: options.signal },
    );
    return r.map((p) => ({ ...p, rttMs: p.rttMs }));
  }

  async close(reason?: string): Promise<void> {
    if (this.closedWith) return;
    await this.client.connection.request('closeSession', {
      session: this.id,
      ...(reason !== undefined && { reason }),
    });
  }

  /** @internal */
  onClosed(info: { code: number; reason: string; byPeer: boolean }): void {
    if (this.closedWith) return;
    this.closedWith = info;
    this.emit('closed', info);
  }
}

export class DaemonServiceListener extends QueuedServiceListener {
  constructor(
    private readonly client: DaemonClient,
    service: string,
  ) {
    super(service, LISTEN_BACKLOG);
  }

  /** @internal A stream the daemon handed over; with no room the opener sees it reset. */
  deliver(stream: BraidStream): void {
    if (!this.offer(stream)) stream.destroy();
  }

  /** @internal The registration ended without `close()` (the daemon dropped it, or the connection). */
  ended(error: Error | undefined): void {
    if (this.closed) return;
    this.end();
    if (error && this.listenerCount('error') > 0) this.emit('error', error);
    this.emit('close');
  }

  private end(): void {
    this.finish();
    this.client.forgetListener(this);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.end();
    if (this.client.connection.isOpen)
      await this.client.connection.request('unlisten', { service: this.service }).catch(() => {
        // Already gone on the daemon's side.
      });
    this.emit('close');
  }
}

/** The stream errors of the daemon keep their codes (`ERR_BRAID_STREAM_RESET`…) in the app. */
export function forwardedResetError(e: ErrorBody): Error {
  return e.code.startsWith('ERR_BRAID_') && !e.code.startsWith('ERR_BRAID_IPC_')
    ? new ForwardedError(e.code, e.message)
    : new ForwardedError('ERR_BRAID_STREAM_RESET', `stream reset by braidd: ${e.message}`);
}

export class DaemonClient extends TypedEmitter<ClientEvents> implements BraidClient {
  readonly mode = 'daemon' as const;
  eid = '';
  /** Errors with no caller to reject (a refused datagram, an invalid event): also on `error`. */
  asyncErrors = 0;
  private readonly sessionsById = new Map<string, DaemonSession>();
  private readonly serviceListeners = new Map<string, DaemonServiceListener>();
  private closing = false;
  /** @internal */
  readonly connection: IpcConnection<ControlProtocol>;

  /** Use {@link connect}. */
  constructor(
    private readonly socket: Socket,
    readonly socketPath: string,
  ) {
    super();
    this.connection = new IpcConnection<ControlProtocol>(socket, {
      role: 'client',
      spec: controlProtocol,
      software: `braid-sdk ${SDK_VERSION}`,
      onEvent: (name, data, stream) => this.onEvent(name, data, stream),
      resetError: forwardedResetError,
      onStreamAccepted: holdUntilClaimed,
    });
    this.connection.on('close', (err) => this.onConnectionClosed(err));
    this.connection.on('warning', (err) => this.reportError(err));
  }

  /** The connection to braidd stops holding the process (see `BraidClient.unref`). */
  unref(): this {
    this.socket.unref();
    return this;
  }

  ref(): this {
    this.socket.ref();
    return this;
  }

  /** @internal */
  reportError(err: Error): void {
    this.asyncErrors++;
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** @internal */
  forgetListener(l: DaemonServiceListener): void {
    if (this.serviceListeners.get(l.service) === l) this.serviceListeners.delete(l.service);
  }

  /** @internal Learns the daemon's EID and its sessions. */
  async init(signal?: AbortSignal): Promise<void> {
    await this.connection.ready;
    const status = await this.connection.request('status', {}, { signal });
    this.eid = status.eid;
    for (const s of await this.connection.request('sessions', {}, { signal }))
      this.adopt(s.id, s.peer, s.role, false);
  }

  private adopt(
    id: string,
    peer: string,
    role: 'initiator' | 'responder',
    announce: boolean,
  ): DaemonSession {
    let s = this.sessionsById.get(id);
    if (s) return s;
    if (this.sessionsById.size >= SESSIONS_MAX) {
      for (const [k, v] of this.sessionsById) if (!v.usable) this.sessionsById.delete(k);
    }
    s = new DaemonSession(this, id, peer, role);
    if (this.sessionsById.size < SESSIONS_MAX) this.sessionsById.set(id, s);
    if (announce && this.listenerCount('session') > 0) this.emit('session', s);
    return s;
  }

  private onEvent(name: EventName<ControlProtocol>, data: unknown, stream: IpcStream | undefined) {
    switch (name) {
      case 'session': {
        const d = data as EventData<'session'>;
        if (!this.sessionsById.has(d.id)) this.adopt(d.id, d.peer, d.role, true);
        return;
      }
      case 'stream': {
        const d = data as EventData<'stream'>;
        const session =
          this.sessionsById.get(d.session) ?? this.adopt(d.session, '', 'responder', false);
        const listener = this.serviceListeners.get(d.service);
        if (!stream) return;
        const braidStream = asBraidStream(stream, d.streamId, d.service, session);
        if (!listener) braidStream.destroy();
        else listener.deliver(braidStream);
        return;
      }
      case 'serviceClosed': {
        const d = data as EventData<'serviceClosed'>;
        this.serviceListeners.get(d.service)?.ended(new ForwardedError(d.code, d.message));
        return;
      }
      case 'path': {
        const d = data as EventData<'path'>;
        this.sessionsById.get(d.session)?.emit('path', {
          pathId: d.pathId,
          change: d.change,
          local: d.local,
          remote: d.remote,
          reason: d.reason,
        });
        return;
      }
      case 'failover': {
        const d = data as EventData<'failover'>;
        this.sessionsById
          .get(d.session)
          ?.emit('failover', { from: d.from, to: d.to, reason: d.reason, detectMs: d.detectMs });
        return;
      }
      case 'suspended':
        this.sessionsById.get((data as EventData<'suspended'>).session)?.emit('suspended');
        return;
      case 'resumed':
        this.sessionsById.get((data as EventData<'resumed'>).session)?.emit('resumed');
        return;
      case 'datagram': {
        const d = data as EventData<'datagram'>;
        this.sessionsById.get(d.session)?.emit('datagram', d.data);
        return;
      }
      case 'closed': {
        const d = data as EventData<'closed'>;
        const s = this.sessionsById.get(d.session);
        if (!s) return;
        this.sessionsById.delete(d.session);
        s.onClosed({ code: d.code, reason: d.reason, byPeer: d.byPeer });
        return;
      }
    }
  }

  private onConnectionClosed(err: Error | undefined): void {
    const lost = new DaemonConnectionLostError(
      this.closing
        ? 'the daemon client was closed'
        : `lost the connection to braidd at ${this.socketPath}${err ? `: ${err.message}` : ''}`,
      { cause: err },
    );
    for (const l of [...this.serviceListeners.values()]) l.ended(this.closing ? undefined : lost);
    this.serviceListeners.clear();
    for (const s of this.sessionsById.values())
      s.onClosed({ code: 0, reason: lost.message, byPeer: false });
    this.sessionsById.clear();
    if (!this.closing && this.listenerCount('error') > 0) this.emit('error', lost);
  }

  async openSession(peer: string, options: OpenSessionOptions = {}): Promise<BraidSession> {
    const r = await this.connection.request(
      'openSession',
      { peer, ...(options.locators && { locators: options.locators }) },
      { signal: options.signal },
    );
    return this.adopt(r.id, r.peer, r.role, true);
  }

  async listen(service: string, options: Abortable = {}): Promise<ServiceListener> {
    checkService(service);
    const listener = new DaemonServiceListener(this, service);
    // Registered before the request, so a stream arriving right after the answer finds it.
    const previous = this.serviceListeners.get(service);
    if (!previous) this.serviceListeners.set(service, listener);
    try {
      await this.connection.request('listen', { service }, options);
    } catch (err) {
      if (!previous) this.serviceListeners.delete(service);
      throw err;
    }
    this.serviceListeners.set(service, listener);
    return listener;
  }

  async sessions(options: Abortable = {}): Promise<SessionSummary[]> {
    const list = await this.connection.request('sessions', {}, options);
    return list.map((s) => ({ ...s, stats: s.stats as unknown as SessionStats }));
  }

  session(id: string): BraidSession | undefined {
    return this.sessionsById.get(id);
  }

  async status(options: Abortable = {}): Promise<DaemonStatus> {
    return (await this.connection.request('status', {}, options)) as DaemonStatus;
  }

  async peers(options: Abortable = {}): Promise<PeerEntry[]> {
    return this.connection.request('peers', {}, options);
  }

  async addPeer(eid: string, locators: string[], options: Abortable = {}): Promise<void> {
    await this.connection.request('addPeer', { eid, locators }, options);
  }

  /** Closes the connection to braidd (the daemon's sessions stay up). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.connection.close();
    await this.connection.closed;
  }
}
