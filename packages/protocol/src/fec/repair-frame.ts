/**
 * The REPAIR frame of the session's sliding-window code and the shard layout it carries
 * (docs/fec.md, docs/protocol.md §Frames).
 *
 * FEC protects sealed packets: a source symbol is a whole protected datagram, exactly the bytes
 * sent on the wire, so a rebuilt one goes back through ordinary packet processing and is
 * accepted only if it authenticates. A source datagram of `L` bytes becomes a shard: `L` as a
 * big-endian u16, the datagram, then zero padding to the repair's length. A REPAIR frame
 * carries one linear combination over GF(2^8) of the shards of the sources it names, with
 * coefficients {@link repairCoefficient}(repair ID, i) for the i-th source named: a random
 * linear code over the sender's current window (RFC 8681's idea, on the field of @braid/fec).
 *
 * Layout after the type byte, as QUIC varints (RFC 9000 §16) unless said otherwise:
 *
 *     repair ID, run count, run*, data length, data
 *     run = path ID, first packet number, span, bitmap (⌈span / 8⌉ bytes)
 *
 * A run names packets `first … first + span − 1` of one path: bit i of the bitmap (byte i / 8,
 * least significant bit first) says whether `first + i` is a source. Its first and last bits
 * are set. Sources are listed run by run, each run's in packet-number order; runs are sorted by
 * (path ID, first packet number) and do not overlap.
 */
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
/** Most sources one REPAIR frame may combine. */
export const REPAIR_SOURCES_MAX = 255;
/** Most runs one REPAIR frame may have. */
export const REPAIR_RUNS_MAX = 16;
/** Longest run, in packet numbers: its bitmap is at most 32 bytes. */
export const REPAIR_RUN_SPAN_MAX = 256;

/** A source packet: packet numbers are per path, so the pair names it. */
export interface RepairSource {
  pathId: number;
  packetNumber: number;
}

export interface RepairFrame {
  type: 'repair';
  /** Chosen by the sender, increasing; seeds the coefficients. */
  repairId: number;
  /** The sources combined, sorted by (path ID, packet number), distinct, at least one. */
  sources: readonly RepairSource[];
  /** The combination: at least as long as every source's shard, at most {@link SHARD_BYTES_MAX}. */
  data: Uint8Array;
}

/**
 * The coefficient of the `index`-th source of the REPAIR frame `repairId`: a non-zero element
 * of GF(2^8) from a 32-bit integer hash of the two (the repair ID's low and high 32 bits are
 * mixed separately, so IDs up to 2^53 all count). Sender and receiver compute it alike.
 */
export function repairCoefficient(repairId: number, index: number): number {
  const low = repairId >>> 0;
  const high = Math.floor(repairId / 0x1_0000_0000) >>> 0;
  let x =
    Math.imul(low ^ Math.imul(high, 0x27d4eb2f), 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b);
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return 1 + ((x >>> 0) % 255);
}

interface Run {
  pathId: number;
  first: number;
  span: number;
}

/** The runs naming sorted `sources`. */
function runsOf(sources: readonly RepairSource[]): Run[] {
  const runs: Run[] = [];
  let run: Run | undefined;
  for (const { pathId, packetNumber } of sources) {
    if (
      run !== undefined &&
      run.pathId === pathId &&
      packetNumber - run.first < REPAIR_RUN_SPAN_MAX
    ) {
      run.span = packetNumber - run.first + 1;
    } else {
      run = { pathId, first: packetNumber, span: 1 };
      runs.push(run);
    }
  }
  return runs;
}

/** Bytes the frame spends naming its sources (runs and run count). */
export function repairSourcesBytes(sources: readonly RepairSource[]): number {
  const runs = runsOf(sources);
  let n = varintLength(runs.length);
  for (const r of runs)
    n +=
      varintLength(r.pathId) + varintLength(r.first) + varintLength(r.span) + ((r.span + 7) >>> 3);
  return n;
}

/** Why a frame's fields cannot describe a repair, or undefined if they can. */
export function repairFrameProblem(frame: Omit<RepairFrame, 'type'>): string | undefined {
  const { sources, data } = frame;
  if (!Number.isSafeInteger(frame.repairId) || frame.repairId < 0) return 'repair ID out of range';
  if (sources.length < 1 || sources.length > REPAIR_SOURCES_MAX)
    return `${sources.length} sources (1 to ${REPAIR_SOURCES_MAX})`;
  if (data.length < SHARD_LENGTH_PREFIX_BYTES + 1 || data.length > SHARD_BYTES_MAX)
    return `shard of ${data.length} bytes`;
  let previous: RepairSource | undefined;
  for (const s of sources) {
    const { pathId, packetNumber } = s;
    if (!Number.isSafeInteger(pathId) || pathId < 0) return `path ID ${pathId} out of range`;
    if (!Number.isSafeInteger(packetNumber) || packetNumber < 0)
      return `packet number ${packetNumber} out of range`;
    if (packetNumber > SOURCE_PACKET_NUMBER_MAX) return `packet number ${packetNumber} ≥ 2^48`;
    if (
      previous !== undefined &&
      (pathId < previous.pathId ||
        (pathId === previous.pathId && packetNumber <= previous.packetNumber))
    )
      return `sources not sorted and distinct at ${pathId}:${packetNumber}`;
    previous = s;
  }
  if (runsOf(sources).length > REPAIR_RUNS_MAX) return `more than ${REPAIR_RUNS_MAX} runs`;
  return undefined;
}

/** Writes the frame, type byte first. Throws RangeError for a frame no decoder would accept. */
export function encodeRepairFrame(frame: RepairFrame, writer: ByteWriter): ByteWriter {
  const problem = repairFrameProblem(frame);
  if (problem !== undefined) throw new RangeError(`invalid REPAIR frame: ${problem}`);
  const runs = runsOf(frame.sources);
  writer.u8(REPAIR_FRAME_TYPE).varint(frame.repairId).varint(runs.length);
  let s = 0;
  for (const run of runs) {
    writer.varint(run.pathId).varint(run.first).varint(run.span);
    const bitmap = new Uint8Array((run.span + 7) >>> 3);
    for (; s < frame.sources.length; s++) {
      const source = frame.sources[s]!;
      const offset = source.packetNumber - run.first;
      if (source.pathId !== run.pathId || offset >= run.span) break;
      bitmap[offset >>> 3]! |= 1 << (offset & 7);
    }
    writer.bytes(bitmap);
  }
  return writer.varint(frame.data.length).bytes(frame.data);
}

/**
 * Reads a REPAIR frame, the reader positioned after its type byte. Throws only
 * {@link WireDecodeError}: on truncation or any field that breaks the rules of
 * {@link RepairFrame}. `data` is a copy, so the frame outlives the packet buffer.
 */
export function decodeRepairFrame(reader: ByteReader): RepairFrame {
  const repairId = reader.varint('repair ID');
  const runCount = reader.varint('repair run count');
  // Checked before the runs are read, so a forged count cannot make the loop long.
  if (runCount < 1 || runCount > REPAIR_RUNS_MAX)
    throw new WireDecodeError(`REPAIR with ${runCount} runs`);
  const sources: RepairSource[] = [];
  for (let r = 0; r < runCount; r++) {
    const pathId = reader.varint('repair run path ID');
    const first = reader.varint('repair run first packet number');
    const span = reader.varint('repair run span');
    if (span < 1 || span > REPAIR_RUN_SPAN_MAX)
      throw new WireDecodeError(`REPAIR run of span ${span}`);
    const bitmap = reader.bytesView((span + 7) >>> 3, 'repair run bitmap');
    const lastBit = span - 1;
    if ((bitmap[0]! & 1) === 0 || (bitmap[lastBit >>> 3]! & (1 << (lastBit & 7))) === 0)
      throw new WireDecodeError('REPAIR run whose first or last packet is not a source');
    if ((bitmap[lastBit >>> 3]! >>> (lastBit & 7)) >>> 1 !== 0)
      throw new WireDecodeError('REPAIR run bitmap with bits past its span');
    for (let i = 0; i < span; i++) {
      if ((bitmap[i >>> 3]! & (1 << (i & 7))) === 0) continue;
      if (sources.length === REPAIR_SOURCES_MAX)
        throw new WireDecodeError(`REPAIR with more than ${REPAIR_SOURCES_MAX} sources`);
      sources.push({ pathId, packetNumber: first + i });
    }
  }
  const length = reader.varint('repair data length');
  if (length > SHARD_BYTES_MAX) throw new WireDecodeError(`REPAIR shard of ${length} bytes`);
  const data = reader.bytesView(length, 'repair data').slice();
  const frame: RepairFrame = { type: 'repair', repairId, sources, data };
  const problem = repairFrameProblem(frame);
  if (problem !== undefined) throw new WireDecodeError(`REPAIR: ${problem}`);
  if (runsOf(sources).length !== runCount)
    throw new WireDecodeError('REPAIR runs that are not the canonical ones');
  return frame;
}

/** Encoded size of the frame, type byte included. */
export function repairFrameBytes(frame: RepairFrame): number {
  return (
    1 +
    varintLength(frame.repairId) +
    repairSourcesBytes(frame.sources) +
    varintLength(frame.data.length) +
    frame.data.length
  );
}

/** The frame's bytes besides the combination: what naming the sources costs on the wire. */
export function repairFrameOverheadBytes(frame: RepairFrame): number {
  return repairFrameBytes(frame) - frame.data.length;
}

/** Map key of a source packet. */
export function sourceKey(pathId: number, packetNumber: number): string {
  return `${pathId}:${packetNumber}`;
}

/** Writes `packet` as a shard into `shard` (zeroed, long enough): u16 length, bytes. */
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
 * `packet` as a new shard rounded up to whole 32-bit words (zero padded), so the coding loop
 * runs on words throughout.
 */
export function wordShard(packet: Uint8Array): Uint8Array {
  const shard = new Uint8Array((SHARD_LENGTH_PREFIX_BYTES + packet.length + 3) & ~3);
  writeShard(shard, packet);
  return shard;
}

/**
 * The packet a rebuilt shard holds (a copy), or undefined if the shard cannot be one the sender
 * built: a zero or too large length, or padding that is not zero. Either means a corrupt or
 * forged repair. Corruption inside the packet's own bytes is not caught here; the AEAD catches
 * it when the rebuilt packet is opened.
 */
export function readShard(shard: Uint8Array): Uint8Array | undefined {
  if (shard.length < SHARD_LENGTH_PREFIX_BYTES) return undefined;
  const length = (shard[0]! << 8) | shard[1]!;
  const end = SHARD_LENGTH_PREFIX_BYTES + length;
  if (length === 0 || end > shard.length) return undefined;
  for (let i = end; i < shard.length; i++) if (shard[i] !== 0) return undefined;
  return shard.slice(SHARD_LENGTH_PREFIX_BYTES, end);
}
