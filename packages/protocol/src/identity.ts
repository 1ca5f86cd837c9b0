import { bech32m } from 'bech32';
import { asciiBytes, bytesEqual, concatBytes, toHex } from './bytes.js';
import type { CryptoProvider } from './crypto/provider.js';
import { X25519_KEY_BYTES } from './crypto/provider.js';
import { EidParseError, InvalidKeyError } from './errors.js';
import { randomBytes, type Random } from './random.js';

/** Bytes of an EID: 128 bits, so finding a key for a given EID costs 2^128 work. */
export const EID_BYTES = 16;
/** Human-readable prefix of an EID's text form (`braid1…`). */
export const EID_PREFIX = 'braid';
/** Length of the text form: prefix, separator `1`, 26 data characters, 6 checksum characters. */
export const EID_TEXT_LENGTH = EID_PREFIX.length + 1 + Math.ceil((EID_BYTES * 8) / 5) + 6;

const EID_HASH_LABEL = asciiBytes('braid eid v1');
const BECH32_ALPHABET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

/**
 * An endpoint identifier: BLAKE2b-128("braid eid v1" ‖ X25519 static public key). Knowing it is
 * enough to authenticate a peer: the handshake proves the static key, and the key must hash to
 * this EID. Its text form is bech32m (BIP 350) with the prefix `braid`, e.g.
 * `braid1qy352euf40x77qfrg4ncn27dauqjx3t8`; the checksum catches any typo of up to 4 characters.
 */
export class Eid {
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    if (bytes.length !== EID_BYTES)
      throw new InvalidKeyError(`an EID is ${EID_BYTES} bytes, got ${bytes.length}`);
    this.bytes = Uint8Array.from(bytes);
  }

  static fromPublicKey(crypto: CryptoProvider, publicKey: Uint8Array): Eid {
    if (publicKey.length !== X25519_KEY_BYTES)
      throw new InvalidKeyError(`a static public key is 32 bytes, got ${publicKey.length}`);
    return new Eid(crypto.blake2b(concatBytes(EID_HASH_LABEL, publicKey), EID_BYTES));
  }

  /** Parses the text form; throws {@link EidParseError} saying exactly what is wrong. */
  static parse(text: string): Eid {
    return new Eid(parseEidText(text));
  }

  equals(other: Eid): boolean {
    return bytesEqual(this.bytes, other.bytes);
  }

  /** The bech32m text form. */
  toString(): string {
    return bech32m.encode(EID_PREFIX, bech32m.toWords(this.bytes));
  }

  /** First 8 hex digits, for logs. */
  get short(): string {
    return toHex(this.bytes.subarray(0, 4));
  }

  toJSON(): string {
    return this.toString();
  }
}

function parseEidText(text: string): Uint8Array {
  if (typeof text !== 'string') throw new EidParseError('an EID must be a string');
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new EidParseError('the EID is empty');
  const lower = trimmed.toLowerCase();
  if (trimmed !== lower && trimmed !== trimmed.toUpperCase())
    throw new EidParseError('the EID mixes upper- and lower-case letters');
  const separator = lower.lastIndexOf('1');
  const prefix = separator < 0 ? '' : lower.slice(0, separator);
  if (prefix !== EID_PREFIX)
    throw new EidParseError(
      separator < 0
        ? `the EID has no "${EID_PREFIX}1" prefix`
        : `the EID prefix is "${prefix}", expected "${EID_PREFIX}"`,
    );
  for (let i = separator + 1; i < lower.length; i++) {
    if (!BECH32_ALPHABET.includes(lower[i]!))
      throw new EidParseError(
        `character "${trimmed[i]}" at position ${i + 1} is not allowed in an EID (bech32 excludes 1, b, i, o)`,
      );
  }
  if (lower.length !== EID_TEXT_LENGTH)
    throw new EidParseError(
      `the EID is ${lower.length} characters long, expected ${EID_TEXT_LENGTH}`,
    );
  const decoded = bech32m.decodeUnsafe(lower, EID_TEXT_LENGTH);
  if (!decoded) throw new EidParseError('the EID checksum does not match: a character is mistyped');
  const bytes = bech32m.fromWordsUnsafe(decoded.words);
  if (!bytes || bytes.length !== EID_BYTES)
    throw new EidParseError('the EID data has non-zero padding bits');
  return Uint8Array.from(bytes);
}

/** A host's long-term identity: its static X25519 key pair and the EID derived from it. */
export interface Identity {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly eid: Eid;
}

export function identityFromSecretKey(crypto: CryptoProvider, secretKey: Uint8Array): Identity {
  if (secretKey.length !== X25519_KEY_BYTES)
    throw new InvalidKeyError(`a static secret key is 32 bytes, got ${secretKey.length}`);
  const publicKey = crypto.x25519PublicKey(secretKey);
  return {
    secretKey: Uint8Array.from(secretKey),
    publicKey,
    eid: Eid.fromPublicKey(crypto, publicKey),
  };
}

export function generateIdentity(crypto: CryptoProvider, random: Random): Identity {
  return identityFromSecretKey(crypto, randomBytes(random, X25519_KEY_BYTES));
}
