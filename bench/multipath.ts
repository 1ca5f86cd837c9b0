/**
 * multipath: the failover and aggregation targets, measured in the deterministic
 * simulator (`runMultipath`, the scenarios of `pnpm sim -- --scenario NAME`) with their default
 * settings: two paths of 20 ms RTT and 10 Mbit/s each, the `aggregate` scheduler.
 *
 * These are virtual-time figures: a run is exact for its seed and does not depend on the
 * machine. Run N uses seed N (so `--runs 5` is the median over seeds 1–5); each run checks
 * that every scenario delivered every byte intact on one session, or the benchmark fails.
 *
 * The runner's targets are "ratio ≥ target", so a budget ("stall ≤ 200 ms") is written as
 * budget / measured ≥ 1.
 */
import { createSodiumCrypto } from '@braid/protocol';
import { runMultipath, type MultipathResult, type MultipathScenario } from '@braid/netsim';
import type { Benchmark, BenchRunResult } from './types.js';

const BLACKHOLE_STALL_BUDGET_MS = 200;
const ADDRESS_GONE_STALL_BUDGET_MS = 50;
const RECOVERY_BUDGET_MS = 2_000;

export const multipath: Benchmark = {
  name: 'multipath',
  description:
    'failover stalls, path recovery and aggregate goodput of two 20 ms / 10 Mbit/s paths in the simulator (virtual time; run N = seed N)',
  ratios: [
    {
      name: 'blackhole: 200 ms budget / stall',
      numerator: 'blackhole stall budget',
      denominator: 'blackhole stall',
      targetMin: 1,
    },
    {
      name: 'address gone: 50 ms budget / stall',
      numerator: 'address-gone stall budget',
      denominator: 'address-gone stall',
      targetMin: 1,
    },
    {
      name: 'redundant: surviving-path RTT / stall',
      numerator: 'surviving path RTT',
      denominator: 'redundant stall',
      targetMin: 1,
    },
    {
      name: 'recovery: 2 s budget / recovered',
      numerator: 'recovery budget',
      denominator: 'recovered',
      targetMin: 1,
    },
    {
      name: 'aggregate goodput / one path',
      numerator: 'aggregate goodput',
      denominator: 'one-path goodput',
      targetMin: 1.7,
    },
  ],
  async run({ runIndex }): Promise<BenchRunResult> {
    const crypto = await createSodiumCrypto();
    const seed = runIndex + 1;
    const run = (scenario: MultipathScenario): MultipathResult => {
      const r = runMultipath({ scenario, seed, crypto });
      if (!r.verified) throw new Error(`multipath ${scenario}, seed ${seed}: ${r.failure}`);
      return r;
    };
    const figure = (r: MultipathResult, name: 'stallMs' | 'recoveredMs' | 'failoverMs') => {
      const v = r[name];
      if (v === null) throw new Error(`multipath ${r.scenario}, seed ${seed}: no ${name}`);
      return v;
    };
    const blackhole = run('failover-blackhole');
    const gone = run('failover-down');
    const redundant = run('redundant');
    const aggregate = run('aggregate');
    const ms = (value: number) => ({ value, unit: 'ms' });
    const mbps = (bps: number) => ({ value: bps / 1e6, unit: 'Mbit/s' });
    return {
      metrics: {
        'blackhole stall': ms(figure(blackhole, 'stallMs')),
        'blackhole stall budget': ms(BLACKHOLE_STALL_BUDGET_MS),
        'blackhole failover': ms(figure(blackhole, 'failoverMs')),
        'address-gone stall': ms(figure(gone, 'stallMs')),
        'address-gone stall budget': ms(ADDRESS_GONE_STALL_BUDGET_MS),
        'redundant stall': ms(figure(redundant, 'stallMs')),
        'surviving path RTT': ms(redundant.survivingRttMs!),
        recovered: ms(figure(blackhole, 'recoveredMs')),
        'recovery budget': ms(RECOVERY_BUDGET_MS),
        'aggregate goodput': mbps(aggregate.goodputBps),
        'one-path goodput': mbps(aggregate.onePath!.goodputBps),
      },
      notes: [
        'virtual time, exact per seed: run N is seed N, so the medians are over seeds',
        'stall: longest gap in what the application read, from the fault to the end; failover: fault to the first stream data on the other path once the sender saw the failure; recovered: link back to stream data on it again',
        'redundant: 1 KB every 10 ms on a redundant stream, one path blackholed; its stall includes the 10 ms between messages',
        'aggregate: paths of 10 ms and 40 ms RTT; one path = the 10 ms path alone, same seed',
        `replay one: pnpm sim -- --scenario failover-blackhole --seed N (also failover-down, redundant, aggregate)`,
      ],
    };
  },
};
