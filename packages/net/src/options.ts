/**
 * Argument checks shared by `Socket` and `Server` (thrown synchronously, as `node:net` throws
 * for a bad port) and the module's default client.
 */
import { Eid } from '@braid/protocol';
import { SERVICE_NAME_PATTERN, type BraidClient } from '@braid/sdk';
import {
  InvalidArgTypeError,
  InvalidArgValueError,
  MissingArgsError,
  noClientError,
} from './errors.js';

let defaultClient: BraidClient | undefined;

/**
 * Sets the client that sockets and servers use when their options name none (`undefined`
 * clears it). Handy when the program has one client, e.g. `http.request({ createConnection })`
 * with the module's own `createConnection`.
 */
export function setDefaultClient(client: BraidClient | undefined): void {
  defaultClient = client;
}

/** The client set by {@link setDefaultClient}, if any. */
export function getDefaultClient(): BraidClient | undefined {
  return defaultClient;
}

/** The given client, else the default one; throws `ERR_MISSING_ARGS` when there is neither. */
export function clientOf(client: BraidClient | undefined): BraidClient {
  const c = client ?? defaultClient;
  if (!c) throw noClientError();
  return c;
}

/** Checks a service name: 1–64 characters of `[A-Za-z0-9._-]`, else `ERR_INVALID_ARG_VALUE`. */
export function checkService(service: unknown, name = 'options.service'): string {
  if (service === undefined || service === null)
    throw new MissingArgsError(`The "${name}" argument must be specified`);
  if (typeof service !== 'string')
    throw new InvalidArgTypeError(
      `The "${name}" argument must be of type string. Received ${typeof service}`,
    );
  if (!SERVICE_NAME_PATTERN.test(service))
    throw new InvalidArgValueError(
      `The argument '${name}' is invalid. Received ${JSON.stringify(service)}: a service name is 1–64 characters of A–Z, a–z, 0–9, ".", "_", "-"`,
      'ERR_BRAID_SERVICE_INVALID',
    );
  return service;
}

/** Checks and canonicalizes a peer's EID (`braid1…`), else `ERR_INVALID_ARG_VALUE`. */
export function checkPeer(peer: unknown, name = 'options.peer'): string {
  if (peer === undefined || peer === null || peer === '')
    throw new MissingArgsError(
      `The "${name}" argument must be specified (the peer's EID, braid1…)`,
    );
  if (typeof peer !== 'string')
    throw new InvalidArgTypeError(
      `The "${name}" argument must be of type string. Received ${typeof peer}`,
    );
  try {
    return Eid.parse(peer).toString();
  } catch (err) {
    throw new InvalidArgValueError(
      `The argument '${name}' is invalid. Received ${JSON.stringify(peer)}: ${(err as Error).message}`,
      (err as { code?: string }).code ?? 'ERR_BRAID_EID_INVALID',
      { cause: err },
    );
  }
}

/** Checks a non-negative finite number option (milliseconds, bytes). */
export function checkNonNegative(value: unknown, name: string): number {
  if (typeof value !== 'number')
    throw new InvalidArgTypeError(
      `The "${name}" argument must be of type number. Received ${typeof value}`,
    );
  if (!Number.isFinite(value) || value < 0)
    throw new InvalidArgValueError(
      `The argument '${name}' must be a non-negative finite number. Received ${value}`,
    );
  return value;
}
