/**
 * Frames carried inside protected packets (docs/protocol.md §Frames). Types and layouts follow
 * QUIC (RFC 9000 §19) where the meaning is the same, so that the numbers are familiar.
 */
import { asciiBytes } from '../bytes.js';
import { ByteReader, ByteWriter, varintLength, WireDecodeError } from './codec.js';

export const FrameType = {
  PADDING: 0x00,
  PING: 0x01,
  CONNECTION_CLOSE: 0x1c,
  HANDSHAKE_DONE: 0x1e,
  DATAGRAM: 0x31,
} as const;

/** Longest close reason sent or accepted, in bytes. */
export const CLOSE_REASON_BYTES_MAX = 256;

export type Frame =
  | { type: 'padding'; length: number }
  | { type: 'ping' }
  | { type: 'connection_close'; code: number; reason: string }
  | { type: 'handshake_done' }
  | { type: 'datagram'; data: Uint8Array };

/** Whether receiving the frame obliges the receiver to answer (RFC 9002 §2 "ack-eliciting"). */
export function isAckEliciting(frame: Frame): boolean {
  return frame.type !== 'padding' && frame.type !== 'connection_close';
}

export function encodeFrames(frames: Frame[], w = new ByteWriter(256)): ByteWriter {
  for (const f of frames) {
    switch (f.type) {
      case 'padding':
        w.zeros(f.length);
        break;
      case 'ping':
        w.u8(FrameType.PING);
        break;
      case 'handshake_done':
        w.u8(FrameType.HANDSHAKE_DONE);
        break;
      case 'connection_close': {
        const reason = asciiBytes(toAscii(f.reason).slice(0, CLOSE_REASON_BYTES_MAX));
        w.u8(FrameType.CONNECTION_CLOSE).varint(f.code).varint(reason.length).bytes(reason);
        break;
      }
      case 'datagram':
        w.u8(FrameType.DATAGRAM).varint(f.data.length).bytes(f.data);
        break;
    }
  }
  return w;
}

/** Bytes a DATAGRAM frame with `dataBytes` of payload takes. */
export function datagramFrameBytes(dataBytes: number): number {
  return 1 + varintLength(dataBytes) + dataBytes;
}

/**
 * Decodes every frame of a packet payload. Throws {@link WireDecodeError} on an unknown type
 * or a truncated frame; the session turns that into a FRAME_ENCODING_ERROR close.
 */
export function decodeFrames(payload: Uint8Array): Frame[] {
  const r = new ByteReader(payload);
  const frames: Frame[] = [];
  while (r.remaining > 0) {
    const type = r.u8('frame type');
    switch (type) {
      case FrameType.PADDING: {
        let length = 1;
        while (r.remaining > 0 && r.bytes[r.offset] === 0) {
          r.offset++;
          length++;
        }
        frames.push({ type: 'padding', length });
        break;
      }
      case FrameType.PING:
        frames.push({ type: 'ping' });
        break;
      case FrameType.HANDSHAKE_DONE:
        frames.push({ type: 'handshake_done' });
        break;
      case FrameType.CONNECTION_CLOSE: {
        const code = r.varint('close code');
        const length = r.varint('close reason length');
        if (length > CLOSE_REASON_BYTES_MAX) throw new WireDecodeError('close reason too long');
        const reasonBytes = r.bytesView(length, 'close reason');
        let reason = '';
        for (const b of reasonBytes) reason += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '?';
        frames.push({ type: 'connection_close', code, reason });
        break;
      }
      case FrameType.DATAGRAM: {
        const length = r.varint('datagram length');
        frames.push({ type: 'datagram', data: r.bytesView(length, 'datagram data').slice() });
        break;
      }
      default:
        throw new WireDecodeError(`unknown frame type 0x${type.toString(16)}`);
    }
  }
  return frames;
}

function toAscii(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}
