import {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  type CryptoProvider,
} from '../crypto/provider.js';
import { DecryptError, InvalidKeyError, NonceExhaustedError } from '../errors.js';

/**
 * 2^64-1: the largest nonce value. Noise §5.1 reserves it: once `n` reaches it, EncryptWithAd
 * and DecryptWithAd fail, and it is the nonce REKEY uses (§11.3), so it never encrypts data.
 */
export const NOISE_NONCE_MAX = 0xffff_ffff_ffff_ffffn;

/** Noise §3: every Noise message, handshake or transport, is at most 65535 bytes. */
export const NOISE_MESSAGE_BYTES_MAX = 65535;

const EMPTY = new Uint8Array(0);

/**
 * Noise §12.3 ChaChaPoly nonce: 32 zero bits, then the 64-bit counter little-endian.
 */
function encodeNonce(n: bigint): Uint8Array {
  const nonce = new Uint8Array(AEAD_NONCE_BYTES);
  let v = n;
  for (let i = 4; i < AEAD_NONCE_BYTES; i++) {
    nonce[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return nonce;
}

/**
 * A Noise CipherState (§5.1): a ChaChaPoly key `k` (possibly empty) and a 64-bit nonce `n`.
 *
 * Without a key, EncryptWithAd/DecryptWithAd return their input unchanged and `n` does not move
 * (§5.1). With a key, each successful call uses `n` and then increments it; a failed decryption
 * leaves `n` unchanged so that a forged message cannot desynchronise the two sides.
 *
 * The nonce is a `bigint` because the counter is 64 bits wide (§5.1): it ranges over
 * 0..2^64-1 and the last value, {@link NOISE_NONCE_MAX}, is reserved, so a call made with
 * `nonce === NOISE_NONCE_MAX` throws {@link NonceExhaustedError}.
 *
 * Message-size limits (§3) are enforced by {@link HandshakeState}, not here: transport framing
 * belongs to the session layer, which bounds its datagrams well below 65535 bytes.
 */
export class CipherState {
  #crypto: CryptoProvider;
  #key: Uint8Array | undefined;
  #nonce = 0n;

  /** `key`, when given, must be 32 bytes (§5.1 InitializeKey). */
  constructor(crypto: CryptoProvider, key?: Uint8Array) {
    this.#crypto = crypto;
    if (key !== undefined) this.initializeKey(key);
  }

  /** A copy of the raw 32-byte key, or `undefined` while the key is empty. */
  get key(): Uint8Array | undefined {
    return this.#key?.slice();
  }

  /** HasKey() (§5.1). */
  get hasKey(): boolean {
    return this.#key !== undefined;
  }

  /** The next nonce `n` (§5.1), 0..2^64-1. */
  get nonce(): bigint {
    return this.#nonce;
  }

  /** SetNonce() (§5.1): for callers that manage nonces themselves (e.g. out-of-order delivery). */
  set nonce(n: bigint) {
    if (n < 0n || n > NOISE_NONCE_MAX)
      throw new RangeError(`nonce must be in 0..2^64-1, got ${n.toString()}`);
    this.#nonce = n;
  }

  /** InitializeKey(key) (§5.1): sets `k` and resets `n` to 0. */
  initializeKey(key: Uint8Array): void {
    if (key.length !== AEAD_KEY_BYTES)
      throw new InvalidKeyError(`cipher key must be ${AEAD_KEY_BYTES} bytes, got ${key.length}`);
    this.#key = key.slice();
    this.#nonce = 0n;
  }

  /** EncryptWithAd(ad, plaintext) (§5.1): ciphertext with the 16-byte tag appended. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.#key === undefined) return plaintext.slice();
    this.#checkNonce();
    const ciphertext = this.#crypto.aeadSeal(this.#key, encodeNonce(this.#nonce), ad, plaintext);
    this.#nonce++;
    return ciphertext;
  }

  /**
   * DecryptWithAd(ad, ciphertext) (§5.1). Throws {@link DecryptError} when authentication
   * fails (including a ciphertext shorter than the tag); `n` is then left unchanged.
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.#key === undefined) return ciphertext.slice();
    this.#checkNonce();
    const plaintext =
      ciphertext.length < AEAD_TAG_BYTES
        ? null
        : this.#crypto.aeadOpen(this.#key, encodeNonce(this.#nonce), ad, ciphertext);
    if (plaintext === null) throw new DecryptError('Noise message failed authentication');
    this.#nonce++;
    return plaintext;
  }

  /**
   * Rekey() (§5.1) with the default REKEY of §11.3: the new key is the first 32 bytes of
   * ENCRYPT(k, 2^64-1, zerolen, zeros). The nonce is deliberately not reset (§11.3), so
   * rekeying never reopens nonces already used under the old key's schedule.
   */
  rekey(): void {
    // Nothing to rekey: an empty key stays empty, like EncryptWithAd without a key.
    if (this.#key === undefined) return;
    const sealed = this.#crypto.aeadSeal(
      this.#key,
      encodeNonce(NOISE_NONCE_MAX),
      EMPTY,
      new Uint8Array(AEAD_KEY_BYTES),
    );
    this.#key = sealed.slice(0, AEAD_KEY_BYTES);
  }

  /** The key and nonce, so that a caller can undo a failed read (see `HandshakeState`). */
  snapshot(): { key: Uint8Array | undefined; nonce: bigint } {
    return { key: this.#key?.slice(), nonce: this.#nonce };
  }

  /** Puts back what {@link snapshot} took. */
  restore(state: { key: Uint8Array | undefined; nonce: bigint }): void {
    this.#key = state.key?.slice();
    this.#nonce = state.nonce;
  }

  #checkNonce(): void {
    if (this.#nonce >= NOISE_NONCE_MAX)
      throw new NonceExhaustedError('Noise nonce reached 2^64-1; this key must not be used again');
  }
}
