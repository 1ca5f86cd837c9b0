import { BraidError } from '@braid/protocol';

/** The line every seed-bearing error ends with, so a failure replays exactly. */
export function replayHint(seed: number): string {
  return `replay with BRAID_SEED=${seed}`;
}

/**
 * The simulation stopped making progress: more than `maxSteps` events in one `run()`, more than
 * `maxStepsPerInstant` events without virtual time advancing, or a node emitting more than
 * `maxDatagramsPerInstant` datagrams in one instant.
 */
export class LivelockError extends BraidError {
  readonly code = 'ERR_BRAID_SIM_LIVELOCK';
  constructor(
    readonly seed: number,
    readonly nowMs: number,
    readonly steps: number,
    detail: string,
  ) {
    super(`simulator livelock at ${nowMs} ms after ${steps} steps: ${detail}; ${replayHint(seed)}`);
    this.name = 'LivelockError';
  }
}

/**
 * A seeded scenario failed (it threw, or its predicate returned `false`). The message carries
 * `BRAID_SEED=<seed>`; the original error, if any, is `cause`.
 */
export class SimulationFailure extends BraidError {
  readonly code = 'ERR_BRAID_SIM_FAILED';
  constructor(
    readonly seed: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`simulation failed with seed ${seed}: ${detail}; ${replayHint(seed)}`, options);
    this.name = 'SimulationFailure';
  }
}

/** A node broke the {@link SimNode} contract (a NaN deadline, bytes that are not a Uint8Array…). */
export class NodeContractError extends BraidError {
  readonly code = 'ERR_BRAID_SIM_NODE_CONTRACT';
  constructor(
    readonly seed: number,
    readonly nodeName: string,
    detail: string,
  ) {
    super(
      `node ${JSON.stringify(nodeName)} broke the SimNode contract: ${detail}; ${replayHint(seed)}`,
    );
    this.name = 'NodeContractError';
  }
}
