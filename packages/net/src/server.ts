/**
 * `Server`: a `node:net`-like server for one Braid service. `listen({ service })` registers the
 * service with the client; each stream a peer opens to it becomes a connected {@link Socket}
 * (`connection` event). Streams the application has not taken yet wait in the client's listen
 * backlog (`listenBacklog` of the embedded endpoint, 128 by default; the daemon's likewise):
 * beyond it the opener is refused (`ECONNREFUSED`), like a full TCP accept queue.
 */
import { EventEmitter } from 'node:events';
import type { BraidClient, BraidStream, ServiceListener } from '@braid/sdk';
import {
  InvalidArgTypeError,
  ServerAlreadyListenError,
  ServerNotRunningError,
  toNodeError,
} from './errors.js';
import { checkNonNegative, checkService, clientOf } from './options.js';
import { BRAID_FAMILY, Socket, type BraidAddressInfo } from './socket.js';

export interface ServerOptions {
  /** The Braid client. Default: the one given to `listen`, else the one `setDefaultClient` set. */
  client?: BraidClient;
  /** Passed to every accepted socket (default false, as `node:net`). */
  allowHalfOpen?: boolean;
  /** Accepted sockets start paused (default false). */
  pauseOnConnect?: boolean;
  /** High-water mark of accepted sockets, in bytes. Default: Node's. */
  highWaterMark?: number;
  /** `lingerMs` of accepted sockets (see `SocketOptions`). */
  lingerMs?: number;
}

export interface ListenOptions {
  /** The service to accept streams for: 1–64 characters of `[A-Za-z0-9._-]`. */
  service: string;
  /** The client to listen with, when the server was created without one. */
  client?: BraidClient;
  /** Closes the server when it fires. */
  signal?: AbortSignal;
}

/** What `drop` reports when `maxConnections` turned a stream away. */
export interface DropInfo {
  remoteAddress: string;
  remoteFamily: typeof BRAID_FAMILY;
  service: string;
}

export class Server extends EventEmitter {
  /** Streams beyond this many open connections are reset (`drop` event). Default: no limit. */
  maxConnections: number | undefined = undefined;
  private readonly options: ServerOptions;
  private client: BraidClient | undefined;
  private listener: ServiceListener | undefined;
  private serviceName: string | undefined;
  /** `listen` was called and its registration has not settled yet. */
  private starting = false;
  /** `close` was called (or the registration ended) and `close` has not been emitted yet. */
  private closing = false;
  private unlistening: Promise<void> | undefined;
  private readonly connections = new Set<Socket>();
  private refed = true;

  constructor(options: ServerOptions = {}, connectionListener?: (socket: Socket) => void) {
    super();
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgTypeError('The "options" argument must be of type object');
    if (options.lingerMs !== undefined) checkNonNegative(options.lingerMs, 'options.lingerMs');
    this.options = options;
    this.client = options.client;
    if (connectionListener) this.on('connection', connectionListener);
  }

  /**
   * Starts accepting streams to `service` (`listen({ service })` or `listen(service)`); emits
   * `listening`, or `error` (`EADDRINUSE` when the service already has a listener here). A bad
   * service name throws synchronously.
   */
  listen(options: ListenOptions | string, listeningListener?: () => void): this {
    const opts: ListenOptions =
      typeof options === 'string'
        ? { service: options }
        : typeof options === 'object' && options !== null
          ? options
          : (() => {
              throw new InvalidArgTypeError(
                'The "options" argument must be an object ({ service }) or a service name',
              );
            })();
    const service = checkService(opts.service);
    const client = clientOf(opts.client ?? this.client);
    if (this.listener || this.starting) throw new ServerAlreadyListenError();
    if (listeningListener) this.once('listening', listeningListener);
    // As node:net: listening again right after close() is allowed; the connections still open
    // then belong to the new listening period ('close' waits for another close()).
    this.closing = false;
    this.starting = true;
    this.client = client;
    this.serviceName = service;
    const signal = opts.signal;
    if (signal) {
      const onAbort = () => this.close();
      if (signal.aborted) process.nextTick(onAbort);
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
    client.listen(service).then(
      (listener) => {
        this.starting = false;
        if (this.closing) {
          // close() came first.
          this.unlisten(listener);
          return;
        }
        this.listener = listener;
        listener.on('error', (err) => this.emit('error', toNodeError(err, 'listen', { service })));
        void this.accept(listener);
        this.emit('listening');
      },
      (err: unknown) => {
        this.starting = false;
        if (this.closing) {
          this.maybeClosed();
          return;
        }
        this.emit('error', toNodeError(err, 'listen', { service }));
      },
    );
    return this;
  }

  /** Takes the listener's streams one by one until it ends (closed by us, or by the client). */
  private async accept(listener: ServiceListener): Promise<void> {
    const streams = listener[Symbol.asyncIterator]();
    for (;;) {
      const next = await streams.next();
      if (next.done) break;
      this.onStream(next.value);
    }
    if (this.listener === listener) {
      // The registration ended without close() (the client closed, or braidd went away).
      this.listener = undefined;
      this.closing = true;
      this.maybeClosed();
    }
  }

  private onStream(stream: BraidStream): void {
    if (this.maxConnections !== undefined && this.connections.size >= this.maxConnections) {
      stream.on('error', () => {
        // Our own reset.
      });
      stream.destroy(new Error('maxConnections reached'));
      const info: DropInfo = {
        remoteAddress: stream.session.peer,
        remoteFamily: BRAID_FAMILY,
        service: stream.service,
      };
      this.emit('drop', info);
      return;
    }
    const socket = new Socket({
      stream,
      ...(this.client && { client: this.client }),
      allowHalfOpen: this.options.allowHalfOpen ?? false,
      ...(this.options.highWaterMark !== undefined && {
        highWaterMark: this.options.highWaterMark,
      }),
      ...(this.options.lingerMs !== undefined && { lingerMs: this.options.lingerMs }),
    });
    socket.server = this;
    this.connections.add(socket);
    socket.once('close', () => {
      this.connections.delete(socket);
      this.maybeClosed();
    });
    if (this.options.pauseOnConnect) socket.pause();
    this.emit('connection', socket);
  }

  /**
   * Stops accepting (the service is unregistered); `close` is emitted once every connection
   * has closed. The callback gets `ERR_SERVER_NOT_RUNNING` if the server was not listening.
   */
  close(callback?: (err?: Error) => void): this {
    const running = this.listener !== undefined || this.starting;
    if (callback) {
      if (running || this.closing) this.once('close', () => callback());
      else process.nextTick(callback, new ServerNotRunningError());
    }
    if (!running) return this;
    this.closing = true;
    const listener = this.listener;
    this.listener = undefined;
    if (listener) this.unlisten(listener);
    return this;
  }

  private unlisten(listener: ServiceListener): void {
    this.unlistening = listener
      .close()
      .catch(() => {
        // The client is gone already: nothing is registered any more.
      })
      .finally(() => {
        this.unlistening = undefined;
        this.maybeClosed();
      });
  }

  private maybeClosed(): void {
    if (!this.closing || this.starting || this.listener || this.unlistening) return;
    if (this.connections.size > 0) return;
    this.closing = false;
    process.nextTick(() => this.emit('close'));
  }

  /** This side's EID and the service while listening; null otherwise (as `node:net`). */
  address(): BraidAddressInfo | null {
    if (!this.listener || !this.client || !this.serviceName) return null;
    return { address: this.client.eid, family: BRAID_FAMILY, service: this.serviceName };
  }

  get listening(): boolean {
    return this.listener !== undefined;
  }

  /** The number of open connections, to `callback` (as `node:net`). */
  getConnections(callback: (err: Error | null, count: number) => void): this {
    const count = this.connections.size;
    process.nextTick(callback, null, count);
    return this;
  }

  /** See `Socket.unref`: the Braid client, not the server, holds the process. */
  unref(): this {
    this.refed = false;
    return this;
  }

  ref(): this {
    this.refed = true;
    return this;
  }

  get hasRef(): boolean {
    return this.refed;
  }

  /** `await using server = …`: closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.listener && !this.starting && !this.closing) return;
    await new Promise<void>((resolve) => this.close(() => resolve()));
  }
}

/** `net.createServer`: a {@link Server}, with `connectionListener` on `connection`. */
export function createServer(connectionListener?: (socket: Socket) => void): Server;
export function createServer(
  options?: ServerOptions,
  connectionListener?: (socket: Socket) => void,
): Server;
export function createServer(
  options?: ServerOptions | ((socket: Socket) => void),
  connectionListener?: (socket: Socket) => void,
): Server {
  if (typeof options === 'function') return new Server({}, options);
  return new Server(options ?? {}, connectionListener);
}
