/**
 * `Socket`: a `node:net`-like socket over one Braid stream, a real `stream.Duplex`.
 *
 * A client socket is made by `connect()`: it opens (or reuses) the session to the peer's EID,
 * then a stream to the service, and emits `connect` and `ready`. Until then writes wait here,
 * at most `connectBufferBytesMax` bytes (Node's own buffering, bounded); then they go out in
 * order. A server socket wraps a stream a `Server` accepted, already connected.
 *
 * Under it is the client's `BraidStream` (a `Duplex` with backpressure, from `@braid/sdk`'s
 * `connect()` or `embedded()`). Bytes read are pushed on as they come, and the stream is paused
 * when this socket's buffer is full (so the peer's flow control holds the writer back); writes
 * go to the stream, and a write's callback waits for the stream's `drain` when it says so, so
 * `write()` returns false and `drain` fires as on a TCP socket.
 *
 * Closing, as TCP does it: `end()` sends the end after what was written; `destroy()` discards
 * what is still buffered in this socket, but what it already handed to the stream is delivered,
 * then the end (FIN): the stream is released in the background and finishes on its own
 * (bounded by `lingerMs`), and whatever the peer still sends is discarded (the embedded endpoint
 * also asks the peer to stop, STOP_SENDING). `resetAndDestroy()` abandons the stream at once
 * (RESET_STREAM): the peer sees ECONNRESET.
 */
import { Duplex } from 'node:stream';
import { EmbeddedStream } from '@braid/endpoint';
import type { BraidClient, BraidSession, BraidStream, StreamPolicy } from '@braid/sdk';
import {
  AbortError,
  ConnectBufferFullError,
  InvalidArgTypeError,
  SocketClosedError,
  SocketConnectingError,
  StreamClosedError,
  toNodeError,
  type CloseInfo,
  type Syscall,
} from './errors.js';
import { checkNonNegative, checkPeer, checkService, clientOf } from './options.js';

/** Default bound of what may be written before the socket connects. */
export const CONNECT_BUFFER_BYTES_MAX_DEFAULT = 16 * 1024 * 1024;
/** Default time a destroyed socket's stream is given to deliver what it took, and its end. */
export const LINGER_MS_DEFAULT = 30_000;

/** The family reported for Braid addresses (`remoteFamily`, `address().family`). */
export const BRAID_FAMILY = 'braid';

/** What `address()` returns: this side's EID and the service. */
export interface BraidAddressInfo {
  /** The local EID (`braid1…`). */
  address: string;
  family: typeof BRAID_FAMILY;
  service: string;
}

export interface SocketOptions {
  /**
   * The Braid client (`@braid/sdk` `connect()` or `embedded()`). Default: the one set with
   * `setDefaultClient`.
   */
  client?: BraidClient;
  /** Wrap this already open stream (the socket starts connected). */
  stream?: BraidStream;
  /** Keep the writable side open when the peer ends its side (default false, as `node:net`). */
  allowHalfOpen?: boolean;
  /** Destroys the socket (with an `AbortError`) when it fires. */
  signal?: AbortSignal;
  /** Both sides' high-water mark, in bytes. Default: Node's default for streams. */
  highWaterMark?: number;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
  /**
   * Bytes that may be written before the socket connects; one more and the socket is destroyed
   * with `ENOBUFS` (`braidCode` `ERR_BRAID_CONNECT_BUFFER_FULL`). Default 16 MiB.
   */
  connectBufferBytesMax?: number;
  /**
   * After `destroy()`, how long the stream is given to deliver what it already took and its
   * end (like an orphaned TCP socket's FIN_WAIT), after which it is reset. Default 30 000 ms.
   */
  lingerMs?: number;
}

export interface ConnectOptions extends Omit<SocketOptions, 'stream'> {
  /** The peer's EID (`braid1…`). */
  peer?: string;
  /** Taken as the peer's EID when `peer` is not given (so `{ host: eid }` options work). */
  host?: string;
  /** The service on the peer: 1–64 characters of `[A-Za-z0-9._-]`. */
  service: string;
  /** Locators to try for the peer, beyond what the client's peer directory knows. */
  locators?: string[];
  /** The stream's scheduling and FEC policy (default: bulk, FEC off). */
  policy?: Partial<StreamPolicy>;
  /** Calls `setTimeout(timeout)`. */
  timeout?: number;
  /** Accepted as `node:net` does; see {@link Socket.setNoDelay}. */
  noDelay?: boolean;
  /** Accepted as `node:net` does; see {@link Socket.setKeepAlive}. */
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

type WriteCallback = (error?: Error | null) => void;

/** How each session ended, seen once per session (one listener each, whatever the sockets). */
const sessionCloses = new WeakMap<BraidSession, CloseInfo>();
const watchedSessions = new WeakSet<BraidSession>();

function watchSession(session: BraidSession): void {
  if (watchedSessions.has(session)) return;
  watchedSessions.add(session);
  session.on('closed', (info) => sessionCloses.set(session, info));
}

function destroyedError(): Error {
  const err = new Error('Cannot call write after a stream was destroyed') as Error & {
    code: string;
  };
  err.code = 'ERR_STREAM_DESTROYED';
  return err;
}

function byteLengthOf(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string')
    return Buffer.byteLength(
      chunk,
      typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8',
    );
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/**
 * Lets a stream this socket no longer uses finish what it took: its end follows the bytes
 * already written; what the peer still sends is discarded. The embedded endpoint's stream is
 * then destroyed (STOP_SENDING asks the peer to stop); a daemon stream waits for the peer's end,
 * since resetting it could overtake the end on its way through braidd. At most `lingerMs`.
 */
function release(inner: BraidStream, lingerMs: number): void {
  if (inner.destroyed) return;
  inner.on('error', () => {
    // Nobody reads this stream any more; its socket has already closed.
  });
  const timer = setTimeout(() => inner.destroy(), lingerMs);
  timer.unref();
  inner.once('close', () => clearTimeout(timer));
  const settle = () => {
    if (inner.destroyed || !inner.writableFinished) return;
    if (inner.readableEnded || inner instanceof EmbeddedStream) inner.destroy();
  };
  inner.on('finish', settle);
  inner.on('end', settle);
  inner.resume();
  if (!inner.writableEnded) inner.end();
  settle();
}

export class Socket extends Duplex {
  /** True between `connect()` and the `connect` event. */
  connecting = false;
  /** The server that accepted this socket, for server sockets. */
  server: unknown = undefined;
  private client: BraidClient | undefined;
  private inner: BraidStream | undefined;
  private peerEid: string | undefined;
  private serviceName: string | undefined;
  private connectAbort: AbortController | undefined;
  /** A write made before the socket connected; Node's buffer holds the ones after it. */
  private pendingWrite: { chunks: Buffer[]; callback: WriteCallback } | undefined;
  /** `end()` called before the socket connected, with nothing left to write. */
  private pendingFinal: WriteCallback | undefined;
  /** The callback of a write the stream said to wait on (its `write()` was false), and its bytes. */
  private drainWaiter: { callback: WriteCallback; bytes: number } | undefined;
  private finalWaiter: WriteCallback | undefined;
  private detach: (() => void) | undefined;
  private dispatchedBytes = 0;
  private receivedBytes = 0;
  private timeoutMs: number | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private refed = true;
  private resetOnDestroy = false;
  private readonly connectBufferBytesMax: number;
  private readonly lingerMs: number;

  constructor(options: SocketOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgTypeError('The "options" argument must be of type object');
    super({
      allowHalfOpen: options.allowHalfOpen ?? false,
      // 'close' is emitted by _destroy with `hadError`, as node:net does.
      emitClose: false,
      ...(options.highWaterMark !== undefined && { highWaterMark: options.highWaterMark }),
      ...(options.readableHighWaterMark !== undefined && {
        readableHighWaterMark: options.readableHighWaterMark,
      }),
      ...(options.writableHighWaterMark !== undefined && {
        writableHighWaterMark: options.writableHighWaterMark,
      }),
    });
    this.client = options.client;
    this.connectBufferBytesMax = checkNonNegative(
      options.connectBufferBytesMax ?? CONNECT_BUFFER_BYTES_MAX_DEFAULT,
      'options.connectBufferBytesMax',
    );
    this.lingerMs = checkNonNegative(options.lingerMs ?? LINGER_MS_DEFAULT, 'options.lingerMs');
    if (options.stream) {
      this.peerEid = options.stream.session.peer;
      this.serviceName = options.stream.service;
      watchSession(options.stream.session);
      this.attach(options.stream);
    }
    const signal = options.signal;
    if (signal) {
      if (signal.aborted)
        process.nextTick(() => this.destroy(new AbortError({ cause: signal.reason })));
      else {
        const onAbort = () => this.destroy(new AbortError({ cause: signal.reason }));
        signal.addEventListener('abort', onAbort, { once: true });
        this.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
  }

  // ---- connecting -----------------------------------------------------------------------

  /**
   * Connects to `service` on the peer `peer` (an EID), as `net.Socket#connect(port, host)`.
   * Bad arguments throw synchronously; failures to connect are `error` events (`ECONNREFUSED`,
   * `ETIMEDOUT`, `ENOTFOUND`, `EHOSTUNREACH`, …).
   */
  connect(options: ConnectOptions, connectListener?: () => void): this;
  connect(service: string, peer: string, connectListener?: () => void): this;
  connect(...args: unknown[]): this {
    const [options, listener] = normalizeConnectArgs(args);
    const target = checkConnectOptions(options, this.client);
    if (this.connecting) throw new SocketConnectingError();
    if (this.inner || this.destroyed)
      throw new SocketClosedError('Socket is connected or was destroyed; make a new one');
    if (listener) this.once('connect', listener);
    if (options.timeout !== undefined) this.setTimeout(options.timeout);
    this.client = target.client;
    this.peerEid = target.peer;
    this.serviceName = target.service;
    this.connecting = true;
    const abort = new AbortController();
    this.connectAbort = abort;
    void this.open(target.client, target.peer, target.service, options, abort.signal);
    return this;
  }

  private async open(
    client: BraidClient,
    peer: string,
    service: string,
    options: ConnectOptions,
    signal: AbortSignal,
  ): Promise<void> {
    try {
      const session = await client.openSession(peer, {
        signal,
        ...(options.locators && { locators: options.locators }),
      });
      watchSession(session);
      const stream = await session.openStream(service, {
        signal,
        ...(options.policy && { policy: options.policy }),
      });
      if (this.destroyed) {
        stream.destroy();
        return;
      }
      this.connecting = false;
      this.connectAbort = undefined;
      this.attach(stream);
      this.touch();
      this.emit('connect');
      this.emit('ready');
      this.flushPending();
    } catch (err) {
      // Destroyed while connecting: the abort is ours, nothing to report.
      if (this.destroyed) return;
      this.destroy(toNodeError(err, 'connect', { peer, service }));
    }
  }

  private flushPending(): void {
    if (this.destroyed || !this.inner) return;
    const write = this.pendingWrite;
    this.pendingWrite = undefined;
    if (write) this.writeInner(write.chunks, write.callback);
    const final = this.pendingFinal;
    this.pendingFinal = undefined;
    if (final) this.endInner(final);
  }

  // ---- the stream underneath --------------------------------------------------------------

  private attach(inner: BraidStream): void {
    this.inner = inner;
    let ended = false;
    let finished = false;
    const context = () => ({
      peer: this.peerEid,
      service: this.serviceName,
      ...(sessionCloses.has(inner.session) && { closeInfo: sessionCloses.get(inner.session)! }),
    });
    const onData = (chunk: Buffer) => {
      this.receivedBytes += chunk.length;
      this.touch();
      if (!this.push(chunk)) inner.pause();
    };
    const onEnd = () => {
      ended = true;
      this.push(null);
    };
    const onFinish = () => {
      finished = true;
      const callback = this.finalWaiter;
      this.finalWaiter = undefined;
      callback?.();
    };
    const onDrain = () => {
      const waiter = this.drainWaiter;
      this.drainWaiter = undefined;
      waiter?.callback();
    };
    const onError = (err: Error) => {
      const syscall: Syscall =
        (err as { code?: unknown }).code === 'ERR_BRAID_STREAM_STOPPED' ? 'write' : 'read';
      this.destroy(toNodeError(err, syscall, context()));
    };
    const onClose = () => {
      if (this.destroyed || (ended && finished)) return;
      // Closed under us with no error of its own (the client was closed, say): bytes may be
      // missing, so it is not a clean end.
      this.destroy(
        toNodeError(
          new StreamClosedError(
            `the stream to ${this.serviceName ?? 'the service'} closed before ${ended ? 'our end was sent' : "the peer's end came"}`,
          ),
          'read',
          context(),
        ),
      );
    };
    inner.on('data', onData);
    inner.on('end', onEnd);
    inner.on('finish', onFinish);
    inner.on('drain', onDrain);
    inner.on('error', onError);
    inner.on('close', onClose);
    this.detach = () => {
      inner.off('data', onData);
      inner.off('end', onEnd);
      inner.off('finish', onFinish);
      inner.off('drain', onDrain);
      inner.off('error', onError);
      inner.off('close', onClose);
    };
  }

  private writeInner(chunks: Buffer[], callback: WriteCallback): void {
    const inner = this.inner!;
    let more = true;
    let bytes = 0;
    for (const chunk of chunks) {
      bytes += chunk.length;
      more = inner.write(chunk);
    }
    this.dispatchedBytes += bytes;
    this.touch();
    if (more) callback();
    else this.drainWaiter = { callback, bytes };
  }

  private endInner(callback: WriteCallback): void {
    const inner = this.inner!;
    if (inner.writableFinished) {
      callback();
      return;
    }
    this.finalWaiter = callback;
    if (!inner.writableEnded) inner.end();
  }

  // ---- Duplex -----------------------------------------------------------------------------

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    this.writeChunks([chunk], callback);
  }

  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: WriteCallback,
  ): void {
    this.writeChunks(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  private writeChunks(chunks: Buffer[], callback: WriteCallback): void {
    if (this.inner) this.writeInner(chunks, callback);
    else if (this.connecting) this.pendingWrite = { chunks, callback };
    else callback(new SocketClosedError('This socket is not connected'));
  }

  override _final(callback: WriteCallback): void {
    if (this.inner) this.endInner(callback);
    else if (this.connecting) this.pendingFinal = callback;
    else callback();
  }

  override _read(): void {
    if (this.inner?.isPaused()) this.inner.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.connectAbort?.abort();
    this.connectAbort = undefined;
    this.connecting = false;
    this.detach?.();
    this.detach = undefined;
    const inner = this.inner;
    if (inner && !inner.destroyed) {
      if (this.resetOnDestroy) {
        inner.on('error', () => {
          // Our own reset.
        });
        inner.destroy(new Error('socket reset (resetAndDestroy)'));
      } else release(inner, this.lingerMs);
    }
    // Writes and ends still waiting fail (their bytes were not handed to the stream).
    const failure = error ?? destroyedError();
    const waiting = [
      this.pendingWrite?.callback,
      this.drainWaiter?.callback,
      this.pendingFinal,
      this.finalWaiter,
    ];
    this.pendingWrite = this.drainWaiter = this.pendingFinal = this.finalWaiter = undefined;
    for (const cb of waiting) cb?.(failure);
    callback(error);
    process.nextTick(() => this.emit('close', error !== null && error !== undefined));
  }

  /** Checks the bound of what may wait for the connection (Node's own buffer, bounded). */
  private checkConnectBuffer(chunk: unknown, encoding: unknown): void {
    if (!this.connecting || this.destroyed) return;
    const bytes = byteLengthOf(chunk, encoding);
    if (this.writableLength + bytes <= this.connectBufferBytesMax) return;
    this.destroy(
      toNodeError(
        new ConnectBufferFullError(
          `${this.writableLength + bytes} bytes written before the socket connected, more than connectBufferBytesMax (${this.connectBufferBytesMax})`,
        ),
        'write',
        { peer: this.peerEid, service: this.serviceName },
      ),
    );
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Writable.write's own overloads
  override write(chunk: any, encoding?: any, callback?: any): boolean {
    this.checkConnectBuffer(chunk, encoding);
    return super.write(chunk, encoding, callback);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Writable.end's own overloads
  override end(chunk?: any, encoding?: any, callback?: any): this {
    if (typeof chunk !== 'function') this.checkConnectBuffer(chunk, encoding);
    return super.end(chunk, encoding, callback);
  }

  // ---- node:net's socket API --------------------------------------------------------------

  /**
   * Ends our side and destroys the socket once what was written is handed over (what
   * `node:http`'s server calls after a response on a connection that will not be reused).
   */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Destroys the socket and resets its stream (RESET_STREAM): the peer sees ECONNRESET. */
  resetAndDestroy(): this {
    this.resetOnDestroy = true;
    return this.destroy();
  }

  /**
   * Emits `timeout` after `timeoutMs` without reading or writing (0 turns it off), as
   * `node:net` does: the socket is not closed. The timer does not hold the event loop.
   */
  setTimeout(timeoutMs: number, callback?: () => void): this {
    const ms = checkNonNegative(timeoutMs, 'msecs');
    this.timeoutMs = ms;
    if (callback) {
      if (ms === 0) this.off('timeout', callback);
      else this.once('timeout', callback);
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (ms > 0 && !this.destroyed) {
      this.idleTimer = setTimeout(() => this.emit('timeout'), ms);
      this.idleTimer.unref();
    }
    return this;
  }

  /** Activity: the idle timer starts over (and is armed again if it fired). */
  private touch(): void {
    this.idleTimer?.refresh();
  }

  /**
   * Accepted and ignored: Braid has no Nagle delay to turn off. A write goes out at the next
   * turn of the event loop, together with the writes of that turn, whatever this says.
   */
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  /**
   * Accepted and ignored: keepalive and dead-peer detection belong to the session (a PING after
   * 10 s of silence and per-path liveness probes by default), shared by all its streams.
   */
  setKeepAlive(_enable?: boolean, _initialDelayMs?: number): this {
    return this;
  }

  /**
   * Marks the socket as not holding the process, as far as this socket goes: its own timers
   * never do (as in `node:net`), and what keeps the process alive is the Braid client (its UDP
   * sockets, or its connection to braidd), which the application closes.
   */
  unref(): this {
    this.refed = false;
    return this;
  }

  ref(): this {
    this.refed = true;
    return this;
  }

  /** Whether `ref()` (the default) or `unref()` was called last. */
  get hasRef(): boolean {
    return this.refed;
  }

  /** This side's EID and the service, once connected (`{}` before, as `node:net`). */
  address(): BraidAddressInfo | Record<string, never> {
    if (!this.inner || !this.serviceName || !this.client) return {};
    return { address: this.client.eid, family: BRAID_FAMILY, service: this.serviceName };
  }

  /** The idle timeout set by `setTimeout`, in ms (undefined before it is set). */
  get timeout(): number | undefined {
    return this.timeoutMs;
  }

  /** True until connected (`node:net`: no handle yet, or connecting). */
  get pending(): boolean {
    return !this.inner || this.connecting;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  /** Bytes received from the peer. */
  get bytesRead(): number {
    return this.receivedBytes;
  }

  /** Bytes written: handed to the stream, plus those still buffered here (as `node:net` counts). */
  get bytesWritten(): number {
    return this.dispatchedBytes + this.writableLength - (this.drainWaiter?.bytes ?? 0);
  }

  /** Bytes buffered here for writing (`node:net`'s deprecated `bufferSize`). */
  get bufferSize(): number {
    return this.writableLength;
  }

  /** The peer's EID, once connected. */
  get remoteAddress(): string | undefined {
    return this.inner ? this.peerEid : undefined;
  }

  /** `'braid'` once connected. */
  get remoteFamily(): string | undefined {
    return this.inner ? BRAID_FAMILY : undefined;
  }

  /** Always undefined: Braid streams go to named services, not ports (see `service`). */
  get remotePort(): number | undefined {
    return undefined;
  }

  /** This side's EID, once connected. */
  get localAddress(): string | undefined {
    return this.inner ? this.client?.eid : undefined;
  }

  get localFamily(): string | undefined {
    return this.inner ? BRAID_FAMILY : undefined;
  }

  /** Always undefined (see `remotePort`). */
  get localPort(): number | undefined {
    return undefined;
  }

  // ---- Braid's own ------------------------------------------------------------------------

  /** The service this socket is connected to (or connecting to, or accepted for). */
  get service(): string | undefined {
    return this.serviceName;
  }

  /** The Braid session under the socket, once connected: paths, stats, events. */
  get session(): BraidSession | undefined {
    return this.inner?.session;
  }

  /** The Braid stream under the socket, once connected. */
  get stream(): BraidStream | undefined {
    return this.inner;
  }
}

function normalizeConnectArgs(args: unknown[]): [ConnectOptions, (() => void) | undefined] {
  const [first, second, third] = args;
  if (typeof first === 'string') {
    const listener = typeof second === 'function' ? second : third;
    return [
      { service: first, ...(typeof second === 'string' && { peer: second }) },
      typeof listener === 'function' ? (listener as () => void) : undefined,
    ];
  }
  if (typeof first !== 'object' || first === null)
    throw new InvalidArgTypeError(
      'The "options" argument must be an object ({ peer, service }) or a service name',
    );
  return [
    first as ConnectOptions,
    typeof second === 'function' ? (second as () => void) : undefined,
  ];
}

function checkConnectOptions(
  options: ConnectOptions,
  fallbackClient: BraidClient | undefined,
): { client: BraidClient; peer: string; service: string } {
  const service = checkService(options.service);
  const peer =
    options.peer !== undefined
      ? checkPeer(options.peer, 'options.peer')
      : checkPeer(options.host, 'options.peer');
  const client = clientOf(options.client ?? fallbackClient);
  if (options.timeout !== undefined) checkNonNegative(options.timeout, 'options.timeout');
  return { client, peer, service };
}

/** Validates arguments (throwing synchronously), then makes a socket and connects it. */
export function connect(options: ConnectOptions, connectListener?: () => void): Socket;
export function connect(service: string, peer: string, connectListener?: () => void): Socket;
export function connect(...args: unknown[]): Socket {
  const [options, listener] = normalizeConnectArgs(args);
  checkConnectOptions(options, undefined);
  const socket = new Socket(options);
  return socket.connect(options, listener);
}

/** The same as {@link connect} (`net.createConnection`). */
export const createConnection = connect;
