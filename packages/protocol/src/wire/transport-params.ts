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
}

const ParamType = { CONNECTION_ID: 0x01, MAX_DATAGRAM_FRAME_BYTES: 0x02, IDLE_TIMEOUT_MS: 0x03 };
/** Refuse parameter blocks longer than this: they are sent in the first flight. */
export const TRANSPORT_PARAMS_BYTES_MAX = 512;

export function encodeTransportParams(p: TransportParams): Uint8Array {
  const w = new ByteWriter(64);
  w.u8(ParamType.CONNECTION_ID).u16(CID_BYTES).bytes(p.connectionId);
  w.u8(ParamType.MAX_DATAGRAM_FRAME_BYTES).u16(4).u32(p.maxDatagramFrameBytes);
  w.u8(ParamType.IDLE_TIMEOUT_MS).u16(4).u32(p.idleTimeoutMs);
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
      default:
        break; // unknown: skipped for forward compatibility
    }
  }
  if (!connectionId) throw new WireDecodeError('transport parameters lack a connection ID');
  return { connectionId, maxDatagramFrameBytes, idleTimeoutMs };
}
