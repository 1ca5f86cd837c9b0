/**
 * The control socket: each connected app or CLI is an IPC connection whose requests map onto
 * the endpoint (`BraidClient`), whose registered services receive incoming streams, and which
 * gets every session's events. Streams are bridged byte for byte between the IPC stream (credit
 * flow control toward the app) and the Braid stream (the protocol's flow control toward the
 * peer): `pipe` in both directions carries backpressure across.
 *
 * A client that misbehaves (garbage, old version, not reading) loses its own connection; its
 * services are unregistered; nothing else is affected.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  LimitError,
  StreamCode,
  type BraidSession,
  type BraidStream,
  type ServiceListener,
  type UdpEndpoint,
} from '@braid/endpoint';
import {
  IpcConnection,
  controlProtocol,
  type ControlProtocol,
  type EventName,
  type IpcStream,
  type RequestHandlers,
} from '@braid/ipc';
import { UnknownSessionError } from '@braid/protocol';
import type { Logger } from 'pino';
import { DaemonClosingError, ServiceNotRegisteredError } from './errors.js';
import type { DaemonMetrics } from './metrics.js';

/** Services one control client may register at most. */
export const SERVICES_PER_CLIENT_MAX = 64;
/** Longest reason or path text sent in an event (the schema's bound). */
const TEXT_MAX = 256;

function clip(text: string): string {
  return text.length > TEXT_MAX ? `${text.slice(0, TEXT_MAX - 1)}…` : text;
}

export interface ControlServerOptions {
  endpoint: UdpEndpoint;
  logger: Logger;
  metrics: DaemonMetrics | undefined;
  software: string;
  streamWindowBytes: number;
  /** Daemon facts added to `status`. */
  statusExtras(): { pid: number; socketPath: string; metricsUrl?: string };
  /** The config's entry for a peer, if configured (its name, and `source: config`). */
  configuredPeer(eid: string): { name?: string } | undefined;
  /** A peer was added through the API: the allowlist takes it in. */
  onPeerAdded(eid: string): void;
}

interface ControlClient {
  id: number;
  conn: IpcConnection<ControlProtocol>;
  services: Map<string, ServiceListener>;
  logger: Logger;
}

/**
 * Joins an IPC stream and a Braid stream: bytes both ways, ends and errors carried across.
 * With a `logger`, how it ended goes to the debug log once both sides have closed: each side's
 * ends and the first error of each, so an operator can tell a reset from a clean end.
 */
export function bridgeStreams(ipc: IpcStream, braid: Duplex, logger?: Logger): void {
  ipc.pipe(braid);
  braid.pipe(ipc);
  ipc.on('error', (err) => braid.destroy(err));
  braid.on('error', (err) => ipc.destroy(err));
  // Closed without an error before both directions finished (a destroy): abandon the other.
  const abandon = (from: Duplex, to: Duplex) => () => {
    if ((!from.readableEnded || !from.writableFinished) && !to.destroyed) to.destroy();
  };
  ipc.on('close', abandon(ipc, braid));
  braid.on('close', abandon(braid, ipc));
  if (logger?.isLevelEnabled('debug')) logBridge(ipc, braid, logger);
}

function logBridge(ipc: IpcStream, braid: Duplex, logger: Logger): void {
  const errors: { app?: string; peer?: string } = {};
  const codeOf = (err: Error) => (err as { code?: string }).code ?? err.message;
  ipc.once('error', (err) => (errors.app ??= codeOf(err)));
  braid.once('error', (err) => (errors.peer ??= codeOf(err)));
  const side = (s: Duplex) => ({ ended: s.readableEnded, finished: s.writableFinished });
  let open = 2;
  const closed = () => {
    if (--open > 0) return;
    logger.debug(
      {
        app: { ...side(ipc), bytesIn: ipc.bytesReceived, bytesOut: ipc.bytesSent },
        peer: side(braid),
        errors,
      },
      'stream closed',
    );
  };
  ipc.once('close', closed);
  braid.once('close', closed);
}

/**
 * Abandons a stream braidd cannot hand on: its peer sees it reset with `code`. A bare
 * `destroy()` would end it cleanly instead (FIN), an empty stream that looks served.
 */
function refuseStream(stream: Duplex, error: Error, code: number): void {
  stream.on('error', () => undefined);
  stream.destroy(Object.assign(error, { resetCode: code }));
}

export class ControlServer {
  private readonly clients = new Set<ControlClient>();
  private nextClientId = 1;
  private closing = false;
  private readonly sessionsWatched = new WeakSet<BraidSession>();

  constructor(private readonly options: ControlServerOptions) {
    options.endpoint.on('session', (s) => this.watchSession(s));
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Takes a new control connection. */
  accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const id = this.nextClientId++;
    const logger = this.options.logger.child({ client: id });
    // The handlers reach `client.conn` only when called, after it is set.
    const client = { id, services: new Map(), logger } as Omit<
      ControlClient,
      'conn'
    > as ControlClient;
    const conn = new IpcConnection<ControlProtocol>(socket, {
      role: 'server',
      spec: controlProtocol,
      software: this.options.software,
      streamWindowBytes: this.options.streamWindowBytes,
      handlers: this.handlers(client),
    });
    client.conn = conn;
    this.clients.add(client);
    this.options.metrics?.controlConnections.set(this.clients.size);
    conn.ready.then(
      (hello) => logger.debug({ software: hello.sw, pid: hello.pid }, 'control client connected'),
      () => undefined,
    );
    conn.on('close', (err) => {
      this.clients.delete(client);
      this.options.metrics?.controlConnections.set(this.clients.size);
      for (const listener of client.services.values()) void listener.close();
      client.services.clear();
      const code = (err as { code?: string } | undefined)?.code;
      if (err && code !== 'ERR_BRAID_IPC_CLOSED') {
        this.options.metrics?.controlErrors.inc({ code: code ?? 'unknown' });
        logger.warn({ code }, `control client dropped: ${err.message}`);
      } else logger.debug('control client disconnected');
    });
  }

  /** Sends an event to every client that finished its hello. */
  private broadcast<E extends EventName<ControlProtocol>>(
    name: E,
    data: Parameters<IpcConnection<ControlProtocol>['sendEvent']>[1] & object,
    droppable = false,
  ): void {
    for (const c of this.clients)
      if (c.conn.peer) c.conn.sendEvent(name, data as never, { droppable });
  }

  private watchSession(session: BraidSession): void {
    if (this.sessionsWatched.has(session)) return;
    this.sessionsWatched.add(session);
    const id = session.id;
    const role = (session as { role?: 'initiator' | 'responder' }).role ?? 'initiator';
    this.broadcast('session', { id, peer: session.peer, role });
    session.on('path', (p) =>
      this.broadcast('path', {
        session: id,
        pathId: p.pathId,
        change: clip(p.change),
        local: clip(p.local),
        remote: clip(p.remote),
        reason: clip(p.reason),
      }),
    );
    session.on('failover', (f) => {
      this.options.metrics?.failovers.inc();
      this.broadcast('failover', {
        session: id,
        from: f.from,
        to: f.to,
        reason: clip(f.reason),
        detectMs: f.detectMs,
      });
    });
    session.on('suspended', () => this.broadcast('suspended', { session: id }));
    session.on('resumed', () => this.broadcast('resumed', { session: id }));
    session.on('datagram', (data) =>
      this.broadcast('datagram', { session: id, data }, /* droppable */ true),
    );
    session.on('closed', (c) =>
      this.broadcast('closed', {
        session: id,
        code: c.code,
        reason: clip(c.reason),
        byPeer: c.byPeer,
      }),
    );
  }

  private session(id: string): BraidSession {
    const s = this.options.endpoint.session(id);
    if (!s)
      throw new UnknownSessionError(`no session ${id} on this daemon (see \`braid sessions\`)`);
    return s;
  }

  private handlers(client: ControlClient): RequestHandlers<ControlProtocol> {
    const endpoint = this.options.endpoint;
    const refuseIfClosing = () => {
      if (this.closing) throw new DaemonClosingError('braidd is shutting down');
    };
    return {
      status: async (_p, { signal }) => ({
        ...(await endpoint.status({ signal })),
        mode: 'daemon' as const,
        ...this.options.statusExtras(),
      }),
      peers: async (_p, { signal }) =>
        (await endpoint.peers({ signal })).map((p) => {
          // Peers added by a reload went in through the endpoint's addPeer: still config's.
          const configured = this.options.configuredPeer(p.eid);
          if (!configured) return p;
          return {
            ...p,
            source: 'config' as const,
            ...(configured.name !== undefined && { name: configured.name }),
          };
        }),
      addPeer: async ({ eid, locators }, { signal }) => {
        await endpoint.addPeer(eid, locators, { signal });
        this.options.onPeerAdded(eid);
        client.logger.info({ peer: eid, locators }, 'peer added through the control socket');
        return null;
      },
      sessions: async (_p, { signal }) =>
        (await endpoint.sessions({ signal })).map((s) => ({
          ...s,
          stats: s.stats as unknown as Record<string, number | string | boolean | null>,
        })),
      openSession: async ({ peer, locators }, { signal }) => {
        refuseIfClosing();
        const s = await endpoint.openSession(peer, { locators, signal });
        this.watchSession(s);
        return {
          id: s.id,
          peer: s.peer,
          role: (s as { role?: 'initiator' | 'responder' }).role ?? 'initiator',
        };
      },
      listen: async ({ service }, { signal }) => {
        refuseIfClosing();
        if (client.services.size >= SERVICES_PER_CLIENT_MAX)
          throw new LimitError(
            `a control client may register at most ${SERVICES_PER_CLIENT_MAX} services`,
          );
        const listener = await endpoint.listen(service, { signal });
        if (!client.conn.isOpen) {
          await listener.close();
          return null;
        }
        client.services.set(service, listener);
        listener.on('stream', (stream) => this.deliver(client, service, stream));
        listener.on('close', () => {
          if (client.services.get(service) !== listener) return;
          client.services.delete(service);
          client.conn.sendEvent('serviceClosed', {
            service,
            code: 'ERR_BRAID_SERVICE_CLOSED',
            message: `the daemon closed the listener of ${service}`,
          });
        });
        client.logger.info({ service }, 'service registered');
        return null;
      },
      unlisten: async ({ service }) => {
        const listener = client.services.get(service);
        if (!listener)
          throw new ServiceNotRegisteredError(
            `service "${service}" is not registered by this client`,
          );
        client.services.delete(service);
        await listener.close();
        client.logger.info({ service }, 'service unregistered');
        return null;
      },
      sessionStats: async ({ session }, { signal }) =>
        (await this.session(session).stats({ signal })) as unknown as Record<
          string,
          number | string | boolean | null
        >,
      sessionPaths: async ({ session }, { signal }) =>
        (await this.session(session).paths({ signal })).map((p) => ({ ...p })),
      setPathDown: async ({ session, pathId, down }, { signal }) => {
        await this.session(session).setPathDown(pathId, down, { signal });
        client.logger.info(
          { session, path: pathId, down },
          down ? 'path administratively down' : 'path administratively up',
        );
        return null;
      },
      ping: async ({ session, timeoutMs }, { signal }) =>
        (await this.session(session).ping({ signal, timeoutMs })).map((r) =>
          r.rttMs === undefined
            ? { pathId: r.pathId, local: r.local, remote: r.remote }
            : { pathId: r.pathId, local: r.local, remote: r.remote, rttMs: r.rttMs },
        ),
      closeSession: async ({ session, reason }) => {
        await this.session(session).close(reason ?? 'closed through the control socket');
        return null;
      },
      sendDatagram: ({ session, data }) => {
        this.session(session).sendDatagram(data);
        return null;
      },
      openStream: async ({ session, service, policy }, { signal, attachStream }) => {
        refuseIfClosing();
        const braid = await this.session(session).openStream(service, { policy, signal });
        let ipc: IpcStream;
        try {
          ipc = attachStream();
        } catch (err) {
          refuseStream(braid, err as Error, StreamCode.SERVICE_ABANDONED);
          throw err;
        }
        bridgeStreams(ipc, braid, client.logger.child({ stream: braid.streamId, service }));
        return { streamId: braid.streamId, service };
      },
    };
  }

  /** An incoming stream for a service `client` registered: hand it over the control socket. */
  private deliver(client: ControlClient, service: string, stream: BraidStream): void {
    let ipc: IpcStream | undefined;
    try {
      ipc = client.conn.sendEvent(
        'stream',
        { session: stream.session.id, service, streamId: stream.streamId },
        { stream: true },
      );
    } catch (err) {
      client.logger.warn(
        { service, session: stream.session.id, err: (err as Error).message },
        'incoming stream refused: the app has too many streams open',
      );
      refuseStream(stream, err as Error, StreamCode.SERVICE_REFUSED);
      return;
    }
    // The connection closed under us: nobody will serve the stream.
    if (!ipc) {
      refuseStream(
        stream,
        new ServiceNotRegisteredError(`the app serving ${service} is gone`),
        StreamCode.SERVICE_REFUSED,
      );
      return;
    }
    bridgeStreams(ipc, stream, client.logger.child({ stream: stream.streamId, service }));
  }

  /** Stops taking requests; closes every control connection. */
  close(): void {
    this.closing = true;
    for (const c of [...this.clients]) c.conn.close();
  }
}
