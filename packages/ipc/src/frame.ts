/**
 * Framing: every message is a 4-byte big-endian body length followed by the body (a msgpack
 * value). The decoder keeps at most one incomplete frame and never allocates for a length it has
 * not received, so a hostile length costs nothing until the bytes arrive, and a length above the
 * bound fails at once.
 */
import { Packr } from 'msgpackr';
import { IpcFrameTooLargeError, IpcMalformedError } from './errors.js';

/** Bytes of the length prefix. */
export const FRAME_HEADER_BYTES = 4;
/**
 * Default bound of one frame body: 4 MiB, room for `sessions()` of a few thousand sessions with
 * their stats. Stream data travels in chunks of at most {@link DATA_CHUNK_BYTES}.
 */
export const FRAME_BYTES_MAX = 4 * 1024 * 1024;

// Plain maps and arrays only: no record extension (its structures are per-connection state the
// other side would have to share), binary as bin, undefined as nil.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/** Encodes one message as a complete frame (header + body). */
export function encodeFrame(message: unknown, frameBytesMax = FRAME_BYTES_MAX): Buffer {
  const body = packr.pack(message);
  if (body.length > frameBytesMax)
    throw new IpcFrameTooLargeError(
      `message of ${body.length} bytes exceeds the frame limit of ${frameBytesMax} bytes`,
    );
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/** Decodes one frame body; throws {@link IpcMalformedError} if it is not exactly one msgpack value. */
export function decodeBody(body: Uint8Array): unknown {
  try {
    return packr.unpack(body);
  } catch (err) {
    throw new IpcMalformedError(`frame body is not valid msgpack (${(err as Error).message})`, {
      cause: err,
    });
  }
}

/** Splits a byte stream into frame bodies. */
export class FrameDecoder {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  /** Body length of the frame being read, once its header is complete. */
  private expected = -1;

  constructor(private readonly frameBytesMax = FRAME_BYTES_MAX) {}

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Appends received bytes; take frames out with {@link FrameDecoder.next}. */
  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * The next complete frame body, or undefined until more bytes arrive. Throws
   * {@link IpcFrameTooLargeError} when a header announces a body over the bound (or an empty
   * one), before any of that body is held; the decoder is then unusable and the connection must
   * close. Frames before the bad header have been returned by then, in order.
   */
  next(): Buffer | undefined {
    if (this.expected < 0) {
      if (this.buffered < FRAME_HEADER_BYTES) return undefined;
      const length = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
      if (length === 0 || length > this.frameBytesMax)
        throw new IpcFrameTooLargeError(
          length === 0
            ? 'frame with an empty body'
            : `frame of ${length} bytes exceeds the limit of ${this.frameBytesMax} bytes`,
        );
      this.expected = length;
    }
    if (this.buffered < this.expected) return undefined;
    const body = this.take(this.expected);
    this.expected = -1;
    return body;
  }

  /** {@link append}, then every complete body (throws as {@link next} does). */
  push(chunk: Buffer): Buffer[] {
    this.append(chunk);
    const out: Buffer[] = [];
    // Each turn takes one frame out of the bytes held, so it ends within their count.
    for (let body = this.next(); body; body = this.next()) out.push(body);
    return out;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let result: Buffer;
    if (first.length >= n) {
      result = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      result = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const use = Math.min(c.length, n - filled);
        c.copy(result, filled, 0, use);
        filled += use;
        if (use === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(use);
      }
    }
    this.buffered -= n;
    return result;
  }
}
