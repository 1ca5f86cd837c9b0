/**
 * Datagram format v1 (docs/protocol.md §Datagram format). Every Braid datagram is one packet:
 *
 * - a long header (first bit 1) carries a Noise handshake message, the version, both
 *   connection IDs and a 16-byte integrity tag (`mac`);
 * - a short header (first bit 0) carries AEAD-protected frames for an established session,
 *   routed by the destination connection ID alone.
 *
 * The second bit is fixed to 1 so that stray zero-filled datagrams are refused at once.
 */
import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES } from '../crypto/provider.js';
import { ByteReader, ByteWriter, WireDecodeError } from './codec.js';

export const VERSION_1 = 0x0000_0001;
/** Versions this implementation speaks. */
export const SUPPORTED_VERSIONS: readonly number[] = [VERSION_1];

/** Connection IDs are chosen by the receiver and have a fixed length in v1. */
export const CID_BYTES = 8;
export const HANDSHAKE_MAC_BYTES = 16;
/** Initial datagrams are padded to this size, so that the responder's 3× budget covers its reply. */
export const MIN_INITIAL_DATAGRAM_BYTES = 1200;
/** Largest datagram v1 sends before path MTU discovery: fits IPv6's 1280-byte minimum MTU. */
export const MAX_DATAGRAM_BYTES = 1200;

const FORM_LONG = 0x80;
const FIXED_BIT = 0x40;
const KEY_PHASE_BIT = 0x04;
/** Short header: the packet is a source of an FEC group (§15); authenticated as part of the AD. */
const FEC_PROTECTED_BIT = 0x08;

export const LongType = {
  /** Initiator → responder: Noise message 1. */
  INITIAL: 0x0,
  /** Responder → initiator: Noise message 2. */
  HANDSHAKE: 0x1,
  /** Initiator → responder: Noise message 3 (patterns with three messages, e.g. XX). */
  FINISH: 0x2,
} as const;
export type LongType = (typeof LongType)[keyof typeof LongType];

/** Handshake patterns, as numbered on the wire in INITIAL packets. */
export const PatternId = {
  XX: 1,
  IK: 2,
  XXpsk3: 3,
  IKpsk2: 4,
} as const;
export type PatternId = (typeof PatternId)[keyof typeof PatternId];

export const PATTERN_NAMES: Record<PatternId, string> = {
  1: 'Noise_XX_25519_ChaChaPoly_BLAKE2b',
  2: 'Noise_IK_25519_ChaChaPoly_BLAKE2b',
  3: 'Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b',
  4: 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b',
};

export interface LongHeaderPacket {
  form: 'long';
  type: LongType;
  version: number;
  dcid: Uint8Array;
  scid: Uint8Array;
  /** INITIAL only. */
  pattern?: PatternId;
  /** The Noise handshake message. */
  message: Uint8Array;
  /** Bytes covered by `mac`: the whole datagram but the tag. */
  authenticated: Uint8Array;
  mac: Uint8Array;
}

export interface ShortHeaderPacket {
  form: 'short';
  keyPhase: 0 | 1;
  /** The sender put this packet in an FEC group: the receiver keeps a copy for repairs. */
  fecProtected: boolean;
  dcid: Uint8Array;
  /** Low 32 bits of the packet number; see {@link decodePacketNumber}. */
  truncatedPacketNumber: number;
  /** Associated data for the AEAD: the header bytes. */
  header: Uint8Array;
  /** Ciphertext with its tag. */
  sealed: Uint8Array;
}

export type Packet = LongHeaderPacket | ShortHeaderPacket;

export const SHORT_HEADER_BYTES = 1 + CID_BYTES + 4;
const LONG_HEADER_FIXED_BYTES = 1 + 4 + CID_BYTES + CID_BYTES;

/** Why {@link parsePacket} refused a datagram, matching the endpoint's reject reasons. */
export type ParseFailure = { ok: false; reason: 'malformed' | 'bad_version'; detail: string };
export type ParseResult = { ok: true; packet: Packet } | ParseFailure;

/**
 * Parses a datagram's header. Never throws: anything not well-formed is a `ParseFailure`.
 * The mac and the AEAD are checked by the caller, who holds the keys.
 */
export function parsePacket(bytes: Uint8Array): ParseResult {
  try {
    return { ok: true, packet: parseOrThrow(bytes) };
  } catch (err) {
    if (err instanceof UnsupportedVersion)
      return { ok: false, reason: 'bad_version', detail: err.message };
    if (err instanceof WireDecodeError)
      return { ok: false, reason: 'malformed', detail: err.message };
    throw err;
  }
}

class UnsupportedVersion extends Error {}

function parseOrThrow(bytes: Uint8Array): Packet {
  const r = new ByteReader(bytes);
  const flags = r.u8('flags');
  if ((flags & FIXED_BIT) === 0) throw new WireDecodeError('fixed bit is 0');
  if ((flags & FORM_LONG) === 0) {
    if ((flags & ~(FIXED_BIT | KEY_PHASE_BIT | FEC_PROTECTED_BIT)) !== 0)
      throw new WireDecodeError('reserved bits set in short header');
    const dcid = r.bytesView(CID_BYTES, 'destination connection ID');
    const truncatedPacketNumber = r.u32('packet number');
    if (r.remaining < AEAD_TAG_BYTES + 1)
      throw new WireDecodeError(`short packet payload of ${r.remaining} bytes is too short`);
    return {
      form: 'short',
      keyPhase: flags & KEY_PHASE_BIT ? 1 : 0,
      fecProtected: (flags & FEC_PROTECTED_BIT) !== 0,
      dcid,
      truncatedPacketNumber,
      header: bytes.subarray(0, SHORT_HEADER_BYTES),
      sealed: bytes.subarray(SHORT_HEADER_BYTES),
    };
  }
  if ((flags & 0x30) !== 0) throw new WireDecodeError('reserved bits set in long header');
  const type = flags & 0x0f;
  if (type > LongType.FINISH) throw new WireDecodeError(`unknown long packet type ${type}`);
  const version = r.u32('version');
  if (!SUPPORTED_VERSIONS.includes(version))
    throw new UnsupportedVersion(`version 0x${version.toString(16)} is not supported`);
  if (bytes.length < LONG_HEADER_FIXED_BYTES + 2 + HANDSHAKE_MAC_BYTES)
    throw new WireDecodeError(`long packet of ${bytes.length} bytes is too short`);
  const dcid = r.bytesView(CID_BYTES, 'destination connection ID');
  const scid = r.bytesView(CID_BYTES, 'source connection ID');
  let pattern: PatternId | undefined;
  if (type === LongType.INITIAL) {
    const p = r.u8('pattern');
    if (!(p in PATTERN_NAMES)) throw new WireDecodeError(`unknown handshake pattern ${p}`);
    pattern = p as PatternId;
  }
  const length = r.u16('message length');
  const message = r.bytesView(length, 'handshake message');
  if (r.remaining < HANDSHAKE_MAC_BYTES) throw new WireDecodeError('truncated mac');
  const padding = r.bytesView(r.remaining - HANDSHAKE_MAC_BYTES, 'padding');
  for (const b of padding) if (b !== 0) throw new WireDecodeError('non-zero padding');
  const mac = r.rest();
  return {
    form: 'long',
    type: type as LongType,
    version,
    dcid,
    scid,
    ...(pattern === undefined ? {} : { pattern }),
    message,
    authenticated: bytes.subarray(0, bytes.length - HANDSHAKE_MAC_BYTES),
    mac,
  };
}

export interface LongHeaderFields {
  type: LongType;
  version?: number;
  dcid: Uint8Array;
  scid: Uint8Array;
  pattern?: PatternId;
  message: Uint8Array;
  /** Pad the datagram (before the mac) to at least this many bytes. */
  padToBytes?: number;
}

/** Encodes a long-header packet; `computeMac` receives the bytes to authenticate. */
export function encodeLongHeader(
  fields: LongHeaderFields,
  computeMac: (authenticated: Uint8Array) => Uint8Array,
): Uint8Array {
  if (fields.dcid.length !== CID_BYTES || fields.scid.length !== CID_BYTES)
    throw new RangeError('connection IDs are 8 bytes');
  if (fields.message.length > 0xffff) throw new RangeError('handshake message too long');
  const w = new ByteWriter(Math.max(fields.padToBytes ?? 0, 128));
  w.u8(FORM_LONG | FIXED_BIT | fields.type);
  w.u32(fields.version ?? VERSION_1);
  w.bytes(fields.dcid).bytes(fields.scid);
  if (fields.type === LongType.INITIAL) {
    if (fields.pattern === undefined) throw new RangeError('INITIAL needs a pattern');
    w.u8(fields.pattern);
  }
  w.u16(fields.message.length).bytes(fields.message);
  const target = (fields.padToBytes ?? 0) - HANDSHAKE_MAC_BYTES;
  if (w.length < target) w.zeros(target - w.length);
  const authenticated = w.finish();
  const mac = computeMac(authenticated);
  if (mac.length !== HANDSHAKE_MAC_BYTES) throw new RangeError('mac must be 16 bytes');
  const out = new Uint8Array(authenticated.length + mac.length);
  out.set(authenticated);
  out.set(mac, authenticated.length);
  return out;
}

/** Encodes a short header; the caller appends the AEAD output, using this as associated data. */
export function encodeShortHeader(
  dcid: Uint8Array,
  packetNumber: number,
  keyPhase: 0 | 1,
  fecProtected = false,
): Uint8Array {
  const out = new Uint8Array(SHORT_HEADER_BYTES);
  writeShortHeader(out, dcid, packetNumber, keyPhase, fecProtected);
  return out;
}

/** {@link encodeShortHeader} into the first {@link SHORT_HEADER_BYTES} of `out`. */
export function writeShortHeader(
  out: Uint8Array,
  dcid: Uint8Array,
  packetNumber: number,
  keyPhase: 0 | 1,
  fecProtected = false,
): void {
  if (dcid.length !== CID_BYTES) throw new RangeError('connection IDs are 8 bytes');
  if (out.length < SHORT_HEADER_BYTES) throw new RangeError('no room for a short header');
  out[0] = FIXED_BIT | (keyPhase ? KEY_PHASE_BIT : 0) | (fecProtected ? FEC_PROTECTED_BIT : 0);
  out.set(dcid, 1);
  const pn = packetNumber % 0x1_0000_0000;
  out[1 + CID_BYTES] = pn >>> 24;
  out[2 + CID_BYTES] = (pn >>> 16) & 0xff;
  out[3 + CID_BYTES] = (pn >>> 8) & 0xff;
  out[4 + CID_BYTES] = pn & 0xff;
}

/**
 * Recovers a full packet number from its low 32 bits, choosing the value closest to the next
 * expected one (RFC 9000 §A.3, with a 32-bit encoding).
 */
export function decodePacketNumber(largestReceived: number, truncated: number): number {
  const win = 0x1_0000_0000;
  const hwin = win / 2;
  const expected = largestReceived + 1;
  const candidate = expected - (expected % win) + truncated;
  if (candidate <= expected - hwin && candidate < Number.MAX_SAFE_INTEGER - win)
    return candidate + win;
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}

/**
 * AEAD nonce for a packet: the path ID as 32-bit little-endian, then the packet number as 64-bit
 * little-endian (Noise §5.1's layout, whose first 4 bytes are zero, for path 0). Every path has
 * its own packet-number space under the session's one key, so the path ID keeps nonces unique
 * (as in multipath QUIC).
 */
export function packetNonce(pathId: number, packetNumber: number): Uint8Array {
  return writePacketNonce(new Uint8Array(AEAD_NONCE_BYTES), pathId, packetNumber);
}

/** {@link packetNonce} into `nonce` (12 bytes), which it returns. */
export function writePacketNonce(
  nonce: Uint8Array,
  pathId: number,
  packetNumber: number,
): Uint8Array {
  nonce[0] = pathId & 0xff;
  nonce[1] = (pathId >>> 8) & 0xff;
  nonce[2] = (pathId >>> 16) & 0xff;
  nonce[3] = pathId >>> 24;
  let v = packetNumber;
  for (let i = 4; i < 12; i++) {
    nonce[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return nonce;
}
