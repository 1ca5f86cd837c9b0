import { LowOrderPointError } from '../errors.js';

/** Sizes fixed by the `25519_ChaChaPoly_BLAKE2b` suite. */
export const X25519_KEY_BYTES = 32;
export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 12;
export const AEAD_TAG_BYTES = 16;
export const BLAKE2B_BYTES = 64;
export const BLAKE2B_BLOCK_BYTES = 128;

/**
 * The primitives the protocol needs, injected so that the core stays pure and a faster
 * backend (`sodium-native`) can replace the default one. Every method is synchronous and
 * deterministic: randomness never comes from here (see `Random`).
 */
export interface CryptoProvider {
  /** Short backend name for logs and benchmarks, e.g. `libsodium-wrappers`. */
  readonly name: string;
  /** X25519 public key for a 32-byte secret (clamping is done by X25519 itself). */
  x25519PublicKey(secretKey: Uint8Array): Uint8Array;
  /**
   * X25519 shared secret. Throws {@link LowOrderPointError} when the result is all zero,
   * i.e. the peer's point has low order (RFC 7748 §6.1): a handshake must abort then.
   */
  x25519(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  /** ChaCha20-Poly1305 (RFC 8439) seal: ciphertext with the 16-byte tag appended. */
  aeadSeal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * Optional: {@link aeadSeal} writing its output (`plaintext.length + 16` bytes) into `out`
   * instead of a new array. `out` may begin at `plaintext`'s first byte (sealing in place, as
   * the packet path does), never elsewhere inside it. Without it, callers copy `aeadSeal`'s
   * result ({@link aeadSealInto}).
   */
  aeadSealInto?(
    key: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
  ): void;
  /** ChaCha20-Poly1305 open; `null` when the tag does not verify. */
  aeadOpen(
    key: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    ciphertext: Uint8Array,
  ): Uint8Array | null;
  /**
   * Optional: {@link aeadOpen} over `ciphertext` itself. The plaintext is written over the
   * ciphertext's first `length - 16` bytes and returned as a view of them; `null` when the tag
   * does not verify, and then `ciphertext` may have been overwritten (libsodium zeroes it), so
   * it is only for bytes the caller owns and will not read again.
   */
  aeadOpenInPlace?(
    key: Uint8Array,
    nonce: Uint8Array,
    ad: Uint8Array,
    ciphertext: Uint8Array,
  ): Uint8Array | null;
  /** BLAKE2b (RFC 7693) with `outBytes` of output (1..64) and an optional key (≤64 bytes). */
  blake2b(data: Uint8Array, outBytes?: number, key?: Uint8Array): Uint8Array;
}

/**
 * Seals into `out` with the provider's `aeadSealInto` when it has one, else copies
 * `aeadSeal`'s result there: the same bytes either way.
 */
export function aeadSealInto(
  crypto: CryptoProvider,
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
  out: Uint8Array,
): void {
  if (out.length !== plaintext.length + AEAD_TAG_BYTES)
    throw new RangeError(
      `out must be ${plaintext.length + AEAD_TAG_BYTES} bytes, got ${out.length}`,
    );
  if (crypto.aeadSealInto) crypto.aeadSealInto(key, nonce, ad, plaintext, out);
  else out.set(crypto.aeadSeal(key, nonce, ad, plaintext));
}

/** Wraps an X25519 result so that an all-zero output always becomes {@link LowOrderPointError}. */
export function checkSharedSecret(shared: Uint8Array): Uint8Array {
  let acc = 0;
  for (const b of shared) acc |= b;
  if (acc === 0) throw new LowOrderPointError('X25519 peer point has low order');
  return shared;
}
