/**
 * The receiving side of FEC: keeps recently received sealed packets and REPAIR shards, and
 * rebuilds a group's lost packets once any k of its k + m shards are in (docs/protocol.md,
 * issue 7).
 *
 * Call order: `onPacket` for every protected datagram that authenticated, with the bytes
 * exactly as received (before any in-place decryption); `onRepair` for every REPAIR frame.
 * Only authenticated packets: the first copy of a (path, packet number) is the one kept, so a
 * forged one passed in first would spoil its group.
 * Both return the packets the call made it possible to rebuild; feed each back into ordinary
 * packet processing, which authenticates it (a corrupt or forged repair shard yields bytes
 * that fail the AEAD) and drops it if it is a duplicate; report a failure with
 * `onRebuiltRejected()`. Do not pass rebuilt packets to `onPacket`.
 *
 * Every store is bounded by count, bytes and age; what a bound evicts is the oldest.
 */
import { copyBytes } from '../bytes.js';
import { InvalidOptionError } from '../errors.js';
import {
  CodecCache,
  readShard,
  repairFrameProblem,
  SHARD_BYTES_MAX,
  SHARD_LENGTH_PREFIX_BYTES,
  SHARD_PACKET_BYTES_MAX,
  sourceKey,
  writeShard,
  type RepairFrame,
  type RepairSource,
} from './repair-frame.js';

/** Default bound on received packets kept as shards for groups whose repairs are to come. */
export const FEC_RECEIVED_PACKETS_MAX_DEFAULT = 1024;
/** Default bound on groups with repairs but still missing packets. */
export const FEC_PENDING_GROUPS_MAX_DEFAULT = 256;
/** Default age after which a kept packet or a pending group is dropped. */
export const FEC_MAX_AGE_MS_DEFAULT = 2000;
/**
 * Default bound on the bytes of repair shards kept: 2 MiB, a few hundred full-size shards. The
 * peer chooses m and the shard size, so a count of groups alone does not bound memory.
 */
export const FEC_REPAIR_BYTES_MAX_DEFAULT = 2 * 1024 * 1024;
/** Default number of finished group IDs remembered, so that late repairs are ignored. */
export const FEC_COMPLETED_GROUPS_MAX_DEFAULT = 1024;

export interface FecReceiveGroupsOptions {
  /** Received packets kept at most. Default {@link FEC_RECEIVED_PACKETS_MAX_DEFAULT}. */
  maxPackets?: number;
  /** Pending groups kept at most. Default {@link FEC_PENDING_GROUPS_MAX_DEFAULT}. */
  maxGroups?: number;
  /**
   * Packets and pending groups older than this are dropped: by then the sender's loss recovery
   * has retransmitted what was lost. Default {@link FEC_MAX_AGE_MS_DEFAULT}.
   */
  maxAgeMs?: number;
  /** Bytes of repair shards kept at most (≥ 65 537). Default {@link FEC_REPAIR_BYTES_MAX_DEFAULT}. */
  maxRepairBytes?: number;
  /** Finished group IDs remembered. Default {@link FEC_COMPLETED_GROUPS_MAX_DEFAULT}. */
  maxCompletedGroups?: number;
}

/** A source packet rebuilt from a group's shards: sealed bytes, to be opened as if received. */
export interface RebuiltPacket {
  pathId: number;
  packetNumber: number;
  bytes: Uint8Array;
}

/** Counters since construction and current memory use; a snapshot. */
export interface FecReceiveStats {
  /** Packets rebuilt and returned. */
  recovered: number;
  /** Groups finished: every source received, or reconstruction ran. */
  groupsComplete: number;
  /** Packets withheld because their rebuilt shard was impossible (corrupt or forged repair). */
  corrupt: number;
  /** REPAIR frames that disagree with an earlier one of their group (k, m, sources, size). */
  inconsistent: number;
  /** Groups dropped (by age or a bound) while packets were still missing. */
  unrecoverable: number;
  /** Rebuilt packets the caller found did not authenticate. */
  rebuiltRejected: number;
  /** REPAIR frames for a group already finished. */
  lateRepairs: number;
  /** REPAIR frames whose parity index the group already had. */
  duplicateRepairs: number;
  bufferedPackets: number;
  pendingGroups: number;
  bufferedRepairBytes: number;
}

interface ReceivedPacket {
  bytes: Uint8Array;
  atMs: number;
}

interface PendingGroup {
  groupId: number;
  k: number;
  m: number;
  shardBytes: number;
  sources: readonly RepairSource[];
  keys: string[];
  /** Parity shards by index; `null` until received. */
  repairs: (Uint8Array | null)[];
  repairCount: number;
  createdAtMs: number;
}

const NOTHING: readonly RebuiltPacket[] = Object.freeze([]);

export class FecReceiveGroups {
  private readonly maxPackets: number;
  private readonly maxGroups: number;
  private readonly maxAgeMs: number;
  private readonly maxRepairBytes: number;
  private readonly maxCompletedGroups: number;
  private readonly codecs = new CodecCache();
  /** By source key, in arrival order. */
  private readonly received = new Map<string, ReceivedPacket>();
  /** By group ID, in creation order. */
  private readonly groups = new Map<number, PendingGroup>();
  /** Pending groups that list a source, by source key. */
  private readonly waiting = new Map<string, number[]>();
  /** Finished group IDs, oldest first. */
  private readonly completed = new Set<number>();
  private repairBytes = 0;
  private readonly counters = {
    recovered: 0,
    groupsComplete: 0,
    corrupt: 0,
    inconsistent: 0,
    unrecoverable: 0,
    rebuiltRejected: 0,
    lateRepairs: 0,
    duplicateRepairs: 0,
  };

  constructor(options: FecReceiveGroupsOptions = {}) {
    this.maxPackets = positiveInteger(
      'maxPackets',
      options.maxPackets,
      FEC_RECEIVED_PACKETS_MAX_DEFAULT,
    );
    this.maxGroups = positiveInteger(
      'maxGroups',
      options.maxGroups,
      FEC_PENDING_GROUPS_MAX_DEFAULT,
    );
    this.maxCompletedGroups = positiveInteger(
      'maxCompletedGroups',
      options.maxCompletedGroups,
      FEC_COMPLETED_GROUPS_MAX_DEFAULT,
    );
    this.maxAgeMs = options.maxAgeMs ?? FEC_MAX_AGE_MS_DEFAULT;
    if (!(this.maxAgeMs > 0)) throw new InvalidOptionError(`maxAgeMs must be > 0`);
    this.maxRepairBytes = options.maxRepairBytes ?? FEC_REPAIR_BYTES_MAX_DEFAULT;
    if (!(this.maxRepairBytes >= SHARD_BYTES_MAX))
      throw new InvalidOptionError(`maxRepairBytes must be ≥ ${SHARD_BYTES_MAX}`);
  }

  /**
   * Keeps a received packet (a copy) for the groups it may belong to, and returns the packets
   * its arrival lets a pending group rebuild. A repeat of a kept packet is ignored: the first
   * copy is the one used.
   */
  onPacket(
    now: number,
    pathId: number,
    packetNumber: number,
    bytes: Uint8Array,
  ): readonly RebuiltPacket[] {
    this.expire(now);
    // Such a packet can never be a source, whatever a REPAIR frame says.
    if (bytes.length < 1 || bytes.length > SHARD_PACKET_BYTES_MAX) return NOTHING;
    const key = sourceKey(pathId, packetNumber);
    if (this.received.has(key)) return NOTHING;
    this.received.set(key, { bytes: copyBytes(bytes), atMs: now });
    if (this.received.size > this.maxPackets)
      this.received.delete(this.received.keys().next().value!);
    const ids = this.waiting.get(key);
    if (ids === undefined) return NOTHING;
    let out: RebuiltPacket[] | undefined;
    for (const id of [...ids]) {
      const group = this.groups.get(id);
      if (group === undefined) continue;
      const rebuilt = this.tryComplete(group);
      if (rebuilt.length > 0) (out ??= []).push(...rebuilt);
    }
    return out ?? NOTHING;
  }

  /**
   * Records a repair shard (a copy) and returns the packets it lets its group rebuild: once
   * received sources and repair shards number k, the missing sources are decoded, each group
   * at most once.
   */
  onRepair(now: number, frame: RepairFrame): readonly RebuiltPacket[] {
    this.expire(now);
    if (repairFrameProblem(frame) !== undefined) {
      this.counters.inconsistent++;
      return NOTHING;
    }
    if (this.completed.has(frame.groupId)) {
      this.counters.lateRepairs++;
      return NOTHING;
    }
    let group = this.groups.get(frame.groupId);
    if (group !== undefined) {
      if (!agrees(group, frame)) {
        this.counters.inconsistent++;
        return NOTHING;
      }
      if (group.repairs[frame.index] !== null) {
        this.counters.duplicateRepairs++;
        return NOTHING;
      }
    } else {
      const keys = frame.sources.map((s) => sourceKey(s.pathId, s.packetNumber));
      if (keys.every((key) => this.received.has(key))) {
        this.finish(frame.groupId);
        this.counters.groupsComplete++;
        return NOTHING;
      }
      group = {
        groupId: frame.groupId,
        k: frame.k,
        m: frame.m,
        shardBytes: frame.data.length,
        sources: frame.sources.map((s) => ({ pathId: s.pathId, packetNumber: s.packetNumber })),
        keys,
        repairs: new Array<Uint8Array | null>(frame.m).fill(null),
        repairCount: 0,
        createdAtMs: now,
      };
      this.groups.set(group.groupId, group);
      for (const key of keys) {
        const ids = this.waiting.get(key);
        if (ids === undefined) this.waiting.set(key, [group.groupId]);
        else ids.push(group.groupId);
      }
    }
    group.repairs[frame.index] = frame.data.slice();
    group.repairCount++;
    this.repairBytes += frame.data.length;
    const rebuilt = this.tryComplete(group);
    // Over a bound, the oldest groups go: they are the likeliest to have been retransmitted.
    while (this.groups.size > this.maxGroups || this.repairBytes > this.maxRepairBytes)
      this.abandon(this.groups.values().next().value!);
    return rebuilt;
  }

  /** Counts a rebuilt packet that failed authentication (a corrupt or forged repair shard). */
  onRebuiltRejected(): void {
    this.counters.rebuiltRejected++;
  }

  /** Drops kept packets and pending groups older than `maxAgeMs`. */
  expire(now: number): void {
    for (const [key, packet] of this.received) {
      if (now - packet.atMs < this.maxAgeMs) break;
      this.received.delete(key);
    }
    for (const group of this.groups.values()) {
      if (now - group.createdAtMs < this.maxAgeMs) break;
      this.abandon(group);
    }
  }

  stats(): FecReceiveStats {
    return {
      ...this.counters,
      bufferedPackets: this.received.size,
      pendingGroups: this.groups.size,
      bufferedRepairBytes: this.repairBytes,
    };
  }

  get recovered(): number {
    return this.counters.recovered;
  }
  get groupsComplete(): number {
    return this.counters.groupsComplete;
  }
  get corrupt(): number {
    return this.counters.corrupt;
  }
  get inconsistent(): number {
    return this.counters.inconsistent;
  }
  get unrecoverable(): number {
    return this.counters.unrecoverable;
  }
  get rebuiltRejected(): number {
    return this.counters.rebuiltRejected;
  }

  /** Rebuilds the group's missing sources if enough shards are in; finishes it if it can. */
  private tryComplete(group: PendingGroup): readonly RebuiltPacket[] {
    const { k, m, shardBytes } = group;
    const kept = group.keys.map((key) => this.received.get(key)?.bytes);
    const missing = kept.filter((bytes) => bytes === undefined).length;
    if (missing === 0) {
      this.remove(group);
      this.counters.groupsComplete++;
      return NOTHING;
    }
    if (group.repairCount < missing) return NOTHING;
    this.remove(group);
    this.counters.groupsComplete++;
    if (
      kept.some(
        (bytes) => bytes !== undefined && bytes.length + SHARD_LENGTH_PREFIX_BYTES > shardBytes,
      )
    ) {
      // A packet we hold is longer than the sender's longest: the repair names other packets
      // than those it was computed from, so nothing it rebuilds could be right.
      this.counters.corrupt += missing;
      return NOTHING;
    }
    const shards: (Uint8Array | null)[] = kept.map((bytes) => {
      if (bytes === undefined) return null;
      const shard = new Uint8Array(shardBytes);
      writeShard(shard, bytes);
      return shard;
    });
    shards.push(...group.repairs);
    this.codecs.get(k, m).reconstruct(shards, { dataOnly: true });
    const out: RebuiltPacket[] = [];
    for (let i = 0; i < k; i++) {
      if (kept[i] !== undefined) continue;
      const bytes = readShard(shards[i]!);
      if (bytes === undefined) {
        this.counters.corrupt++;
        continue;
      }
      const { pathId, packetNumber } = group.sources[i]!;
      out.push({ pathId, packetNumber, bytes });
    }
    this.counters.recovered += out.length;
    return out;
  }

  /** Drops a group that can no longer complete. */
  private abandon(group: PendingGroup): void {
    this.remove(group);
    this.counters.unrecoverable++;
  }

  /** Takes a group off the pending list and remembers it as finished. */
  private remove(group: PendingGroup): void {
    this.groups.delete(group.groupId);
    this.repairBytes -= group.repairs.reduce((n, shard) => n + (shard?.length ?? 0), 0);
    for (const key of group.keys) {
      const ids = this.waiting.get(key);
      if (ids === undefined) continue;
      const at = ids.indexOf(group.groupId);
      if (at >= 0) ids.splice(at, 1);
      if (ids.length === 0) this.waiting.delete(key);
    }
    this.finish(group.groupId);
  }

  private finish(groupId: number): void {
    this.completed.add(groupId);
    if (this.completed.size > this.maxCompletedGroups)
      this.completed.delete(this.completed.values().next().value!);
  }
}

/** Whether a later REPAIR frame describes the same group as the first one did. */
function agrees(group: PendingGroup, frame: RepairFrame): boolean {
  return (
    frame.k === group.k &&
    frame.m === group.m &&
    frame.data.length === group.shardBytes &&
    frame.sources.every(
      (s, i) =>
        s.pathId === group.sources[i]!.pathId && s.packetNumber === group.sources[i]!.packetNumber,
    )
  );
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1)
    throw new InvalidOptionError(`${name} must be an integer ≥ 1, got ${v}`);
  return v;
}
