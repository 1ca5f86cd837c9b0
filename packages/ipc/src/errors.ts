/**
 * Errors of the control-socket protocol (STYLE §5): one class per condition, each with a `name`
 * and a Node-style `code`; callers match on `code`.
 */

/** Base of every IPC error. */
export abstract class IpcError extends Error {
  abstract readonly code: string;
}

function defineError<C extends string>(name: string, code: C) {
  const cls = class extends IpcError {
    readonly code: C = code;
    constructor(message: string, options?: { cause?: unknown }) {
      super(message, options);
      this.name = name;
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

/** A frame announced a body longer than the connection's `frameBytesMax` (or empty). */
export class IpcFrameTooLargeError extends defineError(
  'IpcFrameTooLargeError',
  'ERR_BRAID_IPC_FRAME_TOO_LARGE',
) {}
/** A frame body that is not msgpack, or a message whose envelope is not one of the protocol's. */
export class IpcMalformedError extends defineError(
  'IpcMalformedError',
  'ERR_BRAID_IPC_MALFORMED',
) {}
/** The two sides speak different protocol versions; the message names both. */
export class IpcVersionError extends defineError('IpcVersionError', 'ERR_BRAID_IPC_VERSION') {}
/** The connection ended in the middle of a frame. */
export class IpcTruncatedError extends defineError(
  'IpcTruncatedError',
  'ERR_BRAID_IPC_TRUNCATED',
) {}
/** The connection is closed: pending requests and open streams end with this. */
export class IpcClosedError extends defineError('IpcClosedError', 'ERR_BRAID_IPC_CLOSED') {}
/** The peer did not send its hello within `helloTimeoutMs`. */
export class IpcHelloTimeoutError extends defineError(
  'IpcHelloTimeoutError',
  'ERR_BRAID_IPC_HELLO_TIMEOUT',
) {}
/** The peer sent stream data beyond the credit it was granted. */
export class IpcCreditError extends defineError('IpcCreditError', 'ERR_BRAID_IPC_CREDIT') {}
/** A message that is well formed but breaks the protocol (an unknown request id, …). */
export class IpcProtocolError extends defineError('IpcProtocolError', 'ERR_BRAID_IPC_PROTOCOL') {}
/** A request names a method the other side does not have. */
export class IpcUnknownMethodError extends defineError(
  'IpcUnknownMethodError',
  'ERR_BRAID_IPC_UNKNOWN_METHOD',
) {}
/** Request parameters, a result or an event body failed its schema; the message says where. */
export class IpcInvalidMessageError extends defineError(
  'IpcInvalidMessageError',
  'ERR_BRAID_IPC_INVALID_MESSAGE',
) {}
/** Too many requests in flight on one connection (`pendingRequestsMax`). */
export class IpcBusyError extends defineError('IpcBusyError', 'ERR_BRAID_IPC_BUSY') {}
/** Too many streams open on one connection (`streamsMax`). */
export class IpcStreamLimitError extends defineError(
  'IpcStreamLimitError',
  'ERR_BRAID_IPC_STREAM_LIMIT',
) {}
/** The other side reset the stream; `remoteCode` and the message say why. */
export class IpcStreamResetError extends defineError(
  'IpcStreamResetError',
  'ERR_BRAID_IPC_STREAM_RESET',
) {
  remoteCode = '';
}
/** The peer stopped reading and its output backlog passed `outputBacklogHardBytesMax`. */
export class IpcSlowConsumerError extends defineError(
  'IpcSlowConsumerError',
  'ERR_BRAID_IPC_SLOW_CONSUMER',
) {}
/** The wait was aborted through its `AbortSignal`. */
export class IpcAbortedError extends defineError('IpcAbortedError', 'ERR_BRAID_ABORTED') {}

/**
 * An error the other side returned for a request. It keeps that side's `code` (for instance
 * `ERR_BRAID_SERVICE_UNKNOWN`), so callers match on it as if the call had been local.
 */
export class IpcRemoteError extends IpcError {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'IpcRemoteError';
    this.code = code;
  }
}

/** The `{ code, message }` of any error, for sending it across. */
export function errorPayload(err: unknown): { code: string; message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      code: typeof code === 'string' && code.length > 0 ? code : 'ERR_BRAID_INTERNAL',
      message: err.message,
    };
  }
  return { code: 'ERR_BRAID_INTERNAL', message: String(err) };
}
