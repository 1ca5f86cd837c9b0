/**
 * The sending side of the session's sliding-window code (docs/fec.md): keeps the protected
 * packets the peer has not acknowledged yet — the window — and turns it into REPAIR frames, one
 * random linear combination of the whole window each.
 *
 * A repair therefore covers every packet still in flight, whatever its position: a loss is
 * repaired by the next repair that arrives, not by the repairs of "its" group, and two losses
 * close together need two repairs, not two repairs of the same block. Packets leave the window
 * when their fate is known (acknowledged or declared lost: a declared loss is retransmitted in
 * a new packet, so rebuilding the old one helps nobody), when they are older than
 * `maxWindowMs`, or when the window passes `maxWindowSources`.
 *
 * When repairs go: the policy's ratio, m repairs per k protected packets, accrues as packets are
 * added; a time bound makes sure no packet waits more than `maxDelayMs` for a repair that
 * covers it, so a quiet stream's last packet is protected too. A repair is built when it is
 * taken, from the window as it is then, so it covers the newest packets and none the peer
 * acknowledged meanwhile; a repair owed when the window is empty is dropped.
 *
 * Call order: `add` each protected datagram right after it is sealed; `onOutcome` when its fate
 * is known; arm a timer for `deadline()` and call `onTimeout(now)`; take frames with
 * `peekRepair()` / `pollRepair()` while `pendingRepairs > 0`.
 */
import { FecParamsError, mulXorInto } from '@braid/fec';
import { InvalidOptionError } from '../errors.js';
import {
  repairCoefficient,
  repairSourcesBytes,
  REPAIR_SOURCES_MAX,
  SHARD_LENGTH_PREFIX_BYTES,
  SHARD_PACKET_BYTES_MAX,
  sourceKey,
  wordShard,
  type RepairFrame,
  type RepairSource,
} from './repair-frame.js';

/** Default bound on the packets a repair combines. */
export const WINDOW_SOURCES_MAX_DEFAULT = 96;
/** Default age after which a packet leaves the window: by then loss recovery has acted. */
export const WINDOW_MS_MAX_DEFAULT = 1000;
/** Default bound on repairs owed and not yet sent. */
export const OWED_REPAIRS_MAX_DEFAULT = 8;
/** Default bytes a REPAIR frame may spend naming its sources (its runs). */
export const REPAIR_SOURCES_BYTES_MAX_DEFAULT = 48;

const CREDIT_EPSILON = 1e-9;

/** The repair ratio: m repairs for every k protected packets (k ≥ 1, m ≥ 1, m ≤ k · 8). */
export interface FecParams {
  k: number;
  m: number;
}

export interface FecWindowEncoderOptions {
  /** Longest a protected packet waits for a repair that covers it. */
  maxDelayMs: number;
  /** Packets a repair combines at most (1 to 255). Default {@link WINDOW_SOURCES_MAX_DEFAULT}. */
  maxWindowSources?: number;
  /** Age at which a packet leaves the window. Default {@link WINDOW_MS_MAX_DEFAULT}. */
  maxWindowMs?: number;
  /** Repairs owed at most; more are forgotten. Default {@link OWED_REPAIRS_MAX_DEFAULT}. */
  maxOwedRepairs?: number;
  /**
   * Bytes a frame may spend naming its sources; the oldest sources are left out of a repair
   * until it fits. The session reserves room for it in every protected packet, so that the
   * repair of a full-size packet fits a packet too. Default {@link REPAIR_SOURCES_BYTES_MAX_DEFAULT}.
   */
  maxSourcesBytes?: number;
}

/** Counters since construction and current memory use; a snapshot. */
export interface FecSendStats {
  repairsSent: number;
  /** Repairs owed and dropped: the window was empty, or more were owed than the bound. */
  repairsDropped: number;
  pendingRepairs: number;
  windowPackets: number;
  windowBytes: number;
}

interface Source extends RepairSource {
  /** Length prefix and packet: the shard, 4-byte aligned for the coding loop. */
  shard: Uint8Array;
  sentMs: number;
  /** Still in the window (not acknowledged, lost, aged out or evicted). */
  live: boolean;
}

export class FecWindowEncoder {
  repairsSent = 0;
  repairsDropped = 0;

  private readonly maxDelayMs: number;
  private readonly maxWindowSources: number;
  private readonly maxWindowMs: number;
  private readonly maxOwedRepairs: number;
  private readonly maxSourcesBytes: number;
  /** Live sources and dead ones not yet compacted away, oldest first. */
  private window: Source[] = [];
  private readonly byKey = new Map<string, Source>();
  private windowBytes = 0;
  /** Repairs accrued by the ratio, as a fraction. */
  private credit = 0;
  private owed = 0;
  /** Send time of the oldest live packet no repair covers yet. */
  private uncoveredSinceMs: number | undefined;
  private nextRepairId = 0;
  private latestMs = 0;
  private built: RepairFrame | undefined;

  constructor(options: FecWindowEncoderOptions) {
    this.maxDelayMs = options.maxDelayMs;
    this.maxWindowSources = options.maxWindowSources ?? WINDOW_SOURCES_MAX_DEFAULT;
    this.maxWindowMs = options.maxWindowMs ?? WINDOW_MS_MAX_DEFAULT;
    this.maxOwedRepairs = options.maxOwedRepairs ?? OWED_REPAIRS_MAX_DEFAULT;
    this.maxSourcesBytes = options.maxSourcesBytes ?? REPAIR_SOURCES_BYTES_MAX_DEFAULT;
    if (!(this.maxDelayMs >= 0) || !Number.isFinite(this.maxDelayMs))
      throw new InvalidOptionError(`maxDelayMs must be ≥ 0, got ${this.maxDelayMs}`);
    if (
      !Number.isInteger(this.maxWindowSources) ||
      this.maxWindowSources < 1 ||
      this.maxWindowSources > REPAIR_SOURCES_MAX
    )
      throw new InvalidOptionError(
        `maxWindowSources must be an integer in [1, ${REPAIR_SOURCES_MAX}], got ${this.maxWindowSources}`,
      );
    if (!(this.maxWindowMs > 0))
      throw new InvalidOptionError(`maxWindowMs must be > 0, got ${this.maxWindowMs}`);
    if (!Number.isInteger(this.maxOwedRepairs) || this.maxOwedRepairs < 1)
      throw new InvalidOptionError(`maxOwedRepairs must be ≥ 1, got ${this.maxOwedRepairs}`);
    // One run of the largest path ID and packet number must fit.
    if (!Number.isInteger(this.maxSourcesBytes) || this.maxSourcesBytes < 24)
      throw new InvalidOptionError(`maxSourcesBytes must be ≥ 24, got ${this.maxSourcesBytes}`);
  }

  /**
   * Adds a sealed packet (copied) to the window and accrues the ratio's repairs.
   * `bytes` is 1 to 65 535 bytes; `(pathId, packetNumber)` must not repeat.
   */
  add(
    now: number,
    pathId: number,
    packetNumber: number,
    bytes: Uint8Array,
    params: FecParams,
  ): void {
    const { k, m } = params;
    if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || m < 1 || m > k * 8)
      throw new FecParamsError(`FEC ratio needs k ≥ 1 and 1 ≤ m ≤ 8k; got k ${k}, m ${m}`);
    if (bytes.length < 1 || bytes.length > SHARD_PACKET_BYTES_MAX)
      throw new RangeError(`a protected packet of ${bytes.length} bytes cannot be a shard`);
    this.latestMs = Math.max(this.latestMs, now);
    const key = sourceKey(pathId, packetNumber);
    if (this.byKey.has(key)) throw new RangeError(`source ${key} added twice`);
    const shard = wordShard(bytes);
    const source: Source = { pathId, packetNumber, shard, sentMs: now, live: true };
    this.window.push(source);
    this.byKey.set(key, source);
    this.windowBytes += shard.length;
    this.uncoveredSinceMs ??= now;
    this.credit += m / k;
    // The tolerance absorbs rounding: six sixths must owe one repair, not 0.9999999999999999.
    while (this.credit >= 1 - CREDIT_EPSILON) {
      this.credit = Math.max(0, this.credit - 1);
      this.owe();
    }
    this.trim(now);
    this.built = undefined;
  }

  /** The fate of a packet is known (acknowledged or declared lost): it leaves the window. */
  onOutcome(pathId: number, packetNumber: number): void {
    const source = this.byKey.get(sourceKey(pathId, packetNumber));
    if (source === undefined) return;
    this.remove(source);
    this.compact();
  }

  /**
   * When a packet will have waited `maxDelayMs` without a repair, or undefined: also while a
   * repair is owed already, since that one will cover it whenever the session can send.
   */
  deadline(): number | undefined {
    return this.uncoveredSinceMs === undefined || this.owed > 0
      ? undefined
      : this.uncoveredSinceMs + this.maxDelayMs;
  }

  /** Owes a repair if a packet has waited its longest. */
  onTimeout(now: number): void {
    this.latestMs = Math.max(this.latestMs, now);
    this.trim(now);
    const due = this.deadline();
    if (due !== undefined && now >= due) {
      this.owe();
      // The ratio's fraction is spent on this repair: it covers the packets that accrued it.
      this.credit = 0;
    }
  }

  /** Repairs owed, if there is anything to repair. */
  get pendingRepairs(): number {
    return this.byKey.size === 0 ? 0 : this.owed;
  }

  /** The frame {@link pollRepair} would return now. */
  peekRepair(): RepairFrame | undefined {
    if (this.pendingRepairs === 0) return undefined;
    return (this.built ??= this.build());
  }

  /** The next REPAIR frame to send: a combination of the window as it is now. */
  pollRepair(): RepairFrame | undefined {
    const frame = this.peekRepair();
    if (frame === undefined) {
      if (this.owed > 0) this.repairsDropped += this.owed;
      this.owed = 0;
      return undefined;
    }
    this.built = undefined;
    this.owed--;
    this.nextRepairId++;
    this.repairsSent++;
    // Every live packet is covered now.
    this.uncoveredSinceMs = undefined;
    return frame;
  }

  stats(): FecSendStats {
    return {
      repairsSent: this.repairsSent,
      repairsDropped: this.repairsDropped,
      pendingRepairs: this.pendingRepairs,
      windowPackets: this.byKey.size,
      windowBytes: this.windowBytes,
    };
  }

  private owe(): void {
    if (this.owed < this.maxOwedRepairs) this.owed++;
    else this.repairsDropped++;
  }

  private remove(source: Source): void {
    if (!source.live) return;
    source.live = false;
    this.byKey.delete(sourceKey(source.pathId, source.packetNumber));
    this.windowBytes -= source.shard.length;
    this.built = undefined;
    if (this.byKey.size === 0) this.uncoveredSinceMs = undefined;
  }

  /** Drops dead entries once they are half the array, so it stays O(window). */
  private compact(): void {
    if (this.window.length > 2 * this.byKey.size + 16)
      this.window = this.window.filter((s) => s.live);
  }

  /** Drops packets past the window's age and size. */
  private trim(now: number): void {
    for (const s of this.window) {
      if (!s.live) continue;
      if (now - s.sentMs <= this.maxWindowMs && this.byKey.size <= this.maxWindowSources) break;
      this.remove(s);
    }
    this.compact();
  }

  /**
   * The repair of the newest live packets: at most `maxWindowSources`, and no more than the
   * frame can name in `maxSourcesBytes` (the oldest are left out first).
   */
  private build(): RepairFrame {
    const live: Source[] = [];
    for (let i = this.window.length - 1; i >= 0 && live.length < this.maxWindowSources; i--) {
      const s = this.window[i]!;
      if (s.live && this.latestMs - s.sentMs <= this.maxWindowMs) live.push(s);
    }
    const byWire = (a: RepairSource, b: RepairSource) =>
      a.pathId - b.pathId || a.packetNumber - b.packetNumber;
    let sources = live.slice().sort(byWire);
    // `live` runs newest first: drop from its tail (the oldest) until the names fit.
    while (sources.length > 1 && repairSourcesBytes(sources) > this.maxSourcesBytes) {
      live.length = Math.max(1, Math.floor(live.length * 0.75));
      sources = live.slice().sort(byWire);
    }
    let length = 0;
    for (const s of sources) length = Math.max(length, s.shard.length);
    const data = new Uint8Array(length);
    const repairId = this.nextRepairId;
    sources.forEach((s, i) => mulXorInto(repairCoefficient(repairId, i), s.shard, data));
    // The data ends where the longest packet does (the word padding of its shard is zeros).
    let end = SHARD_LENGTH_PREFIX_BYTES;
    for (const s of sources)
      end = Math.max(end, SHARD_LENGTH_PREFIX_BYTES + ((s.shard[0]! << 8) | s.shard[1]!));
    return {
      type: 'repair',
      repairId,
      sources: sources.map(({ pathId, packetNumber }) => ({ pathId, packetNumber })),
      data: data.subarray(0, end),
    };
  }
}
