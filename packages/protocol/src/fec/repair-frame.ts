/**
 * The REPAIR frame and the shard layout it carries (issue 7, adaptive FEC).
 *
 * FEC protects sealed packets: a group's source shards are whole protected datagrams, exactly
 * the bytes sent on the wire, so a rebuilt one goes back through ordinary packet processing and
 * is accepted only if it authenticates. A source datagram of `L` bytes becomes a shard of
 * `shardBytes` bytes: `L` as a big-endian u16, the datagram, zero padding. `shardBytes` is
 * `2 + ` the longest datagram of the group, and a REPAIR frame carries one Reed–Solomon parity
 * shard of the group's `k` source shards, so its data length is the group's `shardBytes`.
 *
 * Layout after the type byte, as QUIC varints (RFC 9000 §16): group ID, k, m, parity index,
 * then k (path ID, packet number) pairs in shard order, then the shard's length and bytes.
 */
import { MAX_TOTAL_SHARDS, ReedSolomon } from '@braid/fec';
import { varintLength, WireDecodeError, type ByteReader, type ByteWriter } from '../wire/codec.js';

/** Frame type of REPAIR (unassigned in RFC 9000 and in docs/protocol.md §Frames). */
export const REPAIR_FRAME_TYPE = 0x20;
/** Bytes of the length prefix at the head of every shard. */
export const SHARD_LENGTH_PREFIX_BYTES = 2;
/** Longest datagram a shard holds: the length prefix is a u16. */
export const SHARD_PACKET_BYTES_MAX = 0xffff;
/** Longest shard, hence longest REPAIR data. */
export const SHARD_BYTES_MAX = SHARD_PACKET_BYTES_MAX + SHARD_LENGTH_PREFIX_BYTES;
/** Largest packet number a source may have: packet numbers are 48-bit (docs/protocol.md). */
export const SOURCE_PACKET_NUMBER_MAX = 2 ** 48 - 1;

/** A source packet: packet numbers are per path, so the pair names it. */
export interface RepairSource {
  pathId: number;
  packetNumber: number;
}

export interface RepairFrame {
  type: 'repair';
  /** Chosen by the sender, increasing; names the group across its m REPAIR frames. */
  groupId: number;
  /** Source packets in the group (1 ≤ k, k + m ≤ 255). */
  k: number;
  /** Parity shards in the group (≥ 1). */
  m: number;
  /** Which parity shard this is, 0 ≤ index < m. */
  index: number;
  /** The group's k source packets, in shard order, distinct. */
  sources: readonly RepairSource[];
  /** The parity shard: the group's shard size, 2 ≤ length ≤ {@link SHARD_BYTES_MAX}. */
  data: Uint8Array;
}

/** Why a frame's fields cannot describe a group, or undefined if they can. */
export function repairFrameProblem(frame: Omit<RepairFrame, 'type'>): string | undefined {
  const { k, m, index, sources, data } = frame;
  if (!Number.isSafeInteger(frame.groupId) || frame.groupId < 0) return 'group ID out of range';
  if (!Number.isInteger(k) || k < 1) return `k must be ≥ 1, got ${k}`;
  if (!Number.isInteger(m) || m < 1) return `m must be ≥ 1, got ${m}`;
  if (k + m > MAX_TOTAL_SHARDS) return `k + m must be ≤ ${MAX_TOTAL_SHARDS}, got ${k + m}`;
  if (!Number.isInteger(index) || index < 0 || index >= m)
    return `parity index ${index} out of range for m = ${m}`;
  if (sources.length !== k) return `${sources.length} sources for k = ${k}`;
  if (data.length < SHARD_LENGTH_PREFIX_BYTES || data.length > SHARD_BYTES_MAX)
    return `shard of ${data.length} bytes`;
  const seen = new Set<string>();
  for (const { pathId, packetNumber } of sources) {
    if (!Number.isSafeInteger(pathId) || pathId < 0) return `path ID ${pathId} out of range`;
    if (!Number.isSafeInteger(packetNumber) || packetNumber < 0)
      return `packet number ${packetNumber} out of range`;
    if (packetNumber > SOURCE_PACKET_NUMBER_MAX) return `packet number ${packetNumber} ≥ 2^48`;
    const key = sourceKey(pathId, packetNumber);
    if (seen.has(key)) return `source ${key} listed twice`;
    seen.add(key);
  }
  return undefined;
}

/** Writes the frame, type byte first. Throws RangeError for a frame no decoder would accept. */
export function encodeRepairFrame(frame: RepairFrame, writer: ByteWriter): ByteWriter {
  const problem = repairFrameProblem(frame);
  if (problem !== undefined) throw new RangeError(`invalid REPAIR frame: ${problem}`);
  writer.u8(REPAIR_FRAME_TYPE).varint(frame.groupId).varint(frame.k).varint(frame.m);
  writer.varint(frame.index);
  for (const s of frame.sources) writer.varint(s.pathId).varint(s.packetNumber);
  return writer.varint(frame.data.length).bytes(frame.data);
}

/**
 * Reads a REPAIR frame, the reader positioned after its type byte. Throws only
 * {@link WireDecodeError}: on truncation or any field that breaks the rules of
 * {@link RepairFrame}. `data` is a copy, so the frame outlives the packet buffer.
 */
export function decodeRepairFrame(reader: ByteReader): RepairFrame {
  const groupId = reader.varint('repair group ID');
  const k = reader.varint('repair k');
  const m = reader.varint('repair m');
  const index = reader.varint('repair index');
  // Checked before the sources are read, so a forged k cannot make the loop long.
  if (k < 1 || m < 1 || k + m > MAX_TOTAL_SHARDS)
    throw new WireDecodeError(`REPAIR k = ${k}, m = ${m} out of range`);
  const sources: RepairSource[] = [];
  for (let i = 0; i < k; i++) {
    const pathId = reader.varint('repair source path ID');
    const packetNumber = reader.varint('repair source packet number');
    sources.push({ pathId, packetNumber });
  }
  const length = reader.varint('repair data length');
  if (length > SHARD_BYTES_MAX) throw new WireDecodeError(`REPAIR shard of ${length} bytes`);
  const data = reader.bytesView(length, 'repair data').slice();
  const frame: RepairFrame = { type: 'repair', groupId, k, m, index, sources, data };
  const problem = repairFrameProblem(frame);
  if (problem !== undefined) throw new WireDecodeError(`REPAIR: ${problem}`);
  return frame;
}

/** Encoded size of the frame, type byte included. */
export function repairFrameBytes(frame: RepairFrame): number {
  let n = 1 + varintLength(frame.groupId) + varintLength(frame.k) + varintLength(frame.m);
  n += varintLength(frame.index);
  for (const s of frame.sources) n += varintLength(s.pathId) + varintLength(s.packetNumber);
  return n + varintLength(frame.data.length) + frame.data.length;
}

/** The frame's bytes besides the parity shard: what naming the group costs on the wire. */
export function repairFrameOverheadBytes(frame: RepairFrame): number {
  return repairFrameBytes(frame) - frame.data.length;
}

/** Map key of a source packet. */
export function sourceKey(pathId: number, packetNumber: number): string {
  return `${pathId}:${packetNumber}`;
}

/** Writes `packet` as a shard into `shard` (zeroed, `shardBytes` long): u16 length, bytes. */
export function writeShard(shard: Uint8Array, packet: Uint8Array): void {
  if (packet.length + SHARD_LENGTH_PREFIX_BYTES > shard.length)
    throw new RangeError(
      `a ${packet.length}-byte packet does not fit a ${shard.length}-byte shard`,
    );
  shard[0] = packet.length >>> 8;
  shard[1] = packet.length & 0xff;
  shard.set(packet, SHARD_LENGTH_PREFIX_BYTES);
}

/**
 * The packet a rebuilt shard holds (a copy), or undefined if the shard cannot be one the sender
 * built: a zero or too large length, or padding that is not zero. Either means a corrupt or
 * forged repair shard. Corruption inside the packet's own bytes is not caught here; the AEAD
 * catches it when the rebuilt packet is opened.
 */
export function readShard(shard: Uint8Array): Uint8Array | undefined {
  if (shard.length < SHARD_LENGTH_PREFIX_BYTES) return undefined;
  const length = (shard[0]! << 8) | shard[1]!;
  const end = SHARD_LENGTH_PREFIX_BYTES + length;
  if (length === 0 || end > shard.length) return undefined;
  for (let i = end; i < shard.length; i++) if (shard[i] !== 0) return undefined;
  return shard.slice(SHARD_LENGTH_PREFIX_BYTES, end);
}

/** Distinct (k, m) codecs kept per {@link CodecCache}; a session uses a handful. */
export const CODECS_MAX = 16;

/**
 * Reed–Solomon codecs by (k, m), least recently used evicted: building one inverts a k × k
 * matrix, and each keeps its own cache of decode matrices, so they are worth keeping.
 */
export class CodecCache {
  private readonly codecs = new Map<number, ReedSolomon>();

  constructor(private readonly max = CODECS_MAX) {}

  get(k: number, m: number): ReedSolomon {
    const key = k * 256 + m;
    let codec = this.codecs.get(key);
    if (codec !== undefined) this.codecs.delete(key);
    else codec = new ReedSolomon(k, m);
    this.codecs.set(key, codec);
    if (this.codecs.size > this.max) this.codecs.delete(this.codecs.keys().next().value!);
    return codec;
  }

  get size(): number {
    return this.codecs.size;
  }
}
