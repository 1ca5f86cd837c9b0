/**
 * The receiving side of the session's sliding-window code (docs/fec.md): keeps recently
 * received protected packets and the REPAIR equations that still name missing ones, and solves
 * for the missing packets by Gaussian elimination over GF(2^8) as equations and late packets
 * arrive.
 *
 * The equations are kept in reduced row echelon form: each has a pivot, a missing packet no
 * other equation names. A new equation is reduced by the pivots it names; if anything is left it
 * becomes an equation with a new pivot, which is then eliminated from the others. An equation
 * left naming its pivot alone has solved it. A packet that arrives after equations named it as
 * missing is substituted into them. So one loss is rebuilt by the first repair that names it,
 * and n losses by any n independent repairs that name them.
 *
 * Call order: `onPacket` for every protected datagram that authenticated, with the bytes
 * exactly as received (before any in-place decryption); `onRepair` for every REPAIR frame.
 * Only authenticated packets: the first copy of a (path, packet number) is the one kept.
 * Both return the packets the call rebuilt; feed each into ordinary packet processing, which
 * authenticates it (a corrupt or forged repair yields bytes that fail the AEAD) and drops it if
 * it is a duplicate; report a failure with `onRebuiltRejected()`. Do not pass rebuilt packets
 * to `onPacket`.
 *
 * Every store is bounded by count, bytes and age; what a bound evicts is the oldest.
 */
import { gfDiv, gfMul, mulXorInto } from '@braid/fec';
import { copyBytes } from '../bytes.js';
import { InvalidOptionError } from '../errors.js';
import {
  readShard,
  repairCoefficient,
  repairFrameProblem,
  SHARD_LENGTH_PREFIX_BYTES,
  SHARD_PACKET_BYTES_MAX,
  sourceKey,
  wordShard,
  type RepairFrame,
  type RepairSource,
} from './repair-frame.js';

/** Default bound on received packets kept for equations to come. */
export const FEC_RECEIVED_PACKETS_MAX_DEFAULT = 1024;
/** Default bound on equations kept while they name missing packets. */
export const FEC_EQUATIONS_MAX_DEFAULT = 128;
/**
 * Default age after which a kept packet or an unsolved equation is dropped: by then the
 * sender's loss recovery has retransmitted what was lost.
 */
export const FEC_MAX_AGE_MS_DEFAULT = 2000;

export interface FecWindowDecoderOptions {
  /** Received packets kept at most. Default {@link FEC_RECEIVED_PACKETS_MAX_DEFAULT}. */
  maxPackets?: number;
  /** Unsolved equations kept at most. Default {@link FEC_EQUATIONS_MAX_DEFAULT}. */
  maxEquations?: number;
  /** Packets and equations older than this are dropped. Default {@link FEC_MAX_AGE_MS_DEFAULT}. */
  maxAgeMs?: number;
}

/** A source packet rebuilt from repairs: sealed bytes, to be opened as if received. */
export interface RebuiltPacket {
  pathId: number;
  packetNumber: number;
  bytes: Uint8Array;
}

/** Counters since construction and current memory use; a snapshot. */
export interface FecReceiveStats {
  /** Packets rebuilt and returned. */
  recovered: number;
  /** REPAIR frames that named no missing packet (nothing was lost, or it was rebuilt already). */
  redundantRepairs: number;
  /** REPAIR frames whose equation followed from the ones kept (linearly dependent). */
  dependentRepairs: number;
  /** Packets withheld because their rebuilt shard was impossible (corrupt or forged repair). */
  corrupt: number;
  /** REPAIR frames shorter than a packet they name, which the sender never builds. */
  inconsistent: number;
  /** Equations dropped (by age or the bound) while they still named missing packets. */
  unrecovered: number;
  /** Rebuilt packets the caller found did not authenticate. */
  rebuiltRejected: number;
  bufferedPackets: number;
  pendingEquations: number;
}

interface ReceivedPacket {
  /** The shard: length prefix, packet, zeros to a whole number of words. */
  shard: Uint8Array;
  atMs: number;
}

interface Equation {
  /** Coefficient of each missing packet it names, by source key. */
  coefficients: Map<string, number>;
  sources: Map<string, RepairSource>;
  /** The combination of the missing packets' shards; grows to the longest shard combined. */
  rhs: Uint8Array;
  /** Its pivot, whose coefficient is 1 and which no other equation names. */
  pivot: string;
  atMs: number;
}

const NOTHING: readonly RebuiltPacket[] = Object.freeze([]);

/** Bytes rounded up to a whole number of 32-bit words. */
const wordBytes = (n: number) => (n + 3) & ~3;

export class FecWindowDecoder {
  private readonly maxPackets: number;
  private readonly maxEquations: number;
  private readonly maxAgeMs: number;
  /** By source key, in arrival order (rebuilt packets included, so later repairs use them). */
  private readonly received = new Map<string, ReceivedPacket>();
  /** By pivot, in creation order. */
  private readonly equations = new Map<string, Equation>();
  private recovered = 0;
  private redundantRepairs = 0;
  private dependentRepairs = 0;
  private corrupt = 0;
  private inconsistent = 0;
  private unrecovered = 0;
  private rebuiltRejected = 0;

  constructor(options: FecWindowDecoderOptions = {}) {
    this.maxPackets = options.maxPackets ?? FEC_RECEIVED_PACKETS_MAX_DEFAULT;
    this.maxEquations = options.maxEquations ?? FEC_EQUATIONS_MAX_DEFAULT;
    this.maxAgeMs = options.maxAgeMs ?? FEC_MAX_AGE_MS_DEFAULT;
    if (!Number.isInteger(this.maxPackets) || this.maxPackets < 1)
      throw new InvalidOptionError(`maxPackets must be ≥ 1, got ${this.maxPackets}`);
    if (!Number.isInteger(this.maxEquations) || this.maxEquations < 1)
      throw new InvalidOptionError(`maxEquations must be ≥ 1, got ${this.maxEquations}`);
    if (!(this.maxAgeMs > 0))
      throw new InvalidOptionError(`maxAgeMs must be > 0, got ${this.maxAgeMs}`);
  }

  /** A protected packet authenticated: keep it, and use it in the equations that miss it. */
  onPacket(
    now: number,
    pathId: number,
    packetNumber: number,
    bytes: Uint8Array,
  ): readonly RebuiltPacket[] {
    this.expire(now);
    if (bytes.length < 1 || bytes.length > SHARD_PACKET_BYTES_MAX) return NOTHING;
    const key = sourceKey(pathId, packetNumber);
    if (this.received.has(key)) return NOTHING;
    const shard = wordShard(bytes);
    this.keep(key, shard, now);
    return this.substitute(key, shard);
  }

  /** A REPAIR frame: its equation, reduced by what is known; returns what it solved. */
  onRepair(now: number, frame: RepairFrame): readonly RebuiltPacket[] {
    this.expire(now);
    if (repairFrameProblem(frame) !== undefined) {
      this.inconsistent++;
      return NOTHING;
    }
    const coefficients = new Map<string, number>();
    const sources = new Map<string, RepairSource>();
    const known: [number, Uint8Array][] = [];
    let longest = frame.data.length;
    frame.sources.forEach((source, i) => {
      const key = sourceKey(source.pathId, source.packetNumber);
      const c = repairCoefficient(frame.repairId, i);
      const packet = this.received.get(key);
      if (packet === undefined) {
        coefficients.set(key, c);
        sources.set(key, source);
      } else {
        known.push([c, packet.shard]);
        longest = Math.max(longest, packet.shard.length);
      }
    });
    if (coefficients.size === 0) {
      this.redundantRepairs++;
      return NOTHING;
    }
    // A packet named must fit the repair's length: the sender pads to the longest it combines.
    for (const [, shard] of known)
      if (packetLength(shard) + SHARD_LENGTH_PREFIX_BYTES > frame.data.length) {
        this.inconsistent++;
        return NOTHING;
      }
    const rhs = new Uint8Array(wordBytes(longest));
    rhs.set(frame.data);
    for (const [c, shard] of known) mulXorInto(c, shard, rhs);
    const equation: Equation = { coefficients, sources, rhs, pivot: '', atMs: now };
    return this.insert(equation) ? this.harvest() : NOTHING;
  }

  /** A rebuilt packet did not authenticate. */
  onRebuiltRejected(): void {
    this.rebuiltRejected++;
  }

  stats(): FecReceiveStats {
    return {
      recovered: this.recovered,
      redundantRepairs: this.redundantRepairs,
      dependentRepairs: this.dependentRepairs,
      corrupt: this.corrupt,
      inconsistent: this.inconsistent,
      unrecovered: this.unrecovered,
      rebuiltRejected: this.rebuiltRejected,
      bufferedPackets: this.received.size,
      pendingEquations: this.equations.size,
    };
  }

  private keep(key: string, shard: Uint8Array, now: number): void {
    this.received.set(key, { shard, atMs: now });
    if (this.received.size > this.maxPackets)
      this.received.delete(this.received.keys().next().value!);
  }

  /** Drops packets and equations past their age. */
  private expire(now: number): void {
    for (const [key, p] of this.received) {
      if (now - p.atMs <= this.maxAgeMs) break;
      this.received.delete(key);
    }
    for (const e of this.equations.values()) {
      if (now - e.atMs <= this.maxAgeMs) break;
      this.drop(e);
    }
  }

  private drop(e: Equation): void {
    this.equations.delete(e.pivot);
    this.unrecovered++;
  }

  /**
   * Reduces `e` by the pivots it names and keeps it with a pivot of its own, eliminated from the
   * other equations. False if nothing was left (it followed from the others).
   */
  private insert(e: Equation): boolean {
    for (const [key, c] of [...e.coefficients]) {
      const other = this.equations.get(key);
      if (other !== undefined) addScaled(e, other, c);
    }
    if (e.coefficients.size === 0) {
      this.dependentRepairs++;
      return false;
    }
    // The pivot: the packet named with the oldest sources first, for a stable order.
    const [pivot, c] = e.coefficients.entries().next().value!;
    scale(e, gfDiv(1, c));
    e.pivot = pivot;
    for (const other of this.equations.values()) {
      const d = other.coefficients.get(pivot);
      if (d !== undefined) addScaled(other, e, d);
    }
    this.equations.set(pivot, e);
    if (this.equations.size > this.maxEquations) this.drop(this.equations.values().next().value!);
    return true;
  }

  /** A packet now known: take it out of every equation that names it. */
  private substitute(key: string, shard: Uint8Array): readonly RebuiltPacket[] {
    let touched = false;
    let orphan: Equation | undefined;
    for (const e of this.equations.values()) {
      const c = e.coefficients.get(key);
      if (c === undefined) continue;
      touched = true;
      growTo(e, shard.length);
      mulXorInto(c, shard, e.rhs);
      e.coefficients.delete(key);
      e.sources.delete(key);
      if (e.pivot === key) orphan = e;
    }
    if (!touched) return NOTHING;
    if (orphan !== undefined) {
      // Its pivot is known now: it is an equation in the others, and needs a pivot again.
      this.equations.delete(orphan.pivot);
      if (orphan.coefficients.size > 0) this.insert(orphan);
      else this.redundantRepairs++;
    }
    return this.harvest();
  }

  /** Takes the equations that name their pivot alone: each is a rebuilt packet. */
  private harvest(): readonly RebuiltPacket[] {
    let out: RebuiltPacket[] | undefined;
    for (const e of [...this.equations.values()]) {
      if (e.coefficients.size !== 1) continue;
      this.equations.delete(e.pivot);
      const source = e.sources.get(e.pivot)!;
      const bytes = readShard(e.rhs);
      if (bytes === undefined) {
        this.corrupt++;
        continue;
      }
      // Kept as received, so later repairs that name it can use it.
      this.keep(e.pivot, wordShard(bytes), e.atMs);
      this.recovered++;
      (out ??= []).push({
        pathId: source.pathId,
        packetNumber: source.packetNumber,
        bytes: copyBytes(bytes),
      });
    }
    return out ?? NOTHING;
  }
}

function packetLength(shard: Uint8Array): number {
  return (shard[0]! << 8) | shard[1]!;
}

function growTo(e: Equation, length: number): void {
  if (e.rhs.length >= length) return;
  const rhs = new Uint8Array(wordBytes(length));
  rhs.set(e.rhs);
  e.rhs = rhs;
}

/** `e += c · other` (both the coefficients and the right-hand side). */
function addScaled(e: Equation, other: Equation, c: number): void {
  for (const [key, d] of other.coefficients) {
    const sum = (e.coefficients.get(key) ?? 0) ^ gfMul(c, d);
    if (sum === 0) {
      e.coefficients.delete(key);
      e.sources.delete(key);
    } else {
      e.coefficients.set(key, sum);
      if (!e.sources.has(key)) e.sources.set(key, other.sources.get(key)!);
    }
  }
  growTo(e, other.rhs.length);
  mulXorInto(c, other.rhs, e.rhs);
}

/** `e *= c`. */
function scale(e: Equation, c: number): void {
  if (c === 1) return;
  for (const [key, d] of e.coefficients) e.coefficients.set(key, gfMul(c, d));
  const scaled = new Uint8Array(e.rhs.length);
  mulXorInto(c, e.rhs, scaled);
  e.rhs = scaled;
}
