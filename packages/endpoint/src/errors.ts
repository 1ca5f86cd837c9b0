/**
 * API errors of the runtime (STYLE §5): one class per condition, each with a `name` and a
 * Node-style `code`; callers match on `code`. The SDK's daemon client raises the same codes, so
 * an application handles both modes alike. Errors of the protocol core (`ERR_BRAID_EID_INVALID`,
 * `ERR_BRAID_HANDSHAKE_TIMEOUT`, `ERR_BRAID_SESSION_CLOSED`, …) come from `@braid/protocol`.
 */
import { defineError } from '@braid/protocol';

/** A local locator could not be bound because another socket holds it. */
export class AddressInUseError extends defineError(
  'AddressInUseError',
  'ERR_BRAID_ADDRESS_IN_USE',
) {
  constructor(
    readonly locator: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot bind ${locator}: the address and port are already in use`, options);
  }
}

/** A local locator could not be bound for another reason (no such address, permission…). */
export class BindError extends defineError('BindError', 'ERR_BRAID_BIND_FAILED') {}

/** A locator is not `host:port` / `[v6]:port` with an IP literal and a port in 0..65535. */
export class LocatorError extends defineError('LocatorError', 'ERR_BRAID_LOCATOR_INVALID') {}

/** `openSession` to an EID for which no locator is known (add it with `addPeer`). */
export class PeerUnknownError extends defineError('PeerUnknownError', 'ERR_BRAID_PEER_UNKNOWN') {}

/** No local socket can reach any of the peer's locators (e.g. only IPv6 locators, no IPv6 socket). */
export class NoRouteError extends defineError('NoRouteError', 'ERR_BRAID_NO_ROUTE') {}

/** The operation was abandoned because its `AbortSignal` fired; `cause` is the signal's reason. */
export class AbortedError extends defineError('AbortError', 'ERR_BRAID_ABORTED') {}

/** The endpoint is closed (or closing): no new sessions, streams or listeners. */
export class EndpointClosedError extends defineError(
  'EndpointClosedError',
  'ERR_BRAID_ENDPOINT_CLOSED',
) {}

/** A service name outside {@link SERVICE_NAME_PATTERN} (1–64 bytes of `[A-Za-z0-9._-]`). */
export class ServiceNameError extends defineError(
  'ServiceNameError',
  'ERR_BRAID_SERVICE_INVALID',
) {}

/** `listen` on a service name that already has a listener on this endpoint. */
export class ServiceInUseError extends defineError(
  'ServiceInUseError',
  'ERR_BRAID_SERVICE_IN_USE',
) {}

/** The peer has no listener for the service the stream asked for. */
export class ServiceUnknownError extends defineError(
  'ServiceUnknownError',
  'ERR_BRAID_SERVICE_UNKNOWN',
) {}

/** The peer's listener refused the stream (its backlog is full, or it is closing). */
export class ServiceRefusedError extends defineError(
  'ServiceRefusedError',
  'ERR_BRAID_SERVICE_REFUSED',
) {}

/** The peer abandoned its sending half of a stream; `resetCode` is its application code. */
export class StreamResetError extends defineError('StreamResetError', 'ERR_BRAID_STREAM_RESET') {
  constructor(
    readonly resetCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** The peer asked us to stop sending on a stream (STOP_SENDING); `resetCode` is its code. */
export class StreamStoppedError extends defineError(
  'StreamStoppedError',
  'ERR_BRAID_STREAM_STOPPED',
) {
  constructor(
    readonly resetCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** `crypto: 'sodium-native'` was asked for but the addon did not load. */
export class CryptoUnavailableError extends defineError(
  'CryptoUnavailableError',
  'ERR_BRAID_CRYPTO_UNAVAILABLE',
) {}

/** A bounded table (peer directory, sockets, waiters) is full. */
export class LimitError extends defineError('LimitError', 'ERR_BRAID_LIMIT') {}
