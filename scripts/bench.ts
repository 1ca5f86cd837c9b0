/**
 * `pnpm bench [names...] [--runs N] [--json]`: runs the benchmarks listed in bench/registry.ts
 * (all of them when no name is given), each N times, and prints the median of every metric and
 * of every ratio against the baseline that the benchmark measured in the same run. Progress goes
 * to stderr, results to stdout (with --json, one JSON object).
 * Exit code 0; 1 when a benchmark failed (a cross-check of its output threw); 2 on bad options.
 */
import { Command, InvalidArgumentError } from 'commander';
import { median } from '../bench/measure.js';
import { BENCHMARKS } from '../bench/registry.js';
import type { Benchmark, BenchRunResult } from '../bench/types.js';

const RUNS_MAX = 1000;

interface MetricSummary {
  unit: string;
  median: number;
  samples: number[];
}

interface RatioSummary {
  numerator: string;
  denominator: string;
  /** null when the baseline (or the subject) was not measured in any run. */
  median: number | null;
  samples: number[];
  targetMin?: number;
  met?: boolean;
}

interface BenchSummary {
  name: string;
  description: string;
  runs: number;
  metrics: Record<string, MetricSummary>;
  ratios: Record<string, RatioSummary>;
  notes: string[];
  /** Present when a run threw: the benchmark failed. */
  error?: string;
}

function parseRuns(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > RUNS_MAX)
    throw new InvalidArgumentError(`expected an integer in [1, ${RUNS_MAX}], got "${value}"`);
  return n;
}

async function runBenchmark(bench: Benchmark, runs: number): Promise<BenchSummary> {
  const results: BenchRunResult[] = [];
  const summary: BenchSummary = {
    name: bench.name,
    description: bench.description,
    runs,
    metrics: {},
    ratios: {},
    notes: [],
  };
  try {
    for (let runIndex = 0; runIndex < runs; runIndex++) {
      process.stderr.write(`${bench.name}: run ${runIndex + 1}/${runs}\n`);
      results.push(await bench.run({ runIndex }));
    }
  } catch (err) {
    summary.error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  }
  for (const result of results) {
    for (const [name, m] of Object.entries(result.metrics)) {
      const metric = (summary.metrics[name] ??= { unit: m.unit, median: 0, samples: [] });
      metric.samples.push(m.value);
    }
    for (const note of result.notes ?? [])
      if (!summary.notes.includes(note)) summary.notes.push(note);
  }
  for (const metric of Object.values(summary.metrics)) metric.median = median(metric.samples);
  for (const spec of bench.ratios ?? []) {
    // Per run, then the median: the two sides of each sample were timed side by side.
    const samples = results.flatMap(({ metrics }) => {
      const num = metrics[spec.numerator];
      const den = metrics[spec.denominator];
      return num && den ? [num.value / den.value] : [];
    });
    const ratio = samples.length > 0 ? median(samples) : null;
    summary.ratios[spec.name] = {
      numerator: spec.numerator,
      denominator: spec.denominator,
      median: ratio,
      samples,
      ...(spec.targetMin !== undefined
        ? { targetMin: spec.targetMin, ...(ratio !== null ? { met: ratio >= spec.targetMin } : {}) }
        : {}),
    };
  }
  return summary;
}

function format(value: number, unit?: string): string {
  // Ratios (×) are read to the third decimal: a wire budget of 1.25 is met or not there.
  if (unit === '×') return value.toFixed(3);
  return value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(1) : value.toFixed(2);
}

function report(s: BenchSummary): string {
  const lines = [
    `${s.name}: ${s.description}`,
    `  median of ${s.runs} run${s.runs === 1 ? '' : 's'}`,
  ];
  const width = Math.max(
    0,
    ...[...Object.keys(s.metrics), ...Object.keys(s.ratios)].map((k) => k.length),
  );
  for (const [name, m] of Object.entries(s.metrics))
    lines.push(
      `  ${name.padEnd(width)}  ${format(m.median, m.unit).padStart(8)} ${m.unit}  (runs: ${m.samples.map((x) => format(x, m.unit)).join(', ')})`,
    );
  for (const [name, r] of Object.entries(s.ratios)) {
    const target =
      r.targetMin === undefined
        ? ''
        : `  target ≥ ${r.targetMin}${r.met === undefined ? '' : r.met ? ': met' : ': NOT MET'}`;
    lines.push(
      `  ${name.padEnd(width)}  ${(r.median === null ? 'n/a' : r.median.toFixed(2)).padStart(8)}${target}${r.median === null ? `  (${r.denominator} not measured)` : ''}`,
    );
  }
  for (const note of s.notes) lines.push(`  note: ${note}`);
  if (s.error !== undefined) lines.push(`  FAILED: ${s.error}`);
  return lines.join('\n');
}

const program = new Command('pnpm bench')
  .description(
    'Run benchmarks; print the median of each metric and ratios against a baseline measured in the same run.',
  )
  .argument('[names...]', 'benchmarks to run (default: all)')
  .option('--runs <n>', 'runs of each benchmark', parseRuns, 5)
  .option('--json', 'print one JSON object instead of the report')
  .addHelpText(
    'after',
    `\nBenchmarks:\n${BENCHMARKS.map((b) => `  ${b.name.padEnd(20)} ${b.description}`).join('\n')}`,
  )
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

// pnpm passes the `--` of `pnpm bench -- fec-codec` through; it is not an operand here.
const argv = process.argv.slice(2);
if (argv[0] === '--') argv.shift();
program.parse(argv, { from: 'user' });
const options = program.opts<{ runs: number; json?: boolean }>();
const names = program.args;

const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`,
  );
  process.exit(2);
}
const selected = names.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => names.includes(b.name));

const summaries: BenchSummary[] = [];
for (const bench of selected) {
  const summary = await runBenchmark(bench, options.runs);
  summaries.push(summary);
  if (!options.json) console.log(report(summary));
}
if (options.json) console.log(JSON.stringify({ benchmarks: summaries }));
process.exitCode = summaries.some((s) => s.error !== undefined) ? 1 : 0;
