/**
 * The service header (docs/protocol.md §15): what a stream opened with `openStream(service)`
 * starts with, so the accepting side can hand it to the listener of that service, and the
 * reply that tells the opener it was accepted. Refusals are stream resets with the codes of
 * {@link StreamCode}.
 *
 *   request (opener → acceptor):  version (1 byte) ‖ name length n (1 byte) ‖ name (n bytes)
 *   accept  (acceptor → opener):  version (1 byte) ‖ status 0 (1 byte)
 */
import { SERVICE_NAME_PATTERN } from './api.js';
import { ServiceNameError } from './errors.js';

export const SERVICE_HEADER_VERSION = 1;
/** Longest service name, in bytes (and so the longest request header, 2 + 64). */
export const SERVICE_NAME_BYTES_MAX = 64;
export const SERVICE_REQUEST_BYTES_MAX = 2 + SERVICE_NAME_BYTES_MAX;
export const SERVICE_ACCEPT_BYTES = 2;
/** Status byte of an accept; any other value is a malformed header. */
export const SERVICE_ACCEPTED = 0;

/**
 * Application codes of RESET_STREAM / STOP_SENDING used by the runtime. 0x100–0x1ff are the
 * service layer's; applications may use their own codes from 0x1000 up (`resetCode` on the
 * error passed to `destroy`).
 */
export const StreamCode = {
  /** The application destroyed the stream without an error of its own. */
  CANCELLED: 0x00,
  /** The application destroyed the stream with an error that carried no code. */
  APPLICATION_ERROR: 0x01,
  /** No listener is registered for the service named in the header. */
  SERVICE_UNKNOWN: 0x101,
  /** The listener refused the stream (backlog full, closing). */
  SERVICE_REFUSED: 0x102,
  /** The header was malformed, of an unknown version, or ended before it was complete. */
  SERVICE_HEADER_INVALID: 0x103,
  /** The opener gave up waiting for the accept (abort signal). */
  SERVICE_ABANDONED: 0x104,
} as const;
export type StreamCode = (typeof StreamCode)[keyof typeof StreamCode];

/** Throws {@link ServiceNameError} unless `service` matches {@link SERVICE_NAME_PATTERN}. */
export function checkServiceName(service: string): void {
  if (typeof service !== 'string' || !SERVICE_NAME_PATTERN.test(service))
    throw new ServiceNameError(
      `service name ${JSON.stringify(service)} is not 1–64 characters of A–Z, a–z, 0–9, ".", "_", "-"`,
    );
}

export function encodeServiceRequest(service: string): Uint8Array {
  checkServiceName(service);
  const out = new Uint8Array(2 + service.length);
  out[0] = SERVICE_HEADER_VERSION;
  out[1] = service.length;
  // The pattern admits ASCII only, so one character is one byte.
  for (let i = 0; i < service.length; i++) out[2 + i] = service.charCodeAt(i);
  return out;
}

export function encodeServiceAccept(): Uint8Array {
  return Uint8Array.of(SERVICE_HEADER_VERSION, SERVICE_ACCEPTED);
}

export type HeaderProgress =
  /** `need` more bytes are wanted before anything can be decided. */
  | { state: 'partial'; need: number }
  | { state: 'done'; service: string }
  | { state: 'invalid'; reason: string };

/**
 * Reassembles a request header from the bytes read so far (at most
 * {@link SERVICE_REQUEST_BYTES_MAX}; the caller reads no more than `need`, so stream data after
 * the header stays unread).
 */
export function parseServiceRequest(bytes: Uint8Array): HeaderProgress {
  if (bytes.length < 2) return { state: 'partial', need: 2 - bytes.length };
  if (bytes[0] !== SERVICE_HEADER_VERSION)
    return { state: 'invalid', reason: `service header version ${bytes[0]} is not supported` };
  const n = bytes[1]!;
  if (n === 0 || n > SERVICE_NAME_BYTES_MAX)
    return { state: 'invalid', reason: `service name length ${n} is not in 1..64` };
  if (bytes.length < 2 + n) return { state: 'partial', need: 2 + n - bytes.length };
  let service = '';
  for (let i = 0; i < n; i++) service += String.fromCharCode(bytes[2 + i]!);
  if (!SERVICE_NAME_PATTERN.test(service))
    return { state: 'invalid', reason: 'service name has characters outside [A-Za-z0-9._-]' };
  return { state: 'done', service };
}

/** Checks an accept reply of {@link SERVICE_ACCEPT_BYTES} bytes. */
export function parseServiceAccept(bytes: Uint8Array): HeaderProgress {
  if (bytes.length < SERVICE_ACCEPT_BYTES)
    return { state: 'partial', need: SERVICE_ACCEPT_BYTES - bytes.length };
  if (bytes[0] !== SERVICE_HEADER_VERSION)
    return { state: 'invalid', reason: `accept version ${bytes[0]} is not supported` };
  if (bytes[1] !== SERVICE_ACCEPTED)
    return { state: 'invalid', reason: `accept status ${bytes[1]} is not defined` };
  return { state: 'done', service: '' };
}
