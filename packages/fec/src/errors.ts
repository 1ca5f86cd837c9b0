/**
 * API errors, one class per condition (STYLE §5): each has a `name` and a stable Node-style
 * `code`, and callers match on `code`. `@braid/fec` imports nothing, so it has its own base
 * class rather than `@braid/protocol`'s `BraidError`; the codes follow the same `ERR_BRAID_…`
 * scheme.
 */

/** Base of every `@braid/fec` error. */
export abstract class FecError extends Error {
  abstract readonly code: string;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The shard counts are out of range: integers with k ≥ 1, m ≥ 0 and k + m ≤ 255. */
export class FecParamsError extends FecError {
  readonly code = 'ERR_BRAID_FEC_PARAMS';
}

/** A shard list does not have the length the call needs (k + m, or k data and m parity). */
export class ShardCountError extends FecError {
  readonly code = 'ERR_BRAID_FEC_SHARD_COUNT';
}

/** A shard the call needs is absent (not a Uint8Array): a data shard to encode, say. */
export class ShardMissingError extends FecError {
  readonly code = 'ERR_BRAID_FEC_SHARD_MISSING';
}

/** Shards differ in length. */
export class ShardSizeError extends FecError {
  readonly code = 'ERR_BRAID_FEC_SHARD_SIZE';
}

/** Fewer than k shards are present, so the missing ones cannot be rebuilt. */
export class TooFewShardsError extends FecError {
  readonly code = 'ERR_BRAID_FEC_TOO_FEW_SHARDS';
}
