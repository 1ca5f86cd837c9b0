/**
 * Port forwarding for programs that are not written in Node: `braid forward` (a local TCP port
 * → a peer's service, like `ssh -L`) and `braid expose` (a service → a TCP address, like the far
 * end of `ssh -R`). Each TCP connection is one Braid stream; bytes go both ways through `pipe`
 * (so backpressure crosses: a slow reader slows the TCP sender through the stream's flow
 * control), a FIN becomes the stream's end and the stream's end a FIN (half-close both ways),
 * and a reset or error on either side resets the other (a TCP RST, a stream reset).
 *
 * `forwardPort` and `exposeService` take any `BraidClient` (braidd's, or an embedded endpoint)
 * and report what happens as {@link ForwardEvent}s; the commands print them.
 */
import { isIP, createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Option } from 'commander';
import { defineError } from '@braid/protocol';
import { parseEid, parseIntOption, parseLocator, parseService } from './args.js';
import type { BraidClient, BraidStream, ServiceListener } from './client-api.js';
import type { CommandContext } from './context.js';
import { UsageError } from './errors.js';

/**
 * Most connections one `forward` or `expose` carries at once, and the default: each is a stream
 * on the one control connection to braidd, which carries at most 128 (`@braid/ipc` STREAMS_MAX).
 */
export const FORWARD_CONNECTIONS_MAX = 128;
/** How long `expose` waits for the target's TCP handshake before it resets the stream. */
export const EXPOSE_CONNECT_TIMEOUT_MS = 10_000;
/** How long stopping waits for the connections it reset to close before it returns anyway. */
export const STOP_GRACE_MS = 5_000;
/** The longest `--connect-timeout` accepted. */
const CONNECT_TIMEOUT_MS_MAX = 600_000;

/** The local port of a forward is in use (`EADDRINUSE`). */
export class ForwardAddressInUseError extends defineError(
  'ForwardAddressInUseError',
  'ERR_BRAID_FORWARD_ADDRESS_IN_USE',
) {
  readonly errno = 'EADDRINUSE';
}
/** The forward could not listen for another reason (`EACCES`, `EADDRNOTAVAIL`…). */
export class ForwardListenError extends defineError(
  'ForwardListenError',
  'ERR_BRAID_FORWARD_LISTEN',
) {}
/** braidd dropped the registration of an exposed service (it stopped, or the connection did). */
export class ExposeEndedError extends defineError('ExposeEndedError', 'ERR_BRAID_EXPOSE_ENDED') {}

/** What a forward or an expose reports, one object per happening (`--json` prints them). */
export type ForwardEvent =
  | {
      event: 'listening';
      /** `forward`: the local TCP address; `expose`: the target. */
      local?: string;
      port?: number;
      target?: string;
      peer?: string;
      eid?: string;
      service: string;
    }
  /** A connection is bridged to a stream (forward: after the stream opened; expose: after the TCP connect). */
  | {
      event: 'open';
      connection: number;
      from: string;
      streamId: number;
      session: string;
    }
  /** A connection could not be bridged: the TCP client was reset, or the stream was. */
  | { event: 'refused'; connection: number; from: string; code: string; message: string }
  /** Over `maxConnections`: closed at once. */
  | { event: 'dropped'; from: string; open: number }
  | {
      event: 'close';
      connection: number;
      /** Bytes read from the TCP side and written to the stream, and the other way. */
      bytesToStream: number;
      bytesFromStream: number;
      /** Set when the connection ended with a reset rather than both sides finishing. */
      code?: string;
      message?: string;
    };

/** What the TCP ↔ stream bridge saw when both sides had closed. */
export interface BridgeResult {
  bytesToStream: number;
  bytesFromStream: number;
  /** Both directions finished (FIN and stream end each way), nothing was reset. */
  clean: boolean;
  /** The first error either side reported. */
  error: Error | undefined;
}

/** Closes a TCP connection with an RST, as a reset stream tells the other side. */
function resetSocket(socket: Socket): void {
  if (!socket.destroyed) socket.resetAndDestroy();
}

/**
 * Joins a TCP connection and a stream until both have closed. FIN ↔ stream end each way; an
 * error or an abandoned side (destroyed before both its directions finished) resets the other:
 * the TCP peer gets an RST, the stream's peer a reset. Nothing is buffered here beyond the two
 * streams' own high-water marks: `pipe` pauses the reader while the writer is full.
 */
export function bridgeTcp(socket: Socket, stream: Duplex): Promise<BridgeResult> {
  return new Promise((resolve) => {
    let error: Error | undefined;
    let socketClosed = socket.destroyed;
    let streamClosed = stream.destroyed;
    let clean = true;
    const done = () => {
      if (!socketClosed || !streamClosed) return;
      resolve({
        bytesToStream: socket.bytesRead,
        bytesFromStream: socket.bytesWritten,
        clean: clean && error === undefined,
        error,
      });
    };
    socket.on('error', (err) => {
      error ??= err;
      stream.destroy(err);
    });
    stream.on('error', (err) => {
      error ??= err;
      resetSocket(socket);
    });
    socket.once('close', () => {
      socketClosed = true;
      if (!socket.readableEnded || !socket.writableFinished) {
        clean = false;
        if (!stream.destroyed) stream.destroy();
      }
      done();
    });
    stream.once('close', () => {
      streamClosed = true;
      if (!stream.readableEnded || !stream.writableFinished) {
        clean = false;
        resetSocket(socket);
      }
      done();
    });
    socket.pipe(stream);
    stream.pipe(socket);
    done();
  });
}

function errorFields(error: unknown): { code: string; message: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return {
    code: typeof code === 'string' ? code : 'ERR_BRAID_INTERNAL',
    message: error instanceof Error ? error.message.split('\n')[0]! : String(error),
  };
}

function formatAddress(address: string | undefined, port: number | undefined): string {
  if (address === undefined) return 'unknown';
  return `${isIP(address) === 6 ? `[${address}]` : address}:${port ?? 0}`;
}

/** A running forward or expose. */
export interface ForwardHandle {
  /** Resolves when it has stopped (`close()` or its signal), rejects when it failed. */
  readonly done: Promise<void>;
  /** Connections bridged now. */
  readonly connections: number;
  /** Stops taking connections and resets the open ones; resolves once all are closed. */
  close(): Promise<void>;
}

export interface ForwardPortOptions {
  client: BraidClient;
  peer: string;
  service: string;
  /** Local address to listen on (default 127.0.0.1). */
  host?: string;
  /** Local TCP port; 0 takes any free one (the `listening` event says which). */
  port: number;
  /** Extra locators of the peer for opening the session. */
  locators?: string[];
  /** Connections at once (default and most {@link FORWARD_CONNECTIONS_MAX}); more are closed. */
  maxConnections?: number;
  signal?: AbortSignal;
  onEvent(event: ForwardEvent): void;
}

/** Tracks the open bridges of a forward or an expose and how it ends. */
class Bridges {
  private readonly open = new Map<number, { socket: Socket; stream?: Duplex }>();
  private nextId = 1;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private resolveDone!: () => void;
  private rejectDone!: (error: Error) => void;
  readonly done: Promise<void>;
  private readonly idle: (() => void)[] = [];

  constructor(private readonly onStop: () => Promise<void>) {
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // A caller that only awaits `close()` still sees failures through `done`; never unhandled.
    this.done.catch(() => undefined);
  }

  get size(): number {
    return this.open.size;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  add(socket: Socket): number {
    const id = this.nextId++;
    this.open.set(id, { socket });
    return id;
  }

  attach(id: number, stream: Duplex): void {
    const entry = this.open.get(id);
    if (entry) entry.stream = stream;
  }

  remove(id: number): void {
    this.open.delete(id);
    if (this.open.size === 0) for (const wake of this.idle.splice(0)) wake();
  }

  /**
   * Stops: no new connections, the open ones reset. `done` settles once they have closed (or
   * after {@link STOP_GRACE_MS}): rejected with `error` when the first call to stop gave one.
   */
  stop(error?: Error): Promise<void> {
    this.stopped ??= this.shutDown().then(() => {
      if (error) this.rejectDone(error);
      else this.resolveDone();
    });
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    this.stopping = true;
    await this.onStop().catch(() => undefined);
    for (const { socket, stream } of this.open.values()) {
      resetSocket(socket);
      stream?.destroy();
    }
    if (this.open.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, STOP_GRACE_MS);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * `braid forward`: listens on a local TCP port; each connection opens a stream to `service` on
 * `peer` and is bridged to it. A connection whose stream cannot be opened (unknown or unreachable
 * peer, unknown or refused service) is reset and reported; the forward keeps running. Rejects
 * with {@link ForwardAddressInUseError} when the port is taken.
 */
export async function forwardPort(options: ForwardPortOptions): Promise<
  ForwardHandle & {
    address: { host: string; port: number };
  }
> {
  const { client, peer, service, onEvent, signal } = options;
  const maxConnections = options.maxConnections ?? FORWARD_CONNECTIONS_MAX;
  const host = options.host ?? '127.0.0.1';
  signal?.throwIfAborted();
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true });
  server.maxConnections = maxConnections;
  const bridges = new Bridges(
    () =>
      new Promise<void>((resolve) => {
        if (!server.listening) resolve();
        else server.close(() => resolve());
      }),
  );

  server.on('drop', (data) => {
    onEvent({
      event: 'dropped',
      from: formatAddress(data?.remoteAddress, data?.remotePort),
      open: bridges.size,
    });
  });
  server.on('connection', (socket) => {
    if (bridges.isStopping) {
      resetSocket(socket);
      return;
    }
    void forwardConnection(socket);
  });

  async function forwardConnection(socket: Socket): Promise<void> {
    const from = formatAddress(socket.remoteAddress, socket.remotePort);
    const id = bridges.add(socket);
    // Until the stream is there: a reset or close of the TCP client abandons the opening.
    const opening = new AbortController();
    const onEarlyError = () => undefined;
    const onEarlyClose = () => opening.abort(new Error('the TCP client went away'));
    socket.on('error', onEarlyError);
    socket.once('close', onEarlyClose);
    let stream: BraidStream;
    try {
      const session = await client.openSession(peer, {
        signal: opening.signal,
        ...(options.locators?.length ? { locators: options.locators } : {}),
      });
      stream = await session.openStream(service, { signal: opening.signal });
    } catch (error) {
      resetSocket(socket);
      bridges.remove(id);
      if (!opening.signal.aborted && !bridges.isStopping)
        onEvent({ event: 'refused', connection: id, from, ...errorFields(error) });
      return;
    } finally {
      socket.off('close', onEarlyClose);
    }
    if (socket.destroyed || bridges.isStopping) {
      stream.destroy();
      resetSocket(socket);
      bridges.remove(id);
      return;
    }
    bridges.attach(id, stream);
    await carry(bridges, onEvent, id, from, socket, stream);
    socket.off('error', onEarlyError);
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const where = formatAddress(host, options.port);
      reject(
        error.code === 'EADDRINUSE'
          ? new ForwardAddressInUseError(
              `cannot listen on ${where}: the address is in use (EADDRINUSE); choose another LOCALPORT or stop what listens there`,
              { cause: error },
            )
          : new ForwardListenError(
              `cannot listen on ${where}: ${error.code ?? ''} ${error.message}`.trim(),
              { cause: error },
            ),
      );
    };
    server.once('error', onError);
    server.listen({ host, port: options.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // A later server error (rare: the listening socket failed) ends the forward with it.
  server.on('error', (error) => void bridges.stop(error));
  watchClient(client, bridges);

  const bound = server.address();
  const address = {
    host,
    port: typeof bound === 'object' && bound ? bound.port : options.port,
  };
  onEvent({
    event: 'listening',
    local: formatAddress(address.host, address.port),
    port: address.port,
    peer,
    service,
  });
  const onAbort = () => void bridges.stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  void bridges.done.finally(() => signal?.removeEventListener('abort', onAbort)).catch(() => {});
  return {
    address,
    done: bridges.done,
    get connections() {
      return bridges.size;
    },
    close: () => bridges.stop(),
  };
}

/** The daemon connection is lost: nothing more can be forwarded, so stop with the error. */
function watchClient(client: BraidClient, bridges: Bridges): void {
  const onError = (error: Error) => {
    if ((error as { code?: unknown }).code === 'ERR_BRAID_DAEMON_CONNECTION_LOST')
      void bridges.stop(error);
  };
  client.on('error', onError);
  void bridges.done.finally(() => client.off('error', onError)).catch(() => {});
}

/**
 * One connection from its `open` event to its `close` event: bridged until both directions
 * ended (or one was reset), then removed. Forward and expose alike.
 */
async function carry(
  bridges: Bridges,
  onEvent: (event: ForwardEvent) => void,
  connection: number,
  from: string,
  socket: Socket,
  stream: BraidStream,
): Promise<void> {
  onEvent({
    event: 'open',
    connection,
    from,
    streamId: stream.streamId,
    session: stream.session.id,
  });
  const r = await bridgeTcp(socket, stream);
  bridges.remove(connection);
  onEvent({
    event: 'close',
    connection,
    bytesToStream: r.bytesToStream,
    bytesFromStream: r.bytesFromStream,
    ...(r.clean
      ? {}
      : r.error
        ? errorFields(r.error)
        : { code: 'ERR_BRAID_STREAM_RESET', message: 'reset before both directions finished' }),
  });
}

export interface ExposeServiceOptions {
  client: BraidClient;
  service: string;
  /** The TCP address each stream connects to. */
  targetHost: string;
  targetPort: number;
  /** Streams at once (default and most {@link FORWARD_CONNECTIONS_MAX}); more are reset. */
  maxConnections?: number;
  /** How long to wait for the target's handshake (default {@link EXPOSE_CONNECT_TIMEOUT_MS}). */
  connectTimeoutMs?: number;
  signal?: AbortSignal;
  onEvent(event: ForwardEvent): void;
}

/**
 * `braid expose`: registers `service`; each incoming stream connects to the target over TCP and
 * is bridged to it. A target that refuses (or does not answer within the connect timeout) resets
 * the stream, so the opener's side sees a reset; the service stays registered.
 */
export async function exposeService(options: ExposeServiceOptions): Promise<ForwardHandle> {
  const { client, service, targetHost, targetPort, onEvent, signal } = options;
  const maxConnections = options.maxConnections ?? FORWARD_CONNECTIONS_MAX;
  const connectTimeoutMs = options.connectTimeoutMs ?? EXPOSE_CONNECT_TIMEOUT_MS;
  const target = formatAddress(targetHost, targetPort);
  const listener: ServiceListener = await client.listen(service, { signal });
  const bridges = new Bridges(() => listener.close());
  watchClient(client, bridges);

  listener.on('stream', (stream) => {
    const from = stream.session.peer || `session ${stream.session.id}`;
    if (bridges.isStopping) {
      stream.destroy();
      return;
    }
    if (bridges.size >= maxConnections) {
      stream.destroy();
      onEvent({ event: 'dropped', from, open: bridges.size });
      return;
    }
    void exposeConnection(stream, from);
  });
  // The listener ends without our `close()` when braidd drops the registration or the
  // connection to braidd is lost; its `error` (before `close`) says which.
  let endedWith: Error | undefined;
  listener.on('error', (error) => (endedWith ??= error));
  listener.on('close', () => {
    if (!bridges.isStopping)
      void bridges.stop(
        endedWith ?? new ExposeEndedError(`braidd dropped the registration of service ${service}`),
      );
  });

  async function exposeConnection(stream: BraidStream, from: string): Promise<void> {
    // Streams reset while the target connects are noticed by the bridge's error handling.
    stream.on('error', () => undefined);
    const socket = tcpConnect({
      host: targetHost,
      port: targetPort,
      allowHalfOpen: true,
      noDelay: true,
      timeout: connectTimeoutMs,
    });
    const id = bridges.add(socket);
    bridges.attach(id, stream);
    const connected = await new Promise<Error | undefined>((resolve) => {
      const onConnect = () => {
        cleanup();
        resolve(undefined);
      };
      const onError = (error: Error) => {
        cleanup();
        resolve(error);
      };
      const onTimeout = () => {
        cleanup();
        const error = new Error(
          `no answer from ${target} within ${connectTimeoutMs} ms (ETIMEDOUT)`,
        ) as NodeJS.ErrnoException;
        error.code = 'ETIMEDOUT';
        resolve(error);
      };
      const onStreamClose = () => {
        cleanup();
        resolve(new Error('the stream closed before the target answered'));
      };
      const cleanup = () => {
        socket.off('connect', onConnect);
        socket.off('error', onError);
        socket.off('timeout', onTimeout);
        stream.off('close', onStreamClose);
      };
      socket.once('connect', onConnect);
      socket.once('error', onError);
      socket.once('timeout', onTimeout);
      stream.once('close', onStreamClose);
    });
    if (connected) {
      socket.on('error', () => undefined);
      socket.destroy();
      // The opener's side sees the stream reset (its TCP client gets an RST).
      stream.destroy(connected);
      bridges.remove(id);
      if (!bridges.isStopping)
        onEvent({
          event: 'refused',
          connection: id,
          from,
          code: errorFields(connected).code,
          message: `cannot connect to ${target}: ${errorFields(connected).message}`,
        });
      return;
    }
    socket.setTimeout(0);
    if (bridges.isStopping) {
      resetSocket(socket);
      stream.destroy();
      bridges.remove(id);
      return;
    }
    await carry(bridges, onEvent, id, from, socket, stream);
  }

  onEvent({ event: 'listening', service, eid: client.eid, target });
  const onAbort = () => void bridges.stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  void bridges.done.finally(() => signal?.removeEventListener('abort', onAbort)).catch(() => {});
  return {
    done: bridges.done,
    get connections() {
      return bridges.size;
    },
    close: () => bridges.stop(),
  };
}

// ---- the commands ----------------------------------------------------------------------

/** A TCP port: an integer in [min, 65535]. */
function parsePort(what: string, min: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\d{1,5}$/.test(text.trim()) || n < min || n > 65_535)
      throw new UsageError(`bad ${what} "${text}": expected a port number in ${min}–65535`);
    return n;
  };
}

/** `--bind`: an IP literal (no brackets) or `localhost`. */
function parseBindAddress(text: string): string {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (bare === 'localhost' || isIP(bare) !== 0) return bare;
  throw new UsageError(
    `bad --bind address "${text}": expected an IP address such as 127.0.0.1, ::1 or 0.0.0.0`,
  );
}

/**
 * `HOST:PORT`, `[IPV6]:PORT`, or `PORT` (on 127.0.0.1): where `expose` connects. Host names are
 * allowed (the TCP connect resolves them).
 */
export function parseTarget(text: string): { host: string; port: number } {
  const m =
    /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ??
    /^([^:[\]\s]+):(\d{1,5})$/.exec(text) ??
    /^()(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65_535)
    throw new UsageError(
      `bad target "${text}": expected HOST:PORT, [IPV6]:PORT or PORT, with a port in 1–65535`,
    );
  const host = m[1] === '' ? '127.0.0.1' : m[1]!;
  if (text.startsWith('[') && isIP(host) !== 6)
    throw new UsageError(`bad target "${text}": brackets are for IPv6 addresses`);
  return { host, port };
}

const connectionsOption = () =>
  new Option(
    '--max-connections <n>',
    `connections at once; more are closed at once (at most ${FORWARD_CONNECTIONS_MAX})`,
  )
    .argParser(parseIntOption('--max-connections', 1, FORWARD_CONNECTIONS_MAX))
    .default(FORWARD_CONNECTIONS_MAX);

const eventsOption = () =>
  new Option('--json', 'print every event as one JSON object per line on stdout');

/** The one line a person reads for an event, and where it goes; undefined: not shown. */
function renderEvent(e: ForwardEvent, what: 'forward' | 'expose'): string | undefined {
  switch (e.event) {
    case 'listening':
      return what === 'forward'
        ? `forwarding ${e.local} to service ${e.service} on ${e.peer} (Ctrl-C to stop)`
        : `exposing service ${e.service} of ${e.eid} to ${e.target} (Ctrl-C to stop)`;
    case 'refused':
      return what === 'forward'
        ? `braid forward: connection ${e.connection} from ${e.from}: ${e.message} (${e.code}); reset`
        : `braid expose: stream ${e.connection} from ${e.from}: ${e.message} (${e.code}); stream reset`;
    case 'dropped':
      return `braid ${what}: ${what === 'forward' ? 'connection' : 'stream'} from ${e.from} dropped: ${e.open} open, the most --max-connections allows`;
    case 'close':
      return e.code === undefined
        ? undefined
        : `braid ${what}: connection ${e.connection} reset: ${e.message} (${e.code})`;
    case 'open':
      return undefined;
  }
}

export function registerForwardCommands(ctx: CommandContext): void {
  const { io } = ctx;
  const printer = (json: boolean, what: 'forward' | 'expose') => (event: ForwardEvent) => {
    if (json) {
      io.stdout.write(`${JSON.stringify(event)}\n`);
      return;
    }
    const line = renderEvent(event, what);
    if (line === undefined) return;
    if (event.event === 'listening') ctx.out(line);
    else io.stderr.write(`${line}\n`);
  };

  ctx
    .subcommand('forward')
    .description(
      "forward a local TCP port to a peer's service (like ssh -L): each connection becomes a stream, until Ctrl-C",
    )
    .argument(
      '<localPort>',
      'TCP port to listen on (0: any free port, printed)',
      parsePort('local port', 0),
    )
    .argument('<peer>', "the peer's EID (braid1…)", (v) => parseEid(v, 'peer EID'))
    .argument('<service>', 'the service name on the peer', parseService)
    .option('--bind <address>', 'local address to listen on', parseBindAddress, '127.0.0.1')
    .option(
      '--locators <locators...>',
      "ADDRESS:PORT locators of the peer, on top of the daemon's peer directory",
      (v, acc: string[] = []) => [...acc, parseLocator(v)],
    )
    .addOption(connectionsOption())
    .addOption(eventsOption())
    .action(
      async (
        port: number,
        peer: string,
        service: string,
        opts: { bind: string; locators?: string[]; maxConnections: number; json?: boolean },
      ) => {
        await ctx.withClient(async (client) => {
          const forward = await forwardPort({
            client,
            peer,
            service,
            host: opts.bind,
            port,
            maxConnections: opts.maxConnections,
            ...(opts.locators ? { locators: opts.locators } : {}),
            signal: io.signal,
            onEvent: printer(opts.json ?? false, 'forward'),
          });
          await forward.done;
        });
      },
    );

  ctx
    .subcommand('expose')
    .description(
      'serve SERVICE by connecting each incoming stream to a TCP address (like the far end of ssh -R), until Ctrl-C',
    )
    .argument('<service>', 'the service name to register', parseService)
    .argument(
      '<target>',
      'HOST:PORT (or [IPV6]:PORT, or PORT on 127.0.0.1) to connect to',
      parseTarget,
    )
    .addOption(connectionsOption())
    .option(
      '--connect-timeout <ms>',
      'how long to wait for the target to accept a connection',
      parseIntOption('--connect-timeout', 1, CONNECT_TIMEOUT_MS_MAX),
      EXPOSE_CONNECT_TIMEOUT_MS,
    )
    .addOption(eventsOption())
    .action(
      async (
        service: string,
        target: { host: string; port: number },
        opts: { maxConnections: number; connectTimeout: number; json?: boolean },
      ) => {
        await ctx.withClient(async (client) => {
          const expose = await exposeService({
            client,
            service,
            targetHost: target.host,
            targetPort: target.port,
            maxConnections: opts.maxConnections,
            connectTimeoutMs: opts.connectTimeout,
            signal: io.signal,
            onEvent: printer(opts.json ?? false, 'expose'),
          });
          await expose.done;
        });
      },
    );
}
