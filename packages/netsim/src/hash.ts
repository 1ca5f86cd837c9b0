/**
 * A 64-bit FNV-1a over a stream of bytes and numbers, kept as two 32-bit halves so it needs no
 * BigInt. Not cryptographic: it only has to tell two runs apart.
 */
export class Fnv1a64 {
  // FNV-1a 64 offset basis 0xcbf29ce484222325, prime 0x100000001b3 = 2^40 + 0x1b3.
  #hi = 0xcbf29ce4;
  #lo = 0x84222325;
  readonly #scratch = new DataView(new ArrayBuffer(8));

  byte(b: number): void {
    let lo = (this.#lo ^ (b & 0xff)) >>> 0;
    let hi = this.#hi;
    // (hi:lo) * (2^40 + 0x1b3) mod 2^64
    const a0 = lo & 0xffff;
    const a1 = lo >>> 16;
    const p0 = a0 * 0x1b3;
    const p1 = a1 * 0x1b3 + (p0 >>> 16);
    const newLo = ((p1 & 0xffff) << 16) | (p0 & 0xffff);
    const carry = Math.floor(p1 / 0x10000);
    hi = (Math.imul(hi, 0x1b3) + carry + ((lo << 8) >>> 0)) >>> 0;
    lo = newLo >>> 0;
    this.#hi = hi;
    this.#lo = lo;
  }

  bytes(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.byte(bytes[i]!);
  }

  u32(v: number): void {
    this.byte(v);
    this.byte(v >>> 8);
    this.byte(v >>> 16);
    this.byte(v >>> 24);
  }

  f64(v: number): void {
    this.#scratch.setFloat64(0, v);
    for (let i = 0; i < 8; i++) this.byte(this.#scratch.getUint8(i));
  }

  string(s: string): void {
    this.u32(s.length);
    for (let i = 0; i < s.length; i++) this.u32(s.charCodeAt(i));
  }

  hex(): string {
    return this.#hi.toString(16).padStart(8, '0') + this.#lo.toString(16).padStart(8, '0');
  }
}

/** 32-bit FNV-1a of a string; used to derive per-link random streams from the seed. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
