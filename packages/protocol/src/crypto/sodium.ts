import sodium from 'libsodium-wrappers';
import { InvalidKeyError, LowOrderPointError } from '../errors.js';
import {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  BLAKE2B_BYTES,
  checkSharedSecret,
  X25519_KEY_BYTES,
  type CryptoProvider,
} from './provider.js';

let provider: Promise<CryptoProvider> | undefined;

/**
 * The default provider, on `libsodium-wrappers` (WebAssembly). libsodium's `ready` promise is
 * awaited once per process; every later call returns the same provider.
 */
export function createSodiumCrypto(): Promise<CryptoProvider> {
  provider ??= sodium.ready.then(() => buildProvider());
  return provider;
}

function expectLength(what: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length)
    throw new InvalidKeyError(`${what} must be ${length} bytes, got ${bytes.length}`);
}

function buildProvider(): CryptoProvider {
  return {
    name: 'libsodium-wrappers',
    x25519PublicKey(secretKey) {
      expectLength('X25519 secret key', secretKey, X25519_KEY_BYTES);
      return sodium.crypto_scalarmult_base(secretKey);
    },
    x25519(secretKey, publicKey) {
      expectLength('X25519 secret key', secretKey, X25519_KEY_BYTES);
      expectLength('X25519 public key', publicKey, X25519_KEY_BYTES);
      let shared: Uint8Array;
      try {
        shared = sodium.crypto_scalarmult(secretKey, publicKey);
      } catch (cause) {
        // libsodium refuses an all-zero result (crypto_scalarmult returns -1).
        throw new LowOrderPointError('X25519 peer point has low order', { cause });
      }
      return checkSharedSecret(shared);
    },
    aeadSeal(key, nonce, ad, plaintext) {
      expectLength('AEAD key', key, AEAD_KEY_BYTES);
      expectLength('AEAD nonce', nonce, AEAD_NONCE_BYTES);
      return sodium.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
    },
    aeadOpen(key, nonce, ad, ciphertext) {
      expectLength('AEAD key', key, AEAD_KEY_BYTES);
      expectLength('AEAD nonce', nonce, AEAD_NONCE_BYTES);
      if (ciphertext.length < AEAD_TAG_BYTES) return null;
      try {
        return sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key);
      } catch {
        return null;
      }
    },
    blake2b(data, outBytes = BLAKE2B_BYTES, key) {
      return sodium.crypto_generichash(outBytes, data, key && key.length > 0 ? key : null);
    },
  };
}
