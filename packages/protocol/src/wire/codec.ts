/**
 * Bounds-checked byte reader and writer for the wire codecs. Readers throw
 * {@link WireDecodeError} on truncation or an out-of-range field; codecs turn that into a
 * counted reject, never a crash.
 */
import { BraidError } from '../errors.js';

/** A field could not be decoded. Internal to the codecs; surfaces as a reject reason or a close. */
export class WireDecodeError extends BraidError {
  readonly code = 'ERR_BRAID_WIRE_DECODE';
  constructor(message: string) {
    super(message);
    this.name = 'WireDecodeError';
  }
}

/** Largest value a QUIC-style variable-length integer holds that is also exact in a JS number. */
export const VARINT_MAX = Number.MAX_SAFE_INTEGER;

export class ByteReader {
  offset = 0;
  constructor(readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private need(n: number, what: string): void {
    if (n > this.remaining)
      throw new WireDecodeError(`truncated ${what}: need ${n} bytes, have ${this.remaining}`);
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.bytes[this.offset++]!;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = (this.bytes[this.offset]! << 8) | this.bytes[this.offset + 1]!;
    this.offset += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const b = this.bytes;
    const o = this.offset;
    this.offset += 4;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  bytesView(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const v = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  rest(): Uint8Array {
    return this.bytesView(this.remaining);
  }

  /** RFC 9000 §16 variable-length integer; values above 2^53-1 are refused. */
  varint(what = 'varint'): number {
    this.need(1, what);
    const first = this.bytes[this.offset]!;
    const length = 1 << (first >> 6);
    this.need(length, what);
    let v = first & 0x3f;
    for (let i = 1; i < length; i++) v = v * 256 + this.bytes[this.offset + i]!;
    this.offset += length;
    if (v > VARINT_MAX) throw new WireDecodeError(`${what} exceeds 2^53-1`);
    return v;
  }
}

/** What {@link ByteWriter.over} starts from before it takes its buffer: no array per writer. */
const NO_BYTES = new Uint8Array(0);

export class ByteWriter {
  private buf: Uint8Array;
  length = 0;

  constructor(capacity = 64) {
    this.buf = capacity === 0 ? NO_BYTES : new Uint8Array(capacity);
  }

  /**
   * A writer that continues `buffer` after its first `start` bytes (which stay part of
   * {@link view}), with no allocation while the writes fit; if they outgrow it, it moves to a
   * larger copy, as any writer does ({@link target} tells which).
   */
  static over(buffer: Uint8Array, start: number): ByteWriter {
    if (start > buffer.length) throw new RangeError(`start ${start} is past the buffer's end`);
    const w = new ByteWriter(0);
    w.buf = buffer;
    w.length = start;
    return w;
  }

  /** The array written into: the one given to {@link over} until the writes outgrew it. */
  get target(): Uint8Array {
    return this.buf;
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u8(v: number): this {
    this.reserve(1);
    this.buf[this.length++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.reserve(2);
    this.buf[this.length++] = (v >>> 8) & 0xff;
    this.buf[this.length++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.reserve(4);
    this.buf[this.length++] = (v >>> 24) & 0xff;
    this.buf[this.length++] = (v >>> 16) & 0xff;
    this.buf[this.length++] = (v >>> 8) & 0xff;
    this.buf[this.length++] = v & 0xff;
    return this;
  }

  /** A 64-bit big-endian unsigned integer, from a safe integer. */
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 out of range: ${v}`);
    return this.u32(Math.floor(v / 2 ** 32)).u32(v >>> 0);
  }

  bytes(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  zeros(n: number): this {
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
    return this;
  }

  varint(v: number): this {
    const n = varintLength(v);
    this.reserve(n);
    let rest = v;
    for (let i = n - 1; i >= 0; i--) {
      this.buf[this.length + i] = rest % 256;
      rest = Math.floor(rest / 256);
    }
    this.buf[this.length]! |= [0x00, 0x40, 0x80, 0xc0][Math.log2(n)]!;
    this.length += n;
    return this;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }

  /** The bytes written, without a copy: valid until the writer is written to again. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Encoded size of a varint (RFC 9000 §16). */
export function varintLength(v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint out of range: ${v}`);
  if (v < 0x40) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x4000_0000) return 4;
  return 8;
}
