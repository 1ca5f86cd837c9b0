/**
 * A `CryptoProvider` on `sodium-native` (libsodium compiled as a Node addon), the same
 * primitives as the default `libsodium-wrappers` (WebAssembly) provider of `@braid/protocol`,
 * with the same checks and errors. It is an optional dependency: {@link loadSodiumNative} returns
 * `undefined` when the addon is not installed or does not load on this platform.
 */
import { createRequire } from 'node:module';
import {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  BLAKE2B_BYTES,
  checkSharedSecret,
  createSodiumCrypto,
  InvalidKeyError,
  LowOrderPointError,
  X25519_KEY_BYTES,
  type CryptoProvider,
} from '@braid/protocol';

/** The part of sodium-native's API used here (it ships no type declarations). */
interface SodiumNative {
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_aead_chacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_generichash(out: Uint8Array, input: Uint8Array, key?: Uint8Array | null): void;
  crypto_generichash_BYTES_MIN: number;
  crypto_generichash_BYTES_MAX: number;
  crypto_generichash_KEYBYTES_MAX: number;
}

/** sodium-native's wrapper asserts keys of at least crypto_generichash_KEYBYTES_MIN (16). */
const KEY_BYTES_MIN = 16;

let loaded: { sodium: SodiumNative } | { error: Error } | undefined;

/** Loads the addon once per process; the load error is kept for {@link sodiumNativeLoadError}. */
function load(): SodiumNative | undefined {
  if (!loaded) {
    try {
      const require = createRequire(import.meta.url);
      loaded = { sodium: require('sodium-native') as SodiumNative };
    } catch (err) {
      loaded = { error: err instanceof Error ? err : new Error(String(err)) };
    }
  }
  return 'sodium' in loaded ? loaded.sodium : undefined;
}

/** Why sodium-native did not load, or `undefined` if it did. */
export function sodiumNativeLoadError(): Error | undefined {
  load();
  return loaded && 'error' in loaded ? loaded.error : undefined;
}

function expectLength(what: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length)
    throw new InvalidKeyError(`${what} must be ${length} bytes, got ${bytes.length}`);
}

/**
 * The sodium-native provider, or `undefined` when the addon is not available. sodium-native's
 * wrapper refuses BLAKE2b outputs and keys under 16 bytes, which libsodium itself (and so the
 * interface) allows: those rare calls (the protocol makes none) go to the WebAssembly provider.
 */
export async function createSodiumNativeCrypto(): Promise<CryptoProvider | undefined> {
  const sodium = load();
  return sodium ? buildProvider(sodium, await createSodiumCrypto()) : undefined;
}

function buildProvider(sodium: SodiumNative, fallback: CryptoProvider): CryptoProvider {
  return {
    name: 'sodium-native',
    x25519PublicKey(secretKey) {
      expectLength('X25519 secret key', secretKey, X25519_KEY_BYTES);
      const q = new Uint8Array(X25519_KEY_BYTES);
      sodium.crypto_scalarmult_base(q, secretKey);
      return q;
    },
    x25519(secretKey, publicKey) {
      expectLength('X25519 secret key', secretKey, X25519_KEY_BYTES);
      expectLength('X25519 public key', publicKey, X25519_KEY_BYTES);
      const q = new Uint8Array(X25519_KEY_BYTES);
      try {
        sodium.crypto_scalarmult(q, secretKey, publicKey);
      } catch (cause) {
        // libsodium refuses an all-zero result (crypto_scalarmult returns -1).
        throw new LowOrderPointError('X25519 peer point has low order', { cause });
      }
      return checkSharedSecret(q);
    },
    aeadSeal(key, nonce, ad, plaintext) {
      expectLength('AEAD key', key, AEAD_KEY_BYTES);
      expectLength('AEAD nonce', nonce, AEAD_NONCE_BYTES);
      // A plain Uint8Array, not a pooled Buffer: the protocol may keep or `slice()` the result.
      const sealed = new Uint8Array(plaintext.length + AEAD_TAG_BYTES);
      sodium.crypto_aead_chacha20poly1305_ietf_encrypt(sealed, plaintext, ad, null, nonce, key);
      return sealed;
    },
    aeadSealInto(key, nonce, ad, plaintext, out) {
      expectLength('AEAD key', key, AEAD_KEY_BYTES);
      expectLength('AEAD nonce', nonce, AEAD_NONCE_BYTES);
      // libsodium XORs the key stream over the message front to back, then MACs the ciphertext:
      // an output that starts where the message does (in place) is safe; the wrapper checks sizes.
      sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, ad, null, nonce, key);
    },
    aeadOpen(key, nonce, ad, ciphertext) {
      expectLength('AEAD key', key, AEAD_KEY_BYTES);
      expectLength('AEAD nonce', nonce, AEAD_NONCE_BYTES);
      if (ciphertext.length < AEAD_TAG_BYTES) return null;
      const opened = new Uint8Array(ciphertext.length - AEAD_TAG_BYTES);
      try {
        sodium.crypto_aead_chacha20poly1305_ietf_decrypt(opened, null, ciphertext, ad, nonce, key);
      } catch {
        return null;
      }
      return opened;
    },
    aeadOpenInPlace(key, nonce, ad, ciphertext) {
      expectLength('AEAD key', key, AEAD_KEY_BYTES);
      expectLength('AEAD nonce', nonce, AEAD_NONCE_BYTES);
      if (ciphertext.length < AEAD_TAG_BYTES) return null;
      // libsodium checks the tag over the ciphertext before it decrypts, front to back: an
      // output that starts where the ciphertext does is safe (and is zeroed on a bad tag).
      const opened = ciphertext.subarray(0, ciphertext.length - AEAD_TAG_BYTES);
      try {
        sodium.crypto_aead_chacha20poly1305_ietf_decrypt(opened, null, ciphertext, ad, nonce, key);
      } catch {
        return null;
      }
      return opened;
    },
    blake2b(data, outBytes = BLAKE2B_BYTES, key) {
      const keyed = key !== undefined && key.length > 0;
      if (
        outBytes < sodium.crypto_generichash_BYTES_MIN ||
        outBytes > sodium.crypto_generichash_BYTES_MAX ||
        (keyed &&
          (key.length < KEY_BYTES_MIN || key.length > sodium.crypto_generichash_KEYBYTES_MAX))
      )
        return fallback.blake2b(data, outBytes, key);
      const out = new Uint8Array(outBytes);
      sodium.crypto_generichash(out, data, keyed ? key : null);
      return out;
    },
  };
}
