/**
 * `pnpm soak -- [--seeds N] [--from S]`: the seed sweeps of the tests, run over many more seeds.
 * Each seed derives a whole fault configuration (see randomFaults), run twice: once carrying
 * datagrams, once carrying streams (randomTransfer). Every failing seed is printed with its
 * replay command. Ends with `N passed, N failed` (one test per seed and workload); exits 1 on
 * any failure.
 */
import { Command, InvalidArgumentError } from 'commander';
import {
  randomFaults,
  randomTransfer,
  runDatagramExchange,
  runStreamTransfer,
} from '@braid/netsim';
import { createSodiumCrypto } from '@braid/protocol';

const count = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`not a count: "${v}"`);
  return n;
};
const argv = process.argv.slice(2);
if (argv[0] === '--') argv.shift();
const o = new Command('pnpm soak --')
  .option('--seeds <n>', 'how many seeds', count, 5000)
  .option('--from <seed>', 'first seed', count, 1)
  .parse(argv, { from: 'user' })
  .opts<{ seeds: number; from: number }>();

const crypto = await createSodiumCrypto();
let passed = 0;
let failed = 0;
const startedMs = Date.now();
for (let seed = o.from; seed < o.from + o.seeds; seed++) {
  const runs = [
    ['datagrams', runDatagramExchange({ ...randomFaults(seed), crypto })],
    ['streams', runStreamTransfer({ ...randomTransfer(seed), crypto })],
  ] as const;
  for (const [workload, r] of runs) {
    if (r.verified) passed++;
    else {
      failed++;
      console.log(`seed ${seed} (${workload}): ${r.failure}`);
    }
  }
  if ((seed - o.from + 1) % 500 === 0)
    console.error(
      `… ${seed - o.from + 1}/${o.seeds} seeds, ${failed} failed, ${((Date.now() - startedMs) / 1000).toFixed(0)} s`,
    );
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
