import { X25519_KEY_BYTES } from '../crypto/provider.js';

const FIELD_PRIME = 2n ** 255n - 19n;

/**
 * u-coordinates of the points of order dividing 8 on Curve25519 and its twist (RFC 7748 §6.1
 * explains why these give an all-zero shared secret; the list is the one libsodium rejects):
 * 0 and p-1 (orders 2 and 4), 1 (order 4 on the twist), and the two points of order 8.
 */
const LOW_ORDER_U = new Set<bigint>([
  0n,
  1n,
  FIELD_PRIME - 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
]);

/**
 * Whether an X25519 public key is a low-order point, i.e. X25519 with any (clamped) secret
 * gives the all-zero output. Decoding follows RFC 7748 §5: the top bit is ignored and
 * non-canonical values (≥ p) are reduced, so every encoding of these points is caught.
 *
 * The handshake checks this when it reads a peer's `e` or `s`, so that the message carrying
 * the bad key is the one rejected; the DH itself still throws `LowOrderPointError` as a
 * backstop. Public keys are public, so the early check need not be constant-time.
 */
export function isLowOrderX25519Point(publicKey: Uint8Array): boolean {
  if (publicKey.length !== X25519_KEY_BYTES) return false;
  let u = 0n;
  for (let i = X25519_KEY_BYTES - 1; i >= 0; i--) {
    const byte = i === X25519_KEY_BYTES - 1 ? publicKey[i]! & 0x7f : publicKey[i]!;
    u = (u << 8n) | BigInt(byte);
  }
  return LOW_ORDER_U.has(u % FIELD_PRIME);
}
