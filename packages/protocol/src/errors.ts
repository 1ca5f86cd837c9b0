/**
 * Braid's two error families (STYLE §5).
 *
 * - API errors: one class per condition, each with a `name` and a Node-style `code`
 *   (`ERR_BRAID_…`). Callers match on `code`, never on `instanceof`.
 * - Protocol errors: carry a wire close code ({@link CloseCode}) and a reason, and close the
 *   session they happen in.
 *
 * Received datagrams that fail a check are not errors for the caller: they are dropped, counted
 * under a {@link RejectReason}, and reported as an event; they never disturb a session.
 */

/** Close codes carried in CONNECTION_CLOSE frames (docs/protocol.md §Close codes). */
export const CloseCode = {
  NO_ERROR: 0x00,
  INTERNAL_ERROR: 0x01,
  PROTOCOL_VIOLATION: 0x02,
  FRAME_ENCODING_ERROR: 0x03,
  HANDSHAKE_FAILED: 0x04,
  PEER_REFUSED: 0x05,
  PEER_IDENTITY_MISMATCH: 0x06,
  FLOW_CONTROL_ERROR: 0x07,
  STREAM_LIMIT_ERROR: 0x08,
  FINAL_SIZE_ERROR: 0x09,
  KEY_UPDATE_ERROR: 0x0a,
  AEAD_LIMIT_REACHED: 0x0b,
  /** A frame for a stream in a state that cannot take it (e.g. ours, never opened). */
  STREAM_STATE_ERROR: 0x0c,
  /** Nothing was received for the idle timeout; never sent, reported locally. */
  IDLE_TIMEOUT: 0x0d,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export function closeCodeName(code: number): string {
  for (const [name, value] of Object.entries(CloseCode)) if (value === code) return name;
  return `UNKNOWN_0x${code.toString(16)}`;
}

/** Why a received datagram was dropped. Every drop is counted under exactly one reason. */
export type RejectReason =
  /** Too short for its header, or a field out of range. */
  | 'malformed'
  /** Long header with a version this endpoint does not speak. */
  | 'bad_version'
  /** Short header whose destination connection ID routes to no session. */
  | 'unknown_cid'
  /** Handshake packet whose integrity tag (mac) does not verify: corrupted, or not for us. */
  | 'bad_mac'
  /** AEAD open failed: forged, corrupted, or keyed for another session. */
  | 'auth_failed'
  /** Packet number already seen or older than the replay window. */
  | 'replay'
  /** Noise message did not decrypt or parse. */
  | 'handshake_failed'
  /** The peer offered a low-order (small-subgroup) X25519 point. */
  | 'low_order_point'
  /** The peer's static key does not hash to the EID we dialled. */
  | 'peer_mismatch'
  /** The accept policy refused this peer. */
  | 'peer_refused'
  /** A handshake packet that does not fit the session's state (late duplicate, wrong role). */
  | 'unexpected'
  /** Too many half-open handshakes; the oldest are kept. */
  | 'handshake_limit'
  /** A retransmitted handshake packet already processed (answered from cache if useful). */
  | 'duplicate'
  /** A short packet for a session without keys yet, beyond the early-packet buffer. */
  | 'no_keys'
  /** The session the packet belongs to is closing or closed. */
  | 'closed'
  /** A packet opened a new path on a session that has no room for one. */
  | 'path_limit';

export const REJECT_REASONS: readonly RejectReason[] = [
  'malformed',
  'bad_version',
  'unknown_cid',
  'bad_mac',
  'auth_failed',
  'replay',
  'handshake_failed',
  'low_order_point',
  'peer_mismatch',
  'peer_refused',
  'unexpected',
  'handshake_limit',
  'duplicate',
  'no_keys',
  'closed',
  'path_limit',
];

/** Base of every API error. */
export abstract class BraidError extends Error {
  abstract readonly code: string;
}

/**
 * A {@link BraidError} class with its `name` and `code` fixed: `class X extends
 * defineError('X', 'ERR_BRAID_X') {}`. The other packages define their errors with it too.
 */
export function defineError<C extends string>(name: string, code: C) {
  const cls = class extends BraidError {
    readonly code: C = code;
    constructor(message: string, options?: { cause?: unknown }) {
      super(message, options);
      this.name = name;
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

/** An EID's text form could not be parsed; `message` says what is wrong and where. */
export class EidParseError extends defineError('EidParseError', 'ERR_BRAID_EID_INVALID') {}
/** A key or other fixed-size input has the wrong length. */
export class InvalidKeyError extends defineError('InvalidKeyError', 'ERR_BRAID_INVALID_KEY') {}
/** X25519 produced the all-zero output: the peer's point is of low order. */
export class LowOrderPointError extends defineError(
  'LowOrderPointError',
  'ERR_BRAID_LOW_ORDER_POINT',
) {}
/** An AEAD open failed (wrong key, forged or corrupted ciphertext). */
export class DecryptError extends defineError('DecryptError', 'ERR_BRAID_DECRYPT_FAILED') {}
/** A Noise protocol name or pattern this implementation does not support. */
export class UnsupportedPatternError extends defineError(
  'UnsupportedPatternError',
  'ERR_BRAID_NOISE_UNSUPPORTED',
) {}
/** A handshake object used out of order, or given a message that does not fit its state. */
export class HandshakeStateError extends defineError(
  'HandshakeStateError',
  'ERR_BRAID_HANDSHAKE_STATE',
) {}
/** A nonce counter reached its limit; the key must not be used again. */
export class NonceExhaustedError extends defineError(
  'NonceExhaustedError',
  'ERR_BRAID_NONCE_EXHAUSTED',
) {}
/** The peer proved a static key whose EID is not the one we asked for. */
export class PeerIdentityMismatchError extends defineError(
  'PeerIdentityMismatchError',
  'ERR_BRAID_PEER_MISMATCH',
) {}
/** The handshake did not complete within its timeout. */
export class HandshakeTimeoutError extends defineError(
  'HandshakeTimeoutError',
  'ERR_BRAID_HANDSHAKE_TIMEOUT',
) {}
/** How a session ended: its close code, the reason text, and which side closed it. */
export interface SessionCloseInfo {
  code: number;
  reason: string;
  byPeer: boolean;
}

/**
 * The session is closed (locally or by the peer), or closing. `close` carries the close code,
 * reason and side once the session has ended (not while it is only closing).
 */
export class SessionClosedError extends defineError(
  'SessionClosedError',
  'ERR_BRAID_SESSION_CLOSED',
) {
  readonly close: SessionCloseInfo | undefined;
  constructor(message: string, options?: { cause?: unknown; close?: SessionCloseInfo }) {
    super(message, options);
    this.close = options?.close;
  }

  /** The error for using session `id` after it ended, with the one message every API gives. */
  static ended(id: string | number, close: SessionCloseInfo): SessionClosedError {
    return new SessionClosedError(
      `session ${id} closed${close.byPeer ? ' by the peer' : ''}: ${SessionClosedError.why(close)}`,
      { close },
    );
  }

  /** A handshake with `peer` ended before the session was established. */
  static handshakeFailed(peer: string, close: SessionCloseInfo): SessionClosedError {
    return new SessionClosedError(
      `handshake with ${peer} failed: ${SessionClosedError.why(close)}`,
      { close },
    );
  }

  /** The close code's name, and the reason text in brackets when there is one. */
  private static why(close: SessionCloseInfo): string {
    return `${closeCodeName(close.code)}${close.reason ? ` (${close.reason})` : ''}`;
  }
}
/** An unreliable datagram larger than the path allows. */
export class DatagramTooLargeError extends defineError(
  'DatagramTooLargeError',
  'ERR_BRAID_DATAGRAM_TOO_LARGE',
) {}
/** A queue reached its bound; the caller should wait and retry. */
export class BackpressureError extends defineError('BackpressureError', 'ERR_BRAID_BACKPRESSURE') {}
/** An unknown session handle was passed to an API. */
export class UnknownSessionError extends defineError(
  'UnknownSessionError',
  'ERR_BRAID_UNKNOWN_SESSION',
) {}
/** An unknown path ID was passed to an API. */
export class UnknownPathError extends defineError('UnknownPathError', 'ERR_BRAID_UNKNOWN_PATH') {}
/** No stream with this ID is open on the session (never opened, or already finished). */
export class UnknownStreamError extends defineError(
  'UnknownStreamError',
  'ERR_BRAID_UNKNOWN_STREAM',
) {}
/** The peer's stream limit is reached; wait for the `streams_available` event. */
export class StreamLimitError extends defineError('StreamLimitError', 'ERR_BRAID_STREAM_LIMIT') {}
/** A write after the stream was ended or reset. */
export class StreamStateError extends defineError('StreamStateError', 'ERR_BRAID_STREAM_STATE') {}
/** A configuration value is out of range; `message` names the option. */
export class InvalidOptionError extends defineError(
  'InvalidOptionError',
  'ERR_BRAID_INVALID_OPTION',
) {}

/** A protocol error: closes the session with `closeCode`, `reason` is sent to the peer. */
export class ProtocolError extends BraidError {
  readonly code = 'ERR_BRAID_PROTOCOL';
  constructor(
    readonly closeCode: CloseCode,
    readonly reason: string,
  ) {
    super(`${closeCodeName(closeCode)}: ${reason}`);
    this.name = 'ProtocolError';
  }
}
