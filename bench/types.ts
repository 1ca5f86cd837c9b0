/**
 * The contract between `pnpm bench` (scripts/bench.ts) and a benchmark module. A benchmark
 * measures the thing and its baseline in the same run and returns named metrics; the runner
 * repeats it `--runs` times, prints the median of each metric and of each ratio, and never
 * compares with numbers from another run or machine.
 */

/** One measured value. */
export interface Measurement {
  readonly value: number;
  /** Printed after the value: `MB/s`, `ms`, `packets/s`… */
  readonly unit: string;
}

/**
 * A ratio line: `numerator / denominator`, both metric names of the same benchmark, where the
 * denominator is the baseline. The runner computes it within each run, then takes the median.
 */
export interface RatioSpec {
  readonly name: string;
  readonly numerator: string;
  readonly denominator: string;
  /** The ratio this project aims for (printed as `target ≥ N`); informational, not a failure. */
  readonly targetMin?: number;
}

export interface BenchRunOptions {
  /** 0 for the first run. */
  readonly runIndex: number;
}

export interface BenchRunResult {
  /** Metric name → value. A metric that could not be measured (no baseline here) is absent. */
  readonly metrics: Readonly<Record<string, Measurement>>;
  /** Lines printed once under the benchmark (why a baseline is missing, what was checked…). */
  readonly notes?: readonly string[];
}

export interface Benchmark {
  /** kebab-case, the module's file name: `pnpm bench <name>`. */
  readonly name: string;
  /** One line: what is measured, against what. */
  readonly description: string;
  readonly ratios?: readonly RatioSpec[];
  /**
   * One complete run, warm-up included. Throws when a cross-check fails (wrong output): the
   * runner then reports the benchmark as failed and exits non-zero.
   */
  run(options: BenchRunOptions): Promise<BenchRunResult>;
}
