import { codeShards } from './coding-loop.js';
import {
  FecParamsError,
  ShardCountError,
  ShardMissingError,
  ShardSizeError,
  TooFewShardsError,
} from './errors.js';
import { LruCache } from './lru-cache.js';
import { codingMatrix, invert, multiply, selectRows, type Matrix } from './matrix.js';

/** Most shards (data + parity) in one group: shard indexes then fit a byte with one to spare. */
export const MAX_TOTAL_SHARDS = 255;
/** Default bound on cached decode matrices. */
export const DECODE_CACHE_ENTRIES_DEFAULT = 256;

export interface ReedSolomonOptions {
  /**
   * How many decode matrices to keep, keyed by erasure pattern (which shards are read, which
   * are rebuilt), least recently used evicted; 0 disables the cache. An entry is at most
   * `rebuilt × k` bytes. Default {@link DECODE_CACHE_ENTRIES_DEFAULT}.
   */
  decodeCacheEntries?: number;
}

/** A shard slot: a present shard is a Uint8Array; `null` or `undefined` marks a missing one. */
export type Shard = Uint8Array | null | undefined;

export interface ReconstructOptions {
  /** Rebuild only missing data shards; missing parity shards are left as they are. Default false. */
  dataOnly?: boolean;
  /**
   * Which shards hold valid data, one flag per shard. When given, every slot must hold a
   * Uint8Array of the shard size and the ones flagged false are overwritten in place, so a
   * caller that owns its buffers decodes without allocating. Default: a slot is present when
   * it holds a Uint8Array, and missing ones get new buffers.
   */
  present?: readonly boolean[];
}

/** Counters since construction; a snapshot. */
export interface ReedSolomonStats {
  decodeCacheEntries: number;
  decodeCacheHits: number;
  decodeCacheMisses: number;
}

/**
 * A systematic Reed–Solomon erasure code with `k` data and `m` parity shards over GF(2^8): any
 * `k` of the `k + m` shards rebuild the others. The coding matrix is that of Backblaze
 * JavaReedSolomon and klauspost/reedsolomon's default, so parity is byte-identical to theirs.
 *
 * Shards are equal-length Uint8Arrays; the codec writes into the caller's buffers and copies
 * nothing. Outputs (parity for `encode`, missing shards for `reconstruct`) must not share
 * memory with the inputs or with each other.
 */
export class ReedSolomon {
  readonly dataShards: number;
  readonly parityShards: number;
  readonly totalShards: number;
  private readonly matrix: Matrix;
  private readonly parityRows: Uint8Array;
  private readonly decodeCache: LruCache<string, Uint8Array>;
  private decodeCacheHits = 0;
  private decodeCacheMisses = 0;

  constructor(dataShards: number, parityShards: number, options: ReedSolomonOptions = {}) {
    if (!Number.isInteger(dataShards) || dataShards < 1)
      throw new FecParamsError(`data shards must be an integer ≥ 1, got ${dataShards}`);
    if (!Number.isInteger(parityShards) || parityShards < 0)
      throw new FecParamsError(`parity shards must be an integer ≥ 0, got ${parityShards}`);
    if (dataShards + parityShards > MAX_TOTAL_SHARDS)
      throw new FecParamsError(
        `data + parity shards must be ≤ ${MAX_TOTAL_SHARDS}, got ${dataShards} + ${parityShards}`,
      );
    const cacheEntries = options.decodeCacheEntries ?? DECODE_CACHE_ENTRIES_DEFAULT;
    if (!Number.isInteger(cacheEntries) || cacheEntries < 0)
      throw new FecParamsError(`decodeCacheEntries must be an integer ≥ 0, got ${cacheEntries}`);
    this.dataShards = dataShards;
    this.parityShards = parityShards;
    this.totalShards = dataShards + parityShards;
    this.matrix = codingMatrix(dataShards, this.totalShards);
    this.parityRows = this.matrix.data.subarray(dataShards * dataShards);
    this.decodeCache = new LruCache(cacheEntries);
  }

  /** Fills the parity shards `shards[k…k+m-1]` from the data shards `shards[0…k-1]`. */
  encode(shards: readonly Uint8Array[]): void {
    this.checkShards(shards, this.totalShards, 'shards');
    codeShards(this.parityRows, shards.slice(0, this.dataShards), shards.slice(this.dataShards));
  }

  /** Fills `parity` (m shards) from `data` (k shards), all of one length. */
  encodeParity(data: readonly Uint8Array[], parity: readonly Uint8Array[]): void {
    const size = this.checkShards(data, this.dataShards, 'data shards');
    this.checkShards(parity, this.parityShards, 'parity shards', { size });
    codeShards(this.parityRows, data, parity);
  }

  /** Whether the parity shards are what `encode` would write for the data shards. */
  verify(shards: readonly Uint8Array[]): boolean {
    const size = this.checkShards(shards, this.totalShards, 'shards');
    const k = this.dataShards;
    const data = shards.slice(0, k);
    const expected = new Uint8Array(size);
    for (let p = 0; p < this.parityShards; p++) {
      codeShards(this.parityRows.subarray(p * k, (p + 1) * k), data, [expected]);
      const actual = shards[k + p]!;
      for (let i = 0; i < size; i++) if (actual[i] !== expected[i]) return false;
    }
    return true;
  }

  /**
   * Rebuilds the missing shards (only the data shards with `dataOnly`) from the first `k`
   * present ones, in place: `shards` is a list of `k + m` slots. Throws TooFewShardsError when
   * fewer than `k` are present; does nothing when none is missing.
   */
  reconstruct(shards: Shard[], options: ReconstructOptions = {}): void {
    const { present, size } = this.presentShards(shards, options.present);
    const inputs: number[] = [];
    const targets: number[] = [];
    const last = options.dataOnly === true ? this.dataShards : this.totalShards;
    for (let i = 0; i < this.totalShards; i++) {
      if (present[i]) {
        if (inputs.length < this.dataShards) inputs.push(i);
      } else if (i < last) targets.push(i);
    }
    if (targets.length === 0) return;
    if (inputs.length < this.dataShards)
      throw new TooFewShardsError(
        `${inputs.length} shards present, ${this.dataShards} needed to rebuild the others`,
      );
    const outputs = targets.map((i) => (shards[i] ??= new Uint8Array(size)));
    codeShards(
      this.decodeRows(inputs, targets),
      inputs.map((i) => shards[i]!),
      outputs,
    );
  }

  stats(): ReedSolomonStats {
    return {
      decodeCacheEntries: this.decodeCache.size,
      decodeCacheHits: this.decodeCacheHits,
      decodeCacheMisses: this.decodeCacheMisses,
    };
  }

  /**
   * Coefficients that compute the `targets` shards from the `inputs` shards: the targets' rows
   * of the coding matrix times the inverse of the inputs' rows (which maps inputs back to data).
   */
  private decodeRows(inputs: readonly number[], targets: readonly number[]): Uint8Array {
    // Shard indexes are < 255, one char each; the length prefix keeps the two lists apart.
    const key = String.fromCharCode(targets.length, ...targets, ...inputs);
    const cached = this.decodeCache.get(key);
    if (cached !== undefined) {
      this.decodeCacheHits++;
      return cached;
    }
    this.decodeCacheMisses++;
    const rows = multiply(
      selectRows(this.matrix, targets),
      invert(selectRows(this.matrix, inputs)),
    ).data;
    this.decodeCache.set(key, rows);
    return rows;
  }

  /**
   * Checks that `shards` has `count` slots, each present one (every one, unless `allPresent` is
   * false) a Uint8Array of one length: `size` if given, else the first one's. Returns the length.
   */
  private checkShards(
    shards: readonly Shard[],
    count: number,
    what: string,
    { allPresent = true, size }: { allPresent?: boolean; size?: number } = {},
  ): number {
    if (shards.length !== count)
      throw new ShardCountError(`expected ${count} ${what}, got ${shards.length}`);
    let expected = size;
    shards.forEach((shard, i) => {
      if (!(shard instanceof Uint8Array)) {
        if (allPresent) throw new ShardMissingError(`${what}[${i}] is not a Uint8Array`);
        return;
      }
      expected ??= shard.length;
      if (shard.length !== expected)
        throw new ShardSizeError(
          `${what}[${i}] is ${shard.length} bytes, expected ${expected} like the others`,
        );
    });
    return expected ?? 0;
  }

  /** Which slots are present, and the shard size. */
  private presentShards(
    shards: readonly Shard[],
    flags: readonly boolean[] | undefined,
  ): { present: readonly boolean[]; size: number } {
    if (flags === undefined) {
      const size = this.checkShards(shards, this.totalShards, 'shards', { allPresent: false });
      return { present: shards.map((s) => s instanceof Uint8Array), size };
    }
    if (flags.length !== this.totalShards)
      throw new ShardCountError(`expected ${this.totalShards} present flags, got ${flags.length}`);
    return { present: flags, size: this.checkShards(shards, this.totalShards, 'shards') };
  }
}
