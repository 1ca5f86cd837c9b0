/**
 * One control connection: hello exchange, requests and responses with ids, server-pushed events
 * and credit-controlled streams, over any byte duplex (a Unix socket in practice).
 *
 * Order of things: both sides send `hello` at once; each checks the other's version and closes
 * with {@link IpcVersionError} if they differ. Then the client sends requests (`req`, answered by
 * `res` with the same id, or abandoned with `cancel`), the server pushes events (`evt`), and
 * either side may carry streams (`data`, `credit`, `end`, `reset`). A request's response or an
 * event can open a stream (`s`): the stream exists from the moment that message is read, so
 * data that follows it on the wire always finds it.
 *
 * Every message a side receives is validated: the envelope by {@link parseMessage}, parameters,
 * results and event bodies by the zod schemas of the protocol table. A frame that is too large,
 * not msgpack, or an envelope that is not the protocol's closes the connection (after a `bye`
 * saying why); a request with bad parameters gets an error response and the connection stays.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { z } from 'zod';
import {
  IpcAbortedError,
  IpcBusyError,
  IpcClosedError,
  IpcFrameTooLargeError,
  IpcHelloTimeoutError,
  IpcInvalidMessageError,
  IpcProtocolError,
  IpcRemoteError,
  IpcSlowConsumerError,
  IpcStreamLimitError,
  IpcTruncatedError,
  IpcUnknownMethodError,
  IpcVersionError,
  errorPayload,
} from './errors.js';
import { FRAME_BYTES_MAX, FrameDecoder, decodeBody, encodeFrame } from './frame.js';
import {
  IPC_PROTOCOL_VERSION,
  checkHello,
  parseMessage,
  type ErrorBody,
  type HelloMessage,
  type Message,
} from './messages.js';
import { IpcStream, STREAM_WINDOW_BYTES, type StreamHost } from './stream.js';

export interface MethodSpec {
  params: z.ZodType;
  result: z.ZodType;
}
/** The methods (client → server) and events (server → client) of a protocol, with schemas. */
export interface ProtocolSpec {
  methods: Record<string, MethodSpec>;
  events: Record<string, z.ZodType>;
}

export type MethodName<S extends ProtocolSpec> = keyof S['methods'] & string;
export type EventName<S extends ProtocolSpec> = keyof S['events'] & string;
export type ParamsOf<S extends ProtocolSpec, M extends MethodName<S>> = z.input<
  S['methods'][M]['params']
>;
export type ResultOf<S extends ProtocolSpec, M extends MethodName<S>> = z.output<
  S['methods'][M]['result']
>;
export type EventOf<S extends ProtocolSpec, E extends EventName<S>> = z.output<S['events'][E]>;

/** What a request handler gets besides its parameters. */
export interface RequestContext {
  /** Aborted when the client cancels the request or the connection closes. */
  signal: AbortSignal;
  /** Opens a stream that the response carries to the client. */
  attachStream(): IpcStream;
}

export type RequestHandlers<S extends ProtocolSpec> = {
  [M in MethodName<S>]: (
    params: z.output<S['methods'][M]['params']>,
    context: RequestContext,
  ) => z.input<S['methods'][M]['result']> | Promise<z.input<S['methods'][M]['result']>>;
};

export interface IpcConnectionOptions<S extends ProtocolSpec> {
  role: 'client' | 'server';
  spec: S;
  /** Software and version named in messages (`braidd 0.1.0`). */
  software: string;
  /** Server only: the request handlers. A method without one is answered `ERR_BRAID_IPC_UNKNOWN_METHOD`. */
  handlers?: Partial<RequestHandlers<S>>;
  /** Client only: events pushed by the server (and the stream an event opened). */
  onEvent?: (name: EventName<S>, data: unknown, stream: IpcStream | undefined) => void;
  /** Builds the error a stream reset by the peer fails with (default `ERR_BRAID_IPC_STREAM_RESET`). */
  resetError?: (error: ErrorBody) => Error;
  /**
   * Client only: called with each stream the other side opens (in a response or an event) in
   * the same turn as its message, before any message behind it (such as its reset) is read.
   * The SDK holds the stream's errors there until the application has it: a promise hands the
   * stream over only after Node has emitted the errors of that turn.
   */
  onStreamAccepted?: (stream: IpcStream) => void;
  /** The version announced in hello. Default {@link IPC_PROTOCOL_VERSION}; tests change it. */
  protocolVersion?: number;
  /** Largest frame body sent or accepted. Default {@link FRAME_BYTES_MAX} (4 MiB). */
  frameBytesMax?: number;
  /** Receive window granted per stream. Default {@link STREAM_WINDOW_BYTES} (256 KiB). */
  streamWindowBytes?: number;
  /** Streams open at once on this connection. Default {@link STREAMS_MAX} (128). */
  streamsMax?: number;
  /** Requests in flight at once (sent by a client, served by a server). Default 256. */
  pendingRequestsMax?: number;
  /** The peer's hello must arrive within this long. Default 5 000 ms. */
  helloTimeoutMs?: number;
  /** Above this output backlog, events marked droppable are shed (counted). Default 1 MiB. */
  outputBacklogBytesMax?: number;
  /**
   * Above this output backlog the peer is not reading: the connection closes with
   * `ERR_BRAID_IPC_SLOW_CONSUMER`. Default 64 MiB, above `streamsMax` × the peer's window
   * (what credit lets stream data queue) plus control traffic.
   */
  outputBacklogHardBytesMax?: number;
}

export const STREAMS_MAX = 128;
export const PENDING_REQUESTS_MAX = 256;
export const HELLO_TIMEOUT_MS = 5_000;
export const OUTPUT_BACKLOG_BYTES_MAX = 1024 * 1024;
export const OUTPUT_BACKLOG_HARD_BYTES_MAX = 64 * 1024 * 1024;
/** After a `bye`, the socket is destroyed if the peer has not closed within this long. */
export const CLOSE_LINGER_MS = 1_000;

export interface IpcConnectionStats {
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Droppable events not sent because the peer was not reading. */
  eventsDropped: number;
  /** Messages for streams already gone (a reset crossing data on the wire): ignored. */
  staleStreamMessages: number;
  /** Responses to requests already cancelled: ignored. */
  staleResponses: number;
  streamsOpen: number;
  requestsPending: number;
  /** Bytes written to the socket not yet taken by the kernel. */
  outputBacklogBytes: number;
  /** Bytes of an incomplete frame held by the decoder. */
  inputBufferedBytes: number;
}

interface Pending {
  resolve(value: { result: unknown; stream: IpcStream | undefined }): void;
  reject(error: Error): void;
  method: string;
  cleanup(): void;
}

export type ConnectionEvents = {
  /** The connection closed; `error` says why if it was not a clean close. */
  close: [error: Error | undefined];
  /** Something the peer sent was wrong but did not close the connection (an invalid event). */
  warning: [error: Error];
};

function formatIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

export class IpcConnection<S extends ProtocolSpec> extends EventEmitter<ConnectionEvents> {
  /** The peer's hello, once received and compatible. */
  peer: HelloMessage | undefined;
  /** Resolves with the peer's hello; rejects if the versions differ or the connection fails. */
  readonly ready: Promise<HelloMessage>;
  /** Resolves once the connection is closed (never rejects). */
  readonly closed: Promise<Error | undefined>;
  private readonly options: Required<
    Omit<IpcConnectionOptions<S>, 'handlers' | 'onEvent' | 'resetError' | 'onStreamAccepted'>
  > &
    Pick<IpcConnectionOptions<S>, 'handlers' | 'onEvent' | 'resetError' | 'onStreamAccepted'>;
  private readonly decoder: FrameDecoder;
  private readonly streams = new Map<number, IpcStream>();
  private readonly pending = new Map<number, Pending>();
  private readonly serving = new Map<number, AbortController>();
  private nextRequestId = 1;
  private nextHandle: number;
  private isClosed = false;
  private closeError: Error | undefined;
  private helloTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private resolveReady!: (hello: HelloMessage) => void;
  private rejectReady!: (error: Error) => void;
  private resolveClosed!: (error: Error | undefined) => void;
  private readonly counters = {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    eventsDropped: 0,
    staleStreamMessages: 0,
    staleResponses: 0,
  };
  private readonly streamHost: StreamHost;

  constructor(
    readonly socket: Duplex,
    options: IpcConnectionOptions<S>,
  ) {
    super();
    this.options = {
      protocolVersion: IPC_PROTOCOL_VERSION,
      frameBytesMax: FRAME_BYTES_MAX,
      streamWindowBytes: STREAM_WINDOW_BYTES,
      streamsMax: STREAMS_MAX,
      pendingRequestsMax: PENDING_REQUESTS_MAX,
      helloTimeoutMs: HELLO_TIMEOUT_MS,
      outputBacklogBytesMax: OUTPUT_BACKLOG_BYTES_MAX,
      outputBacklogHardBytesMax: OUTPUT_BACKLOG_HARD_BYTES_MAX,
      ...options,
    };
    this.decoder = new FrameDecoder(this.options.frameBytesMax);
    // Handles are chosen by the side that opens the stream: the server odd, the client even.
    this.nextHandle = options.role === 'server' ? 1 : 2;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // A rejection nobody awaits (a server-side connection that failed its hello) is reported
    // through `close`; do not let it become an unhandled rejection.
    this.ready.catch(() => undefined);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.streamHost = {
      sendStreamData: (s, b) => this.write({ t: 'data', s, b }),
      sendStreamCredit: (s, n) => this.write({ t: 'credit', s, n }),
      sendStreamEnd: (s) => this.write({ t: 'end', s }),
      sendStreamReset: (s, e) => this.write({ t: 'reset', s, e }),
      streamFinished: (s) => this.streams.delete(s),
      streamViolation: (err) => this.fail(err),
    };

    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: Error) =>
      this.finish(new IpcClosedError(`control connection failed: ${err.message}`, { cause: err })),
    );
    socket.on('close', () =>
      this.finish(new IpcClosedError('the other side closed the control connection')),
    );
    this.helloTimer = setTimeout(
      () =>
        this.fail(
          new IpcHelloTimeoutError(
            `the other side sent no hello within ${this.options.helloTimeoutMs} ms: is it a Braid control socket?`,
          ),
        ),
      this.options.helloTimeoutMs,
    );
    this.helloTimer.unref();
    this.write({
      t: 'hello',
      v: this.options.protocolVersion,
      sw: this.options.software,
      pid: process.pid,
      window: this.options.streamWindowBytes,
    });
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  stats(): IpcConnectionStats {
    return {
      ...this.counters,
      streamsOpen: this.streams.size,
      requestsPending: this.pending.size + this.serving.size,
      outputBacklogBytes: this.socket.writableLength,
      inputBufferedBytes: this.decoder.bufferedBytes,
    };
  }

  /** Sends a request and resolves with its validated result. */
  async request<M extends MethodName<S>>(
    method: M,
    params: ParamsOf<S, M>,
    options: { signal?: AbortSignal } = {},
  ): Promise<ResultOf<S, M>> {
    const { result, stream } = await this.requestWithStream(method, params, options);
    // A stream nobody asked for would hold a slot: refuse it.
    if (stream) stream.destroy();
    return result;
  }

  /** Sends a request whose response may open a stream (`openStream`). */
  requestWithStream<M extends MethodName<S>>(
    method: M,
    params: ParamsOf<S, M>,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ result: ResultOf<S, M>; stream: IpcStream | undefined }> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.isClosed) return Promise.reject(this.closedError());
    if (this.pending.size >= this.options.pendingRequestsMax)
      return Promise.reject(
        new IpcBusyError(
          `${this.pending.size} requests already in flight on this connection (the bound)`,
        ),
      );
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        this.write({ t: 'cancel', id });
        reject(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        method,
        resolve: resolve as Pending['resolve'],
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      });
      this.write({ t: 'req', id, m: method, p: params });
    });
  }

  /**
   * Pushes an event. With `stream`, the event opens a stream, which is returned (undefined if the
   * stream limit is reached). With `droppable`, the event is shed (and counted) while the peer's
   * backlog is above `outputBacklogBytesMax`: for unreliable things such as datagrams.
   */
  sendEvent<E extends EventName<S>>(
    name: E,
    data: z.input<S['events'][E]>,
    options: { stream?: boolean; droppable?: boolean } = {},
  ): IpcStream | undefined {
    if (this.isClosed) return undefined;
    if (options.droppable && this.socket.writableLength > this.options.outputBacklogBytesMax) {
      this.counters.eventsDropped++;
      return undefined;
    }
    if (options.stream) {
      const stream = this.createStream();
      this.write({ t: 'evt', e: name, d: data, s: stream.handle });
      return stream;
    }
    this.write({ t: 'evt', e: name, d: data });
    return undefined;
  }

  /** Closes the connection. With an error, the peer is told why first (`bye`). */
  close(error?: Error): void {
    if (error) this.fail(error);
    else {
      if (this.isClosed) return;
      this.socket.end();
      this.finish(undefined);
    }
  }

  /** Opens a stream on our side's handle space (throws at the stream limit). */
  private createStream(held = false): IpcStream {
    if (this.streams.size >= this.options.streamsMax)
      throw new IpcStreamLimitError(
        `${this.streams.size} streams already open on this control connection (the bound)`,
      );
    const handle = this.nextHandle;
    this.nextHandle += 2;
    return this.registerStream(handle, held);
  }

  private registerStream(handle: number, held = false): IpcStream {
    const stream = new IpcStream(this.streamHost, handle, {
      sendWindowBytes: this.peer?.window ?? 0,
      receiveWindowBytes: this.options.streamWindowBytes,
      held,
      resetError: this.options.resetError,
    });
    this.streams.set(handle, stream);
    return stream;
  }

  private write(message: Message): void {
    if (this.isClosed) return;
    let frame: Buffer;
    try {
      frame = encodeFrame(message, this.options.frameBytesMax);
    } catch (err) {
      if (message.t === 'res' && err instanceof IpcFrameTooLargeError) {
        this.write({ t: 'res', id: message.id, ok: false, e: errorPayload(err) });
        return;
      }
      throw err;
    }
    this.counters.framesSent++;
    this.counters.bytesSent += frame.length;
    this.socket.write(frame);
    if (this.socket.writableLength > this.options.outputBacklogHardBytesMax) {
      this.finish(
        new IpcSlowConsumerError(
          `the other side is not reading: ${this.socket.writableLength} bytes queued for it (limit ${this.options.outputBacklogHardBytesMax})`,
        ),
      );
      this.socket.destroy();
    }
  }

  private onData(chunk: Buffer): void {
    if (this.isClosed) return;
    this.counters.bytesReceived += chunk.length;
    this.decoder.append(chunk);
    // Frames are handled in wire order, so a bad header after good frames fails only after
    // them. Each turn consumes one frame of the bytes received: the loop ends with them.
    while (!this.isClosed) {
      let body: Buffer | undefined;
      try {
        body = this.decoder.next();
        if (!body) return;
        this.counters.framesReceived++;
        this.dispatch(parseMessage(decodeBody(body)));
      } catch (err) {
        this.fail(err as Error);
        return;
      }
    }
  }

  private onEnd(): void {
    if (this.isClosed) return;
    if (this.decoder.bufferedBytes > 0)
      this.finish(
        new IpcTruncatedError(
          `the other side closed the connection in the middle of a frame (${this.decoder.bufferedBytes} bytes of it received)`,
        ),
      );
    else this.finish(new IpcClosedError('the other side closed the control connection'));
    this.socket.end();
  }

  private dispatch(message: Message): void {
    if (message.t === 'hello') return this.onHello(message);
    if (!this.peer)
      throw new IpcProtocolError(`"${message.t}" message before hello: not a Braid control client`);
    switch (message.t) {
      case 'req':
        return this.onRequest(message.id, message.m, message.p);
      case 'res':
        return this.onResponse(message);
      case 'cancel':
        this.serving.get(message.id)?.abort(new IpcAbortedError('request cancelled by the client'));
        return;
      case 'evt':
        return this.onEvent(message.e, message.d, message.s);
      case 'data':
        return this.stream(message.s)?.onData(message.b);
      case 'credit':
        return this.stream(message.s)?.onCredit(message.n);
      case 'end':
        return this.stream(message.s)?.onEnd();
      case 'reset':
        return this.stream(message.s)?.onReset(message.e);
      case 'bye': {
        const err = new IpcRemoteError(message.e.code, message.e.message);
        this.finish(err);
        this.socket.end();
        return;
      }
    }
  }

  private stream(handle: number): IpcStream | undefined {
    const s = this.streams.get(handle);
    if (!s) this.counters.staleStreamMessages++;
    return s;
  }

  private onHello(hello: HelloMessage): void {
    if (this.peer) throw new IpcProtocolError('a second hello');
    clearTimeout(this.helloTimer);
    const ours = this.options.protocolVersion;
    if (hello.v !== ours) {
      const theirs =
        typeof hello.sw === 'string' && hello.sw.length > 0 && hello.sw.length < 200
          ? hello.sw
          : this.options.role === 'client'
            ? 'the daemon'
            : 'the client';
      const err = new IpcVersionError(
        `${theirs} speaks control protocol version ${hello.v} but ${this.options.software} speaks version ${ours}: run the same Braid version on both sides`,
      );
      this.fail(err);
      return;
    }
    this.peer = checkHello(hello);
    this.resolveReady(this.peer);
  }

  private onRequest(id: number, method: string, rawParams: unknown): void {
    if (this.options.role !== 'server')
      throw new IpcProtocolError('the daemon sent a request to a client');
    const answerError = (err: unknown) => {
      this.serving.delete(id);
      this.write({ t: 'res', id, ok: false, e: errorPayload(err) });
    };
    if (this.serving.has(id)) throw new IpcProtocolError(`request id ${id} reused while in flight`);
    if (this.serving.size >= this.options.pendingRequestsMax)
      return answerError(
        new IpcBusyError(`${this.serving.size} requests already in flight (the bound)`),
      );
    const spec = Object.hasOwn(this.options.spec.methods, method)
      ? this.options.spec.methods[method]
      : undefined;
    const handler = spec
      ? (this.options.handlers as Record<string, unknown> | undefined)?.[method]
      : undefined;
    if (!spec || typeof handler !== 'function')
      return answerError(new IpcUnknownMethodError(`unknown method "${method}"`));
    const parsed = spec.params.safeParse(rawParams);
    if (!parsed.success)
      return answerError(
        new IpcInvalidMessageError(`${method}: invalid parameters: ${formatIssues(parsed.error)}`),
      );
    const controller = new AbortController();
    this.serving.set(id, controller);
    let attached: IpcStream | undefined;
    const context: RequestContext = {
      signal: controller.signal,
      attachStream: () => {
        if (attached) throw new IpcProtocolError('one stream per response');
        attached = this.createStream(true);
        return attached;
      },
    };
    const fail = (err: unknown) => {
      attached?.destroy();
      if (controller.signal.aborted) {
        this.serving.delete(id);
        return;
      }
      answerError(err);
    };
    let pending: unknown;
    try {
      pending = (handler as (p: unknown, c: RequestContext) => unknown)(parsed.data, context);
    } catch (err) {
      return fail(err);
    }
    Promise.resolve(pending).then((result) => {
      if (controller.signal.aborted || this.isClosed) {
        attached?.destroy();
        this.serving.delete(id);
        return;
      }
      this.serving.delete(id);
      this.write(
        attached
          ? { t: 'res', id, ok: true, r: result ?? null, s: attached.handle }
          : { t: 'res', id, ok: true, r: result ?? null },
      );
      attached?.release();
    }, fail);
  }

  private onResponse(message: Extract<Message, { t: 'res' }>): void {
    if (this.options.role !== 'client') throw new IpcProtocolError('a client sent a response');
    const stream = message.ok && message.s !== undefined ? this.acceptStream(message.s) : undefined;
    const pending = this.pending.get(message.id);
    if (!pending) {
      // The request was cancelled (its `cancel` crossed this response on the wire).
      this.counters.staleResponses++;
      stream?.destroy();
      return;
    }
    this.pending.delete(message.id);
    pending.cleanup();
    if (!message.ok) {
      pending.reject(new IpcRemoteError(message.e.code, message.e.message));
      return;
    }
    const spec = this.options.spec.methods[pending.method]!;
    const parsed = spec.result.safeParse(message.r);
    if (!parsed.success) {
      stream?.destroy();
      pending.reject(
        new IpcInvalidMessageError(
          `${pending.method}: invalid result from the other side: ${formatIssues(parsed.error)}`,
        ),
      );
      return;
    }
    pending.resolve({ result: parsed.data, stream });
  }

  private onEvent(name: string, data: unknown, handle: number | undefined): void {
    if (this.options.role !== 'client') throw new IpcProtocolError('a client sent an event');
    const stream = handle !== undefined ? this.acceptStream(handle) : undefined;
    const schema = Object.hasOwn(this.options.spec.events, name)
      ? this.options.spec.events[name]
      : undefined;
    if (!schema) {
      stream?.destroy();
      this.emit('warning', new IpcInvalidMessageError(`unknown event "${name}"`));
      return;
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      stream?.destroy();
      this.emit(
        'warning',
        new IpcInvalidMessageError(`event ${name}: invalid body: ${formatIssues(parsed.error)}`),
      );
      return;
    }
    if (this.options.onEvent) this.options.onEvent(name as EventName<S>, parsed.data, stream);
    else stream?.destroy();
  }

  /** A stream the peer opened: its handle must be of the peer's parity and new. */
  private acceptStream(handle: number): IpcStream {
    const peerParity = this.options.role === 'server' ? 0 : 1;
    if (handle % 2 !== peerParity || this.streams.has(handle))
      throw new IpcProtocolError(`stream handle ${handle} is not a new handle of the other side`);
    if (this.streams.size >= this.options.streamsMax)
      throw new IpcStreamLimitError(
        `the other side opened more than ${this.options.streamsMax} streams`,
      );
    const stream = this.registerStream(handle);
    this.options.onStreamAccepted?.(stream);
    return stream;
  }

  /** Closes because of an error: tells the peer why (best effort), then closes. */
  private fail(error: Error): void {
    if (this.isClosed) return;
    this.write({ t: 'bye', e: errorPayload(error) });
    this.finish(error);
    this.socket.end();
    this.lingerTimer = setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS);
    this.lingerTimer.unref();
  }

  private finish(error: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeError = error;
    clearTimeout(this.helloTimer);
    this.rejectReady(error ?? new IpcClosedError('the control connection was closed'));
    const pendingError = this.closedError();
    for (const p of this.pending.values()) {
      p.cleanup();
      p.reject(pendingError);
    }
    this.pending.clear();
    for (const c of this.serving.values()) c.abort(pendingError);
    this.serving.clear();
    // Closed by us (close() without an error): streams just close, as a destroyed socket's do.
    for (const s of [...this.streams.values()]) s.onConnectionClosed(error && pendingError);
    this.streams.clear();
    this.socket.once('close', () => clearTimeout(this.lingerTimer));
    this.resolveClosed(error);
    this.emit('close', error);
  }

  private closedError(): Error {
    const cause = this.closeError;
    if (cause instanceof IpcClosedError) return cause;
    return new IpcClosedError(
      cause ? `control connection closed: ${cause.message}` : 'the control connection is closed',
      { cause },
    );
  }
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return new IpcAbortedError(
    reason instanceof Error && reason.name !== 'AbortError' ? reason.message : 'aborted',
    { cause: reason },
  );
}
