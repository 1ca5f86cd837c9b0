/** Timing helpers shared by the benchmarks. Wall-clock only here, never in tests. */
import { performance } from 'node:perf_hooks';

export interface TimingOptions {
  /** Untimed calls of each operation before timing starts, for the JIT and caches. */
  readonly warmupMs: number;
  /** Timed slices of each operation. */
  readonly slices: number;
  /** Length of one slice. */
  readonly sliceMs: number;
}

/**
 * Calls `operation` until `ms` have passed and returns how many calls were made. A call that
 * returns a promise is awaited before the next one (one at a time); a synchronous call is not
 * awaited, so it pays no microtask.
 */
async function repeatFor(
  ms: number,
  operation: () => unknown,
): Promise<{ calls: number; elapsedMs: number }> {
  const start = performance.now();
  let calls = 0;
  let elapsedMs = 0;
  // Read the clock every 16 calls: a call can take a few microseconds.
  while (elapsedMs < ms) {
    for (let i = 0; i < 16; i++) {
      const pending = operation();
      if (pending instanceof Promise) await pending;
    }
    calls += 16;
    elapsedMs = performance.now() - start;
  }
  return { calls, elapsedMs };
}

/**
 * Calls per second of each operation, after a warm-up of each. The operations are timed in
 * alternating slices (ABBA…), so a subject and its baseline see the same machine: a load that
 * comes and goes during the run (another process, a GC) falls on both alike.
 */
export async function interleavedCallsPerSecond(
  options: TimingOptions,
  operations: readonly (() => unknown)[],
): Promise<number[]> {
  for (const operation of operations) await repeatFor(options.warmupMs, operation);
  const calls = operations.map(() => 0);
  const elapsedMs = operations.map(() => 0);
  for (let slice = 0; slice < options.slices; slice++) {
    const order = operations.map((_, i) => (slice % 2 === 0 ? i : operations.length - 1 - i));
    for (const i of order) {
      const timed = await repeatFor(options.sliceMs, operations[i]!);
      calls[i]! += timed.calls;
      elapsedMs[i]! += timed.elapsedMs;
    }
  }
  return calls.map((n, i) => (n * 1000) / elapsedMs[i]!);
}

/** The median; NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
