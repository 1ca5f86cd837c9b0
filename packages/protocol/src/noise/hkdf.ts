import { BLAKE2B_BLOCK_BYTES, BLAKE2B_BYTES, type CryptoProvider } from '../crypto/provider.js';

/** HASHLEN for BLAKE2b (Noise §12.8). */
export const HASH_BYTES = BLAKE2B_BYTES;

const IPAD = 0x36;
const OPAD = 0x5c;

/** HASH(data) for the BLAKE2b suite: unkeyed BLAKE2b-512 (Noise §4.3, §12.8). */
export function hashBlake2b(crypto: CryptoProvider, data: Uint8Array): Uint8Array {
  return crypto.blake2b(data, HASH_BYTES);
}

/**
 * HMAC (RFC 2104) over BLAKE2b with BLOCKLEN = 128 bytes, as Noise §4.3 requires. BLAKE2b's own
 * keyed mode is deliberately not used: Noise defines HKDF on HMAC-HASH so that every hash
 * function is used the same way, and the test vectors depend on it.
 */
export function hmacBlake2b(crypto: CryptoProvider, key: Uint8Array, data: Uint8Array): Uint8Array {
  // RFC 2104 §2: a key longer than the block is hashed first. Noise only passes 64-byte keys.
  const blockKey = new Uint8Array(BLAKE2B_BLOCK_BYTES);
  blockKey.set(key.length > BLAKE2B_BLOCK_BYTES ? hashBlake2b(crypto, key) : key);

  const inner = new Uint8Array(BLAKE2B_BLOCK_BYTES + data.length);
  for (let i = 0; i < BLAKE2B_BLOCK_BYTES; i++) inner[i] = blockKey[i]! ^ IPAD;
  inner.set(data, BLAKE2B_BLOCK_BYTES);
  const innerHash = hashBlake2b(crypto, inner);

  const outer = new Uint8Array(BLAKE2B_BLOCK_BYTES + HASH_BYTES);
  for (let i = 0; i < BLAKE2B_BLOCK_BYTES; i++) outer[i] = blockKey[i]! ^ OPAD;
  outer.set(innerHash, BLAKE2B_BLOCK_BYTES);
  return hashBlake2b(crypto, outer);
}

/**
 * Noise §4.3 HKDF(chaining_key, input_key_material, num_outputs): two or three HASHLEN outputs,
 * each chained through the previous one with a one-byte counter.
 */
export function hkdf(
  crypto: CryptoProvider,
  chainingKey: Uint8Array,
  inputKeyMaterial: Uint8Array,
  outputCount: 2 | 3,
): Uint8Array[] {
  const tempKey = hmacBlake2b(crypto, chainingKey, inputKeyMaterial);
  const outputs: Uint8Array[] = [];
  let previous: Uint8Array = new Uint8Array(0);
  for (let i = 1; i <= outputCount; i++) {
    const input = new Uint8Array(previous.length + 1);
    input.set(previous);
    input[previous.length] = i;
    previous = hmacBlake2b(crypto, tempKey, input);
    outputs.push(previous);
  }
  return outputs;
}
