/**
 * The sending side of FEC: gathers sealed packets into groups and turns each closed group into
 * REPAIR frames for the session to send (docs/protocol.md, issue 7).
 *
 * Call order: `add` each protected datagram right after it is sealed (any path; the caller
 * decides which packets are protected and never adds one that carries only REPAIR frames);
 * arm a timer for `deadline()` and call `onTimeout(now)` when it fires; take frames with
 * `pollRepair()` when there is room to send them.
 */
import { FecParamsError, MAX_TOTAL_SHARDS } from '@braid/fec';
import { InvalidOptionError } from '../errors.js';
import {
  CodecCache,
  SHARD_LENGTH_PREFIX_BYTES,
  SHARD_PACKET_BYTES_MAX,
  writeShard,
  type RepairFrame,
  type RepairSource,
} from './repair-frame.js';

/** Default bound on queued REPAIR frames. */
export const PENDING_REPAIRS_MAX_DEFAULT = 64;
/**
 * Default bound on the bytes of the packets held by the open group: 64 packets of 4 KiB. A
 * group that would pass it closes early, so memory stays bounded whatever k is chosen.
 */
export const OPEN_GROUP_BYTES_MAX_DEFAULT = 256 * 1024;

export interface FecSendGroupsOptions {
  /**
   * Longest a packet waits in an open group for the group to fill; then the group closes with
   * the packets it has. Bounds the delay FEC adds to recovering the first packet of a group.
   */
  maxGroupDelayMs: number;
  /**
   * REPAIR frames queued at most; beyond, the oldest groups' frames are dropped (counted in
   * `repairsDropped`): a repair is worth less the older its group. Default
   * {@link PENDING_REPAIRS_MAX_DEFAULT}.
   */
  maxPendingRepairs?: number;
  /** Bytes of packets the open group holds at most. Default {@link OPEN_GROUP_BYTES_MAX_DEFAULT}. */
  maxOpenGroupBytes?: number;
}

/** Counters since construction and current memory use; a snapshot. */
export interface FecSendStats {
  groupsClosed: number;
  groupsClosedEarly: number;
  repairFramesQueued: number;
  repairsDropped: number;
  pendingRepairs: number;
  openGroupPackets: number;
  openGroupBytes: number;
}

/** Group parameters: k source packets and m parity shards (k ≥ 1, m ≥ 1, k + m ≤ 255). */
export interface FecParams {
  k: number;
  m: number;
}

interface OpenGroup {
  k: number;
  m: number;
  openedAtMs: number;
  sources: RepairSource[];
  packets: Uint8Array[];
  bytes: number;
  longest: number;
}

/**
 * Parity shards for a group closed with `n` of its `k` packets: the policy's overhead ratio
 * m / k kept, rounded up, and at least one. A group of one packet closed by the time bound
 * thus still gets a repair (a copy of the packet, as RS with k = 1 is repetition), which is the
 * point: a lone tail packet is the one whose loss costs a whole probe timeout.
 */
export function partialGroupParity(n: number, k: number, m: number): number {
  if (n >= k) return m;
  return Math.max(1, Math.ceil((m * n) / k));
}

export class FecSendGroups {
  /** Groups closed (and encoded) so far. */
  groupsClosed = 0;
  /** Of those, closed before they had k packets (time bound, memory bound or new params). */
  groupsClosedEarly = 0;
  /** REPAIR frames queued so far. */
  repairFramesQueued = 0;
  /** REPAIR frames dropped from a full queue. */
  repairsDropped = 0;

  private readonly maxGroupDelayMs: number;
  private readonly maxPendingRepairs: number;
  private readonly maxOpenGroupBytes: number;
  private readonly codecs = new CodecCache();
  private open: OpenGroup | undefined;
  private nextGroupId = 0;
  /** Pending REPAIR frames in group order, at most `maxPendingRepairs`. */
  private readonly queue: RepairFrame[] = [];

  constructor(options: FecSendGroupsOptions) {
    this.maxGroupDelayMs = options.maxGroupDelayMs;
    this.maxPendingRepairs = options.maxPendingRepairs ?? PENDING_REPAIRS_MAX_DEFAULT;
    this.maxOpenGroupBytes = options.maxOpenGroupBytes ?? OPEN_GROUP_BYTES_MAX_DEFAULT;
    if (!(this.maxGroupDelayMs >= 0) || !Number.isFinite(this.maxGroupDelayMs))
      throw new InvalidOptionError(`maxGroupDelayMs must be ≥ 0, got ${this.maxGroupDelayMs}`);
    if (!Number.isInteger(this.maxPendingRepairs) || this.maxPendingRepairs < 1)
      throw new InvalidOptionError(`maxPendingRepairs must be ≥ 1, got ${this.maxPendingRepairs}`);
    if (!(this.maxOpenGroupBytes >= SHARD_PACKET_BYTES_MAX))
      throw new InvalidOptionError(
        `maxOpenGroupBytes must be ≥ ${SHARD_PACKET_BYTES_MAX}, got ${this.maxOpenGroupBytes}`,
      );
  }

  /**
   * Adds a sealed packet (copied) to the open group, first closing the open group if it is
   * due, has other parameters, or would pass the memory bound. A group closes when it has k
   * packets. `bytes` is 1 to 65 535 bytes; `(pathId, packetNumber)` must not repeat.
   */
  add(
    now: number,
    pathId: number,
    packetNumber: number,
    bytes: Uint8Array,
    params: FecParams,
  ): void {
    const { k, m } = params;
    if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || m < 1 || k + m > MAX_TOTAL_SHARDS)
      throw new FecParamsError(`FEC group needs k ≥ 1, m ≥ 1, k + m ≤ 255; got k ${k}, m ${m}`);
    if (bytes.length < 1 || bytes.length > SHARD_PACKET_BYTES_MAX)
      throw new RangeError(`a protected packet of ${bytes.length} bytes cannot be a shard`);
    const open = this.open;
    if (
      open !== undefined &&
      (now >= open.openedAtMs + this.maxGroupDelayMs ||
        open.k !== k ||
        open.m !== m ||
        open.bytes + bytes.length > this.maxOpenGroupBytes)
    )
      this.close();
    const group = (this.open ??= {
      k,
      m,
      openedAtMs: now,
      sources: [],
      packets: [],
      bytes: 0,
      longest: 0,
    });
    group.sources.push({ pathId, packetNumber });
    group.packets.push(bytes.slice());
    group.bytes += bytes.length;
    group.longest = Math.max(group.longest, bytes.length);
    if (group.packets.length === k) this.close();
  }

  /** When the open group must close, or undefined if there is none. */
  deadline(): number | undefined {
    return this.open === undefined ? undefined : this.open.openedAtMs + this.maxGroupDelayMs;
  }

  /** Closes the open group if its deadline has passed. */
  onTimeout(now: number): void {
    const due = this.deadline();
    if (due !== undefined && now >= due) this.close();
  }

  /** Closes the open group now, whatever its size (e.g. before the session goes idle). */
  flush(): void {
    if (this.open !== undefined) this.close();
  }

  /** The frame {@link pollRepair} would return, left in the queue. */
  peekRepair(): RepairFrame | undefined {
    return this.queue[0];
  }

  /** The next REPAIR frame to send, oldest group first. */
  pollRepair(): RepairFrame | undefined {
    return this.queue.shift();
  }

  get pendingRepairs(): number {
    return this.queue.length;
  }

  /** Packets in the open group. */
  get openGroupPackets(): number {
    return this.open?.packets.length ?? 0;
  }

  /** Bytes of packets held by the open group (at most `maxOpenGroupBytes`). */
  get openGroupBytes(): number {
    return this.open?.bytes ?? 0;
  }

  stats(): FecSendStats {
    return {
      groupsClosed: this.groupsClosed,
      groupsClosedEarly: this.groupsClosedEarly,
      repairFramesQueued: this.repairFramesQueued,
      repairsDropped: this.repairsDropped,
      pendingRepairs: this.pendingRepairs,
      openGroupPackets: this.openGroupPackets,
      openGroupBytes: this.openGroupBytes,
    };
  }

  private close(): void {
    const group = this.open!;
    this.open = undefined;
    const n = group.packets.length;
    const m = partialGroupParity(n, group.k, group.m);
    const shardBytes = SHARD_LENGTH_PREFIX_BYTES + group.longest;
    const data = group.packets.map((packet) => {
      const shard = new Uint8Array(shardBytes);
      writeShard(shard, packet);
      return shard;
    });
    const parity = Array.from({ length: m }, () => new Uint8Array(shardBytes));
    this.codecs.get(n, m).encodeParity(data, parity);
    const groupId = this.nextGroupId++;
    this.groupsClosed++;
    if (n < group.k) this.groupsClosedEarly++;
    for (let index = 0; index < m; index++)
      this.queue.push({
        type: 'repair',
        groupId,
        k: n,
        m,
        index,
        sources: group.sources,
        data: parity[index]!,
      });
    this.repairFramesQueued += m;
    const excess = this.queue.length - this.maxPendingRepairs;
    if (excess > 0) {
      // The queue is in group order, so dropping from the head drops the oldest groups first.
      this.queue.splice(0, excess);
      this.repairsDropped += excess;
    }
  }
}
