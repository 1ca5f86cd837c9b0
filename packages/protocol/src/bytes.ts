/** Byte helpers shared by every codec. Pure functions, no Node APIs (this package is sans-IO). */

const HEX = '0123456789abcdef';

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += HEX[b >> 4]! + HEX[b & 15]!;
  return out;
}

/** Parses lowercase or uppercase hex; throws `RangeError` on odd length or a non-hex digit. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) throw new RangeError(`hex string has odd length ${hex.length}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = HEX.indexOf(hex[2 * i]!.toLowerCase());
    const lo = HEX.indexOf(hex[2 * i + 1]!.toLowerCase());
    if (hi < 0 || lo < 0) throw new RangeError(`invalid hex digit near offset ${2 * i}`);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Size of each {@link ByteSlab} backing buffer: about 23 datagrams of 1,400 bytes. */
export const SLAB_BYTES = 32 * 1024;

/**
 * Copies datagrams into shared backing buffers: one allocation per {@link SLAB_BYTES} instead
 * of one per datagram (each `new Uint8Array` over 64 bytes is a separate native allocation that
 * the garbage collector tracks and sweeps). A copy is never overwritten, so whoever keeps a
 * datagram (a socket's send queue, a test's wire) keeps valid bytes; a slab is freed by the
 * collector once no copy in it is held. Copies are 8-byte aligned.
 */
export class ByteSlab {
  private slab: Uint8Array | undefined;
  private offset = 0;

  constructor(private readonly slabBytes = SLAB_BYTES) {}

  /** A copy of `bytes` in the current slab (larger than a slab: an array of its own). */
  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    if (n > this.slabBytes) return copyBytes(bytes);
    if (!this.slab || this.offset + n > this.slabBytes) {
      this.slab = new Uint8Array(this.slabBytes);
      this.offset = 0;
    }
    const out = this.slab.subarray(this.offset, this.offset + n);
    out.set(bytes);
    this.offset += (n + 7) & ~7;
    return out;
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Equality whose running time depends only on the lengths, for comparing MACs and keys. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}

/** ASCII-only encoder: protocol labels and EID text are ASCII by construction. */
export function asciiBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) throw new RangeError('asciiBytes: non-ASCII character');
    out[i] = c;
  }
  return out;
}

export function asciiString(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += String.fromCharCode(b);
  return out;
}

/**
 * A copy of `bytes[start, end)`. `Uint8Array.prototype.slice` is used on purpose: on a Node
 * `Buffer` (what sockets hand over) `.slice()` is a view, and a caller may reuse its buffer.
 */
export function copyBytes(bytes: Uint8Array, start = 0, end = bytes.length): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, start, end);
}
