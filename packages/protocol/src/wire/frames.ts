/**
 * Frames carried inside protected packets (docs/protocol.md §Frames). Types and layouts follow
 * QUIC (RFC 9000 §19) where the meaning is the same, so that the numbers are familiar.
 */
import { asciiBytes } from '../bytes.js';
import { ByteReader, ByteWriter, varintLength, WireDecodeError } from './codec.js';
import { CID_BYTES } from './packet.js';
import {
  decodeRepairFrame,
  encodeRepairFrame,
  REPAIR_FRAME_TYPE,
  repairFrameBytes,
  type RepairFrame,
} from '../fec/repair-frame.js';

export const FrameType = {
  PADDING: 0x00,
  PING: 0x01,
  /** ACK of path 0's packets. */
  ACK: 0x02,
  /** ACK of another path's packets: the path ID comes first. */
  PATH_ACK: 0x03,
  RESET_STREAM: 0x04,
  STOP_SENDING: 0x05,
  /** 0x08–0x0f: the low three bits are OFF (0x04), LEN (0x02) and FIN (0x01). */
  STREAM: 0x08,
  MAX_DATA: 0x10,
  MAX_STREAM_DATA: 0x11,
  MAX_STREAMS: 0x12,
  DATA_BLOCKED: 0x14,
  STREAM_DATA_BLOCKED: 0x15,
  STREAMS_BLOCKED: 0x16,
  /** A connection ID for the sender to receive on, for one path ID. */
  PATH_CID: 0x18,
  PATH_CHALLENGE: 0x1a,
  PATH_RESPONSE: 0x1b,
  CONNECTION_CLOSE: 0x1c,
  HANDSHAKE_DONE: 0x1e,
  /** FEC: one parity shard of a group of protected packets (docs/protocol.md §15). */
  REPAIR: REPAIR_FRAME_TYPE,
  /** FEC: packets of a path the sender of this frame rebuilt rather than received. */
  RECOVERED: 0x21,
  DATAGRAM: 0x31,
  /** The sender can be reached at a locator (sequence number, locator text). */
  ADD_ADDRESS: 0x3a,
  REMOVE_ADDRESS: 0x3b,
  /** The sender dropped a path; the receiver drops it too. */
  PATH_ABANDON: 0x3c,
} as const;

const STREAM_OFF = 0x04;
const STREAM_LEN = 0x02;
const STREAM_FIN = 0x01;

/** ACK frames carry at most this many ranges; older ranges are left out (RFC 9000 §13.2.4). */
export const ACK_RANGES_MAX = 64;
/** ACK delay is sent in microseconds (RFC 9000's ack_delay_exponent fixed at 0). */
export const ACK_DELAY_UNITS_PER_MS = 1000;

/** One acknowledged range, inclusive at both ends as on the wire: `[smallest, largest]`. */
export interface AckRange {
  smallest: number;
  largest: number;
}

/** Longest close reason sent or accepted, in bytes. */
export const CLOSE_REASON_BYTES_MAX = 256;
/** Longest locator text in ADD_ADDRESS (an IPv6 address with zone and port fits). */
export const LOCATOR_BYTES_MAX = 128;
/** PATH_CHALLENGE / PATH_RESPONSE carry this many bytes (RFC 9000 §19.17). */
export const PATH_CHALLENGE_BYTES = 8;

export type Frame =
  | { type: 'padding'; length: number }
  | { type: 'ping' }
  /** Ranges in descending order, as sent; `ackDelayMs` as measured by the sender. */
  /** `pathId` 0 (or absent) is path 0's ACK; others are PATH_ACKs. */
  | { type: 'ack'; pathId?: number; ranges: AckRange[]; ackDelayMs: number }
  | { type: 'reset_stream'; streamId: number; code: number; finalSize: number }
  | { type: 'stop_sending'; streamId: number; code: number }
  | { type: 'stream'; streamId: number; offset: number; data: Uint8Array; fin: boolean }
  | { type: 'max_data'; max: number }
  | { type: 'max_stream_data'; streamId: number; max: number }
  | { type: 'max_streams'; max: number }
  | { type: 'data_blocked'; limit: number }
  | { type: 'stream_data_blocked'; streamId: number; limit: number }
  | { type: 'streams_blocked'; limit: number }
  | { type: 'connection_close'; code: number; reason: string }
  | { type: 'handshake_done' }
  | { type: 'datagram'; data: Uint8Array }
  | { type: 'path_cid'; pathId: number; cid: Uint8Array }
  | { type: 'path_challenge'; data: Uint8Array }
  | { type: 'path_response'; data: Uint8Array }
  | { type: 'add_address'; seq: number; locator: string }
  | { type: 'remove_address'; seq: number }
  | { type: 'path_abandon'; pathId: number }
  | RepairFrame
  /** Packet numbers of path `pathId` rebuilt by FEC; ranges in descending order, as in ACK. */
  | { type: 'recovered'; pathId: number; ranges: AckRange[] };

/** Whether receiving the frame obliges the receiver to answer (RFC 9002 §2 "ack-eliciting"). */
export function isAckEliciting(frame: Frame): boolean {
  // PATH_* frames elicit ACKs too: a path is proven alive by acknowledgements.
  // RECOVERED rides with ACKs and, like them, asks for no answer.
  return (
    frame.type !== 'padding' &&
    frame.type !== 'ack' &&
    frame.type !== 'recovered' &&
    frame.type !== 'connection_close'
  );
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
      case 'ack':
        encodeAck(w, f.pathId ?? 0, f.ranges, f.ackDelayMs);
        break;
      case 'repair':
        encodeRepairFrame(f, w);
        break;
      case 'recovered':
        w.u8(FrameType.RECOVERED)
          .varint(f.pathId)
          .varint(f.ranges.length - 1);
        encodeRanges(w, f.ranges);
        break;
      case 'path_cid':
        w.u8(FrameType.PATH_CID).varint(f.pathId).bytes(f.cid);
        break;
      case 'path_challenge':
        w.u8(FrameType.PATH_CHALLENGE).bytes(f.data);
        break;
      case 'path_response':
        w.u8(FrameType.PATH_RESPONSE).bytes(f.data);
        break;
      case 'add_address': {
        const text = asciiBytes(toAscii(f.locator).slice(0, LOCATOR_BYTES_MAX));
        w.u8(FrameType.ADD_ADDRESS).varint(f.seq).varint(text.length).bytes(text);
        break;
      }
      case 'remove_address':
        w.u8(FrameType.REMOVE_ADDRESS).varint(f.seq);
        break;
      case 'path_abandon':
        w.u8(FrameType.PATH_ABANDON).varint(f.pathId);
        break;
      case 'reset_stream':
        w.u8(FrameType.RESET_STREAM).varint(f.streamId).varint(f.code).varint(f.finalSize);
        break;
      case 'stop_sending':
        w.u8(FrameType.STOP_SENDING).varint(f.streamId).varint(f.code);
        break;
      case 'stream':
        w.u8(FrameType.STREAM | STREAM_OFF | STREAM_LEN | (f.fin ? STREAM_FIN : 0));
        w.varint(f.streamId).varint(f.offset).varint(f.data.length).bytes(f.data);
        break;
      case 'max_data':
        w.u8(FrameType.MAX_DATA).varint(f.max);
        break;
      case 'max_stream_data':
        w.u8(FrameType.MAX_STREAM_DATA).varint(f.streamId).varint(f.max);
        break;
      case 'max_streams':
        w.u8(FrameType.MAX_STREAMS).varint(f.max);
        break;
      case 'data_blocked':
        w.u8(FrameType.DATA_BLOCKED).varint(f.limit);
        break;
      case 'stream_data_blocked':
        w.u8(FrameType.STREAM_DATA_BLOCKED).varint(f.streamId).varint(f.limit);
        break;
      case 'streams_blocked':
        w.u8(FrameType.STREAMS_BLOCKED).varint(f.limit);
        break;
    }
  }
  return w;
}

function encodeAck(
  w: ByteWriter,
  pathId: number,
  ranges: readonly AckRange[],
  ackDelayMs: number,
): void {
  const first = ranges[0];
  if (!first) throw new RangeError('an ACK frame needs at least one range');
  const delay = Math.max(0, Math.round(ackDelayMs * ACK_DELAY_UNITS_PER_MS));
  if (pathId === 0) w.u8(FrameType.ACK);
  else w.u8(FrameType.PATH_ACK).varint(pathId);
  w.varint(first.largest)
    .varint(delay)
    .varint(ranges.length - 1);
  encodeRanges(w, ranges, true);
}

/**
 * The ranges of an ACK (after its range count) or of a RECOVERED frame (which writes the
 * first range's largest here too): the first range's length, then gap and length pairs.
 */
function encodeRanges(w: ByteWriter, ranges: readonly AckRange[], largestWritten = false): void {
  const first = ranges[0];
  if (!first) throw new RangeError('a range list needs at least one range');
  if (!largestWritten) w.varint(first.largest);
  w.varint(first.largest - first.smallest);
  let smallest = first.smallest;
  for (let i = 1; i < ranges.length; i++) {
    const r = ranges[i]!;
    // RFC 9000 §19.3.1: gap = previous smallest - this largest - 2; length = largest - smallest.
    w.varint(smallest - r.largest - 2).varint(r.largest - r.smallest);
    smallest = r.smallest;
  }
}

/** Bytes a STREAM frame header takes before its data (type, id, offset, length). */
export function streamFrameOverhead(streamId: number, offset: number, dataBytes: number): number {
  return 1 + varintLength(streamId) + varintLength(offset) + varintLength(dataBytes);
}

/**
 * Bytes `frame` takes encoded, computed without encoding the frames a packet is filled with
 * on every send (ACK, STREAM, DATAGRAM); others, rare, are measured by encoding them.
 */
export function frameBytes(frame: Frame): number {
  switch (frame.type) {
    case 'stream':
      return (
        streamFrameOverhead(frame.streamId, frame.offset, frame.data.length) + frame.data.length
      );
    case 'datagram':
      return datagramFrameBytes(frame.data.length);
    case 'repair':
      return repairFrameBytes(frame);
    case 'ack': {
      const pathId = frame.pathId ?? 0;
      const delay = Math.max(0, Math.round(frame.ackDelayMs * ACK_DELAY_UNITS_PER_MS));
      const first = frame.ranges[0];
      if (!first) throw new RangeError('an ACK frame needs at least one range');
      let n = 1 + (pathId === 0 ? 0 : varintLength(pathId));
      n +=
        varintLength(first.largest) + varintLength(delay) + varintLength(frame.ranges.length - 1);
      n += varintLength(first.largest - first.smallest);
      let smallest = first.smallest;
      for (let i = 1; i < frame.ranges.length; i++) {
        const r = frame.ranges[i]!;
        n += varintLength(smallest - r.largest - 2) + varintLength(r.largest - r.smallest);
        smallest = r.smallest;
      }
      return n;
    }
    default:
      return encodeFrames([frame]).length;
  }
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
      case FrameType.ACK:
        frames.push(decodeAck(r, 0));
        break;
      case FrameType.PATH_ACK:
        frames.push(decodeAck(r, readPathId(r)));
        break;
      case FrameType.PATH_CID:
        frames.push({
          type: 'path_cid',
          pathId: readPathId(r),
          cid: r.bytesView(CID_BYTES, 'connection id').slice(),
        });
        break;
      case FrameType.PATH_CHALLENGE:
      case FrameType.PATH_RESPONSE:
        frames.push({
          type: type === FrameType.PATH_CHALLENGE ? 'path_challenge' : 'path_response',
          data: r.bytesView(PATH_CHALLENGE_BYTES, 'path challenge data').slice(),
        });
        break;
      case FrameType.ADD_ADDRESS: {
        const seq = r.varint('address sequence');
        const length = r.varint('locator length');
        if (length === 0 || length > LOCATOR_BYTES_MAX)
          throw new WireDecodeError(`locator of ${length} bytes`);
        const text = r.bytesView(length, 'locator');
        let locator = '';
        for (const b of text) {
          if (b < 0x21 || b >= 0x7f) throw new WireDecodeError('locator is not printable ASCII');
          locator += String.fromCharCode(b);
        }
        frames.push({ type: 'add_address', seq, locator });
        break;
      }
      case FrameType.REMOVE_ADDRESS:
        frames.push({ type: 'remove_address', seq: r.varint('address sequence') });
        break;
      case FrameType.PATH_ABANDON:
        frames.push({ type: 'path_abandon', pathId: readPathId(r) });
        break;
      case FrameType.REPAIR:
        frames.push(decodeRepairFrame(r));
        break;
      case FrameType.RECOVERED: {
        const pathId = readPathId(r);
        const count = r.varint('recovered range count');
        const largest = r.varint('recovered largest');
        frames.push({ type: 'recovered', pathId, ranges: decodeRanges(r, largest, count) });
        break;
      }
      case FrameType.RESET_STREAM:
        frames.push({
          type: 'reset_stream',
          streamId: r.varint('stream id'),
          code: r.varint('reset code'),
          finalSize: r.varint('final size'),
        });
        break;
      case FrameType.STOP_SENDING:
        frames.push({
          type: 'stop_sending',
          streamId: r.varint('stream id'),
          code: r.varint('stop code'),
        });
        break;
      case FrameType.MAX_DATA:
        frames.push({ type: 'max_data', max: r.varint('max data') });
        break;
      case FrameType.MAX_STREAM_DATA:
        frames.push({
          type: 'max_stream_data',
          streamId: r.varint('stream id'),
          max: r.varint('max stream data'),
        });
        break;
      case FrameType.MAX_STREAMS:
        frames.push({ type: 'max_streams', max: r.varint('max streams') });
        break;
      case FrameType.DATA_BLOCKED:
        frames.push({ type: 'data_blocked', limit: r.varint('data limit') });
        break;
      case FrameType.STREAM_DATA_BLOCKED:
        frames.push({
          type: 'stream_data_blocked',
          streamId: r.varint('stream id'),
          limit: r.varint('stream data limit'),
        });
        break;
      case FrameType.STREAMS_BLOCKED:
        frames.push({ type: 'streams_blocked', limit: r.varint('streams limit') });
        break;
      default:
        if ((type & ~0x07) === FrameType.STREAM) {
          frames.push(decodeStream(r, type));
          break;
        }
        throw new WireDecodeError(`unknown frame type 0x${type.toString(16)}`);
    }
  }
  return frames;
}

function decodeAck(r: ByteReader, pathId: number): Frame {
  const largest = r.varint('ack largest');
  const delay = r.varint('ack delay');
  const count = r.varint('ack range count');
  if (count >= ACK_RANGES_MAX * 4) throw new WireDecodeError(`ACK with ${count + 1} ranges`);
  const ranges = decodeRanges(r, largest, count);
  const ackDelayMs = delay / ACK_DELAY_UNITS_PER_MS;
  return pathId === 0
    ? { type: 'ack', ranges, ackDelayMs }
    : { type: 'ack', pathId, ranges, ackDelayMs };
}

/** Reads `count` + 1 ranges below `largest` (RFC 9000 §19.3.1), for ACK and RECOVERED. */
function decodeRanges(r: ByteReader, largest: number, count: number): AckRange[] {
  if (count >= ACK_RANGES_MAX * 4) throw new WireDecodeError(`${count + 1} ranges`);
  const firstLength = r.varint('first range');
  if (firstLength > largest) throw new WireDecodeError('range below packet number 0');
  const ranges: AckRange[] = [{ smallest: largest - firstLength, largest }];
  let smallest = largest - firstLength;
  for (let i = 0; i < count; i++) {
    const gap = r.varint('range gap');
    const length = r.varint('range length');
    const high = smallest - gap - 2;
    if (high < 0 || length > high) throw new WireDecodeError('range below packet number 0');
    ranges.push({ smallest: high - length, largest: high });
    smallest = high - length;
  }
  return ranges;
}

/** Path IDs go into the AEAD nonce's first 32 bits, so they stay below 2^32. */
export const PATH_ID_MAX = 2 ** 32 - 1;

function readPathId(r: ByteReader): number {
  const id = r.varint('path id');
  if (id > PATH_ID_MAX) throw new WireDecodeError(`path id ${id} beyond 2^32`);
  return id;
}

function decodeStream(r: ByteReader, type: number): Frame {
  const streamId = r.varint('stream id');
  const offset = type & STREAM_OFF ? r.varint('stream offset') : 0;
  const length = type & STREAM_LEN ? r.varint('stream length') : r.remaining;
  // A view into the packet's plaintext, which is freshly allocated per packet: no copy.
  const data = r.bytesView(length, 'stream data');
  if (offset + length > STREAM_OFFSET_MAX) throw new WireDecodeError('stream offset beyond 2^62');
  return { type: 'stream', streamId, offset, data, fin: (type & STREAM_FIN) !== 0 };
}

/** RFC 9000 §19.8: the largest offset a stream may reach. */
export const STREAM_OFFSET_MAX = 2 ** 53 - 1;

function toAscii(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}
