/**
 * Errors at the edge (STYLE §5): Braid's API errors (`ERR_BRAID_…`) become the system errors a
 * Node program already handles (`ECONNREFUSED`, `ETIMEDOUT`, `ECONNRESET`, …), shaped like
 * Node's own (`code`, `errno`, `syscall`), with Braid's code kept as `braidCode` and the original
 * error as `cause`. Bad arguments throw synchronously, as `node:net` does, with Node's codes
 * (`ERR_INVALID_ARG_VALUE`, `ERR_MISSING_ARGS`, …).
 *
 * The mapping, by phase (`syscall`): see {@link nodeCodeFor} and the table in the README.
 */
import { constants } from 'node:os';
import { defineError } from '@braid/protocol';

/** What was being done when the error came: Node's `syscall` field. */
export type Syscall = 'connect' | 'read' | 'write' | 'listen';

/** How a session ended, as its `closed` event said (when the socket saw it). */
export interface CloseInfo {
  code: number;
  reason: string;
  byPeer: boolean;
}

/** `CloseCode.IDLE_TIMEOUT` of `@braid/protocol`: nothing was heard from the peer for too long. */
const CLOSE_IDLE_TIMEOUT = 0x0d;

/** Braid codes with one meaning whatever the phase. */
const FIXED: Readonly<Record<string, string>> = {
  ERR_BRAID_SERVICE_UNKNOWN: 'ECONNREFUSED',
  ERR_BRAID_SERVICE_REFUSED: 'ECONNREFUSED',
  ERR_BRAID_PEER_MISMATCH: 'ECONNREFUSED',
  ERR_BRAID_HANDSHAKE_TIMEOUT: 'ETIMEDOUT',
  ERR_BRAID_PEER_UNKNOWN: 'ENOTFOUND',
  ERR_BRAID_NO_ROUTE: 'EHOSTUNREACH',
  ERR_BRAID_SERVICE_IN_USE: 'EADDRINUSE',
  ERR_BRAID_ENDPOINT_CLOSED: 'ENETDOWN',
  ERR_BRAID_DAEMON_NOT_RUNNING: 'ENETDOWN',
  ERR_BRAID_STREAM_STOPPED: 'EPIPE',
  ERR_BRAID_BACKPRESSURE: 'ENOBUFS',
  ERR_BRAID_CONNECT_BUFFER_FULL: 'ENOBUFS',
  ERR_BRAID_LIMIT: 'EMFILE',
  ERR_BRAID_IPC_STREAM_LIMIT: 'EMFILE',
  ERR_BRAID_NET_STREAM_CLOSED: 'ECONNABORTED',
  // The peer's application reset the stream (the service did accept it; its accept may just not
  // have arrived before the reset): a TCP RST after the handshake, whatever the phase.
  ERR_BRAID_STREAM_RESET: 'ECONNRESET',
};

/** Codes meaning "the connection (session, stream, or the daemon under them) went away". */
const GONE = new Set([
  'ERR_BRAID_SESSION_CLOSED',
  'ERR_BRAID_STREAM_RESET',
  'ERR_BRAID_STREAM_CANCELLED',
  'ERR_BRAID_IPC_STREAM_RESET',
  'ERR_BRAID_DAEMON_CONNECTION_LOST',
  'ERR_BRAID_IPC_CLOSED',
]);

/**
 * The Node code for a Braid code in a phase. Connecting: the peer or service refused or failed
 * (`ECONNREFUSED`), nothing answered in time (`ETIMEDOUT`), no locator is known for the peer
 * (`ENOTFOUND`, as for a name that does not resolve), none can be reached from here
 * (`EHOSTUNREACH`), the local client is closed or gone (`ENETDOWN`). Reading and writing: the
 * stream or session went away (`ECONNRESET`; `ETIMEDOUT` when the session died of its idle
 * timeout), the peer stopped reading (`EPIPE`), the stream was closed under the socket by this
 * side's client (`ECONNABORTED`: the application closed its client, say). Listening: the
 * service is taken (`EADDRINUSE`).
 * Anything else: `ECONNREFUSED` while connecting, `ECONNRESET` after, and its own code (or
 * `ENETDOWN` when it says the client is gone) while listening.
 */
export function nodeCodeFor(
  braidCode: string | undefined,
  syscall: Syscall,
  closeInfo?: CloseInfo,
): string {
  if (braidCode !== undefined) {
    const fixed = FIXED[braidCode];
    if (fixed) return fixed;
  }
  if (syscall === 'connect') {
    if (braidCode === 'ERR_BRAID_DAEMON_CONNECTION_LOST' || braidCode === 'ERR_BRAID_IPC_CLOSED')
      return 'ENETDOWN';
    return 'ECONNREFUSED';
  }
  if (syscall === 'listen') {
    if (braidCode !== undefined && GONE.has(braidCode)) return 'ENETDOWN';
    return braidCode ?? 'ENETDOWN';
  }
  if (braidCode === 'ERR_BRAID_SESSION_CLOSED' && closeInfo?.code === CLOSE_IDLE_TIMEOUT)
    return 'ETIMEDOUT';
  return 'ECONNRESET';
}

/** libuv's errno for a code, negative as Node reports it (`-111` for ECONNREFUSED on Linux). */
function errnoOf(code: string): number | undefined {
  const n = (constants.errno as Record<string, number | undefined>)[code];
  return n === undefined ? undefined : -n;
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A socket or server error as Node reports system errors (`connect ECONNREFUSED …`), plus what
 * Braid said: `braidCode` and `cause`.
 */
export class BraidNetError extends Error {
  readonly code: string;
  readonly errno: number | undefined;
  readonly syscall: Syscall;
  /** The peer's EID (`address` of Node's connect errors; `hostname` of `ENOTFOUND`). */
  readonly address: string | undefined;
  readonly hostname: string | undefined;
  readonly service: string | undefined;
  /** Braid's own code (`ERR_BRAID_…`), when the cause had one. */
  readonly braidCode: string | undefined;

  constructor(
    code: string,
    syscall: Syscall,
    detail: string,
    fields: { peer?: string; service?: string; braidCode?: string; cause?: unknown },
  ) {
    const where = [fields.peer, fields.service].filter((x) => x).join(' service ');
    super(`${syscall} ${code}${where ? ` ${where}` : ''}: ${detail}`, { cause: fields.cause });
    this.name = 'BraidNetError';
    this.code = code;
    this.errno = errnoOf(code);
    this.syscall = syscall;
    this.address = fields.peer;
    this.hostname = code === 'ENOTFOUND' ? fields.peer : undefined;
    this.service = fields.service;
    this.braidCode = fields.braidCode;
  }
}

/** Turns what Braid (or the daemon) raised into the {@link BraidNetError} a socket emits. */
export function toNodeError(
  err: unknown,
  syscall: Syscall,
  context: { peer?: string | undefined; service?: string | undefined; closeInfo?: CloseInfo } = {},
): BraidNetError {
  if (err instanceof BraidNetError) return err;
  const braidCode = codeOf(err);
  const braid = braidCode?.startsWith('ERR_BRAID_') ? braidCode : undefined;
  const code = nodeCodeFor(braid, syscall, context.closeInfo);
  const detail = err instanceof Error ? err.message : String(err);
  return new BraidNetError(code, syscall, braid ? `${detail} (${braid})` : detail, {
    ...(context.peer !== undefined && { peer: context.peer }),
    ...(context.service !== undefined && { service: context.service }),
    ...(braid !== undefined && { braidCode: braid }),
    cause: err,
  });
}

/** A bad argument value (Node's `ERR_INVALID_ARG_VALUE`); `braidCode` says which Braid rule. */
export class InvalidArgValueError extends TypeError {
  readonly code = 'ERR_INVALID_ARG_VALUE';
  constructor(
    message: string,
    readonly braidCode?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TypeError';
  }
}

/** A required argument is missing (Node's `ERR_MISSING_ARGS`). */
export class MissingArgsError extends TypeError {
  readonly code = 'ERR_MISSING_ARGS';
  constructor(message: string) {
    super(message);
    this.name = 'TypeError';
  }
}

/** An argument of the wrong type (Node's `ERR_INVALID_ARG_TYPE`). */
export class InvalidArgTypeError extends TypeError {
  readonly code = 'ERR_INVALID_ARG_TYPE';
  constructor(message: string) {
    super(message);
    this.name = 'TypeError';
  }
}

/** `connect()` on a socket already connecting (Node's `ERR_SOCKET_CONNECTING`). */
export class SocketConnectingError extends Error {
  readonly code = 'ERR_SOCKET_CONNECTING';
  constructor() {
    super('Socket is already connecting');
    this.name = 'Error';
  }
}

/** `connect()` on a socket that is connected or was destroyed (Node's `ERR_SOCKET_CLOSED`). */
export class SocketClosedError extends Error {
  readonly code = 'ERR_SOCKET_CLOSED';
  constructor(message = 'Socket is closed') {
    super(message);
    this.name = 'Error';
  }
}

/** `listen()` on a server already listening (Node's `ERR_SERVER_ALREADY_LISTEN`). */
export class ServerAlreadyListenError extends Error {
  readonly code = 'ERR_SERVER_ALREADY_LISTEN';
  constructor() {
    super('Listen method has been called more than once without closing.');
    this.name = 'Error';
  }
}

/** `close()` on a server that is not listening (Node's `ERR_SERVER_NOT_RUNNING`). */
export class ServerNotRunningError extends Error {
  readonly code = 'ERR_SERVER_NOT_RUNNING';
  constructor() {
    super('Server is not running.');
    this.name = 'Error';
  }
}

/** The socket's `signal` fired (Node's `AbortError`, code `ABORT_ERR`). */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(options?: { cause?: unknown }) {
    super('The operation was aborted', options);
    this.name = 'AbortError';
  }
}

/**
 * More than `connectBufferBytesMax` bytes were written before the socket connected. Emitted
 * as `ENOBUFS` with this as `braidCode`; the socket is destroyed (a byte stream cannot skip a
 * write), so no data is dropped silently.
 */
export class ConnectBufferFullError extends defineError(
  'ConnectBufferFullError',
  'ERR_BRAID_CONNECT_BUFFER_FULL',
) {}

/** The stream under a socket closed before both directions finished, with no error of its own. */
export class StreamClosedError extends defineError(
  'StreamClosedError',
  'ERR_BRAID_NET_STREAM_CLOSED',
) {}

/** No `BraidClient`: none passed and no default set. */
export function noClientError(): MissingArgsError {
  return new MissingArgsError(
    'no Braid client: pass { client } (from @braid/sdk connect() or embedded()) or call setDefaultClient(client)',
  );
}
