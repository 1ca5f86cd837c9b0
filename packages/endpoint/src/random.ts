/**
 * The protocol's injected `Random` for real networks: the operating system's CSPRNG
 * (`crypto.randomFillSync`), read 4 KiB at a time so that the many small draws (connection IDs,
 * jitter) do not each cost a system call.
 */
import { randomFillSync } from 'node:crypto';
import type { Random } from '@braid/protocol';

/** Bytes fetched from the OS per refill. */
export const RANDOM_POOL_BYTES = 4096;

export function createSecureRandom(): Random {
  const pool = new Uint8Array(RANDOM_POOL_BYTES);
  let used = RANDOM_POOL_BYTES;
  const take = (n: number): number => {
    if (used + n > RANDOM_POOL_BYTES) {
      randomFillSync(pool);
      used = 0;
    }
    const at = used;
    used += n;
    return at;
  };
  const nextU32 = (): number => {
    const at = take(4);
    const v =
      (pool[at]! | (pool[at + 1]! << 8) | (pool[at + 2]! << 16) | (pool[at + 3]! << 24)) >>> 0;
    // Never hand out the same pool bytes twice.
    pool.fill(0, at, at + 4);
    return v;
  };
  return {
    fill(bytes) {
      // Keys and other large draws go straight to the OS.
      if (bytes.length > 64) {
        randomFillSync(bytes);
        return;
      }
      const at = take(bytes.length);
      bytes.set(pool.subarray(at, at + bytes.length));
      pool.fill(0, at, at + bytes.length);
    },
    nextU32,
    nextFloat: () => nextU32() / 0x1_0000_0000,
  };
}
