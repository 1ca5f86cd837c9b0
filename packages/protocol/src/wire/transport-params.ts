/**
 * Transport parameters: what each side tells the other inside its encrypted handshake
 * payload (docs/protocol.md §Transport parameters). TLV: type u8, length u16, value.
 * Unknown types are skipped so that later versions can add parameters.
 */
import { ByteReader, ByteWriter, WireDecodeError } from './codec.js';
import { CID_BYTES } from './packet.js';

export interface TransportParams {
  /** The connection ID the sender wants to receive on; must equal the packet's source CID. */
  connectionId: Uint8Array;
  /** Largest DATAGRAM frame payload the sender accepts. */
  maxDatagramFrameBytes: number;
  /** The sender closes the session after this long without receiving anything (0 = never). */
  idleTimeoutMs: number;
  /** Session-level flow-control credit: bytes of stream data the sender accepts in all. */
  initialMaxData: number;
  /** Per-stream credit for every stream, in bytes. */
  initialMaxStreamData: number;
  /** How many streams the peer may open (cumulative count, raised later by MAX_STREAMS). */
  initialMaxStreams: number;
  /** The sender acknowledges ack-eliciting packets within this many milliseconds. */
  maxAckDelayMs: number;
  /** Largest datagram (UDP payload) the sender wants to receive: its configured size. */
  maxUdpPayloadBytes: number;
}

const ParamType = {
  CONNECTION_ID: 0x01,
  MAX_DATAGRAM_FRAME_BYTES: 0x02,
  IDLE_TIMEOUT_MS: 0x03,
  INITIAL_MAX_DATA: 0x04,
  INITIAL_MAX_STREAM_DATA: 0x05,
  INITIAL_MAX_STREAMS: 0x06,
  MAX_ACK_DELAY_MS: 0x07,
  MAX_UDP_PAYLOAD_BYTES: 0x08,
};
/** Values assumed for parameters a peer leaves out. */
const DEFAULTS = {
  initialMaxData: 0,
  initialMaxStreamData: 0,
  initialMaxStreams: 0,
  maxAckDelayMs: 25,
  maxUdpPayloadBytes: 65_527,
};
/** RFC 9000 §18.2: max_ack_delay values of 2^14 ms or more are invalid. */
export const MAX_ACK_DELAY_MS_LIMIT = 2 ** 14;
/** Refuse parameter blocks longer than this: they are sent in the first flight. */
export const TRANSPORT_PARAMS_BYTES_MAX = 512;

export function encodeTransportParams(p: TransportParams): Uint8Array {
  const w = new ByteWriter(64);
  w.u8(ParamType.CONNECTION_ID).u16(CID_BYTES).bytes(p.connectionId);
  w.u8(ParamType.MAX_DATAGRAM_FRAME_BYTES).u16(4).u32(p.maxDatagramFrameBytes);
  w.u8(ParamType.IDLE_TIMEOUT_MS).u16(4).u32(p.idleTimeoutMs);
  w.u8(ParamType.INITIAL_MAX_DATA).u16(8).u64(p.initialMaxData);
  w.u8(ParamType.INITIAL_MAX_STREAM_DATA).u16(8).u64(p.initialMaxStreamData);
  w.u8(ParamType.INITIAL_MAX_STREAMS).u16(4).u32(p.initialMaxStreams);
  w.u8(ParamType.MAX_ACK_DELAY_MS).u16(4).u32(p.maxAckDelayMs);
  w.u8(ParamType.MAX_UDP_PAYLOAD_BYTES).u16(4).u32(p.maxUdpPayloadBytes);
  return w.finish();
}

/** Throws {@link WireDecodeError} on a malformed block or a missing connection ID. */
export function decodeTransportParams(bytes: Uint8Array): TransportParams {
  if (bytes.length > TRANSPORT_PARAMS_BYTES_MAX)
    throw new WireDecodeError('transport parameters too long');
  const r = new ByteReader(bytes);
  let connectionId: Uint8Array | undefined;
  let maxDatagramFrameBytes = 0;
  let idleTimeoutMs = 0;
  const more = { ...DEFAULTS };
  const seen = new Set<number>();
  while (r.remaining > 0) {
    const type = r.u8('parameter type');
    const length = r.u16('parameter length');
    const value = new ByteReader(r.bytesView(length, 'parameter value'));
    if (seen.has(type)) throw new WireDecodeError(`duplicate transport parameter ${type}`);
    seen.add(type);
    switch (type) {
      case ParamType.CONNECTION_ID:
        if (length !== CID_BYTES) throw new WireDecodeError('connection ID parameter length');
        connectionId = value.bytesView(CID_BYTES).slice();
        break;
      case ParamType.MAX_DATAGRAM_FRAME_BYTES:
        if (length !== 4) throw new WireDecodeError('max_datagram_frame_bytes length');
        maxDatagramFrameBytes = value.u32();
        break;
      case ParamType.IDLE_TIMEOUT_MS:
        if (length !== 4) throw new WireDecodeError('idle_timeout_ms length');
        idleTimeoutMs = value.u32();
        break;
      case ParamType.INITIAL_MAX_DATA:
        more.initialMaxData = u64Param(value, length, 'initial_max_data');
        break;
      case ParamType.INITIAL_MAX_STREAM_DATA:
        more.initialMaxStreamData = u64Param(value, length, 'initial_max_stream_data');
        break;
      case ParamType.INITIAL_MAX_STREAMS:
        if (length !== 4) throw new WireDecodeError('initial_max_streams length');
        more.initialMaxStreams = value.u32();
        break;
      case ParamType.MAX_ACK_DELAY_MS:
        if (length !== 4) throw new WireDecodeError('max_ack_delay_ms length');
        more.maxAckDelayMs = value.u32();
        if (more.maxAckDelayMs >= MAX_ACK_DELAY_MS_LIMIT)
          throw new WireDecodeError(`max_ack_delay_ms ${more.maxAckDelayMs} too large`);
        break;
      case ParamType.MAX_UDP_PAYLOAD_BYTES:
        if (length !== 4) throw new WireDecodeError('max_udp_payload_bytes length');
        more.maxUdpPayloadBytes = value.u32();
        // RFC 9000 §18.2: below 1200 is invalid (every path must carry 1200).
        if (more.maxUdpPayloadBytes < 1200)
          throw new WireDecodeError(`max_udp_payload_bytes ${more.maxUdpPayloadBytes} below 1200`);
        break;
      default:
        break; // unknown: skipped for forward compatibility
    }
  }
  if (!connectionId) throw new WireDecodeError('transport parameters lack a connection ID');
  return { connectionId, maxDatagramFrameBytes, idleTimeoutMs, ...more };
}

/** A 64-bit big-endian count, refused above 2^53 - 1. */
function u64Param(value: ByteReader, length: number, name: string): number {
  if (length !== 8) throw new WireDecodeError(`${name} length`);
  const high = value.u32(name);
  const low = value.u32(name);
  if (high >= 0x20_0000) throw new WireDecodeError(`${name} exceeds 2^53-1`);
  return high * 2 ** 32 + low;
}
