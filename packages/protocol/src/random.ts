/**
 * Randomness is injected (DESIGN: the core never touches global randomness). The runtime
 * passes a CSPRNG (`@braid/endpoint` uses libsodium's `randombytes_buf`); tests and the
 * simulator pass {@link createSeededRandom} so that a whole run replays from one seed.
 */
export interface Random {
  /** Fills `bytes` with random bytes. */
  fill(bytes: Uint8Array): void;
  /** A uniformly distributed 32-bit unsigned integer. */
  nextU32(): number;
  /** A uniformly distributed float in [0, 1). */
  nextFloat(): number;
}

/**
 * xoshiro128** seeded through splitmix32. Deterministic and fast; NOT cryptographically
 * secure — for simulation and tests only, never for keys on a real network.
 */
export function createSeededRandom(seed: number): Random {
  let x = seed >>> 0;
  const splitmix = (): number => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let s0 = splitmix();
  let s1 = splitmix();
  let s2 = splitmix();
  let s3 = splitmix();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  const rotl = (v: number, k: number): number => ((v << k) | (v >>> (32 - k))) >>> 0;
  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    s0 >>>= 0;
    s1 >>>= 0;
    s2 >>>= 0;
    return result;
  };
  return {
    nextU32,
    nextFloat: () => nextU32() / 0x1_0000_0000,
    fill(bytes) {
      for (let i = 0; i < bytes.length; i += 4) {
        let v = nextU32();
        for (let j = i; j < Math.min(i + 4, bytes.length); j++) {
          bytes[j] = v & 0xff;
          v >>>= 8;
        }
      }
    },
  };
}

/** A fresh byte array of `length` random bytes. */
export function randomBytes(random: Random, length: number): Uint8Array {
  const out = new Uint8Array(length);
  random.fill(out);
  return out;
}
