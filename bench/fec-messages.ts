/**
 * fec-messages: the FEC targets of docs/fec.md, measured in the deterministic simulator with the
 * workload of `pnpm sim -- --scenario fec-messages`: one low-latency stream of 1 KB messages,
 * one per millisecond, over a 40 ms RTT path, figures over the 10,000 messages after a 2 s
 * warm-up. Each run checks that every message arrived intact, or the benchmark fails.
 *
 * Virtual time: a run is exact for its seed and does not depend on the machine. Run N uses
 * seed N, so `--runs 5` is the median over seeds 1–5. The runner's targets are "ratio ≥
 * target", so budgets ("p99 ≤ lossless p99 + 15 ms") are written as budget / measured ≥ 1.
 */
import { createSodiumCrypto, type FecSetting } from '@braid/protocol';
import { gilbertElliottFromMeanLoss, runFecMessages, type FecMessagesResult } from '@braid/netsim';
import type { Benchmark, BenchRunResult } from './types.js';

const RTT_MS = 40;
const LOSS = 0.05;
const BURST = 3;
/** The budgets over the lossless p99, and on wire bytes per payload byte. */
const IID_P99_BUDGET_MS = 15;
const BURST_P99_BUDGET_MS = 25;
const WIRE_BUDGET = 1.25;

export const fecMessages: Benchmark = {
  name: 'fec-messages',
  description:
    'p99 message latency and wire/payload of a 1 KB × 1,000/s low-latency stream at 40 ms RTT: lossless, 5% i.i.d. loss with FEC off and auto, 5% in bursts of 3 with auto (simulator; run N = seed N)',
  ratios: [
    {
      name: '5% i.i.d., auto: (lossless p99 + 15 ms) / p99',
      numerator: 'i.i.d. p99 budget',
      denominator: 'i.i.d. auto p99',
      targetMin: 1,
    },
    {
      name: '5% i.i.d., auto: 1.25 / wire per payload',
      numerator: 'wire budget',
      denominator: 'i.i.d. auto wire/payload',
      targetMin: 1,
    },
    {
      name: '5% bursts of 3, auto: (lossless p99 + 25 ms) / p99',
      numerator: 'burst p99 budget',
      denominator: 'burst auto p99',
      targetMin: 1,
    },
    {
      name: '5% i.i.d.: p99 without FEC / with auto',
      numerator: 'i.i.d. off p99',
      denominator: 'i.i.d. auto p99',
    },
  ],
  async run({ runIndex }): Promise<BenchRunResult> {
    const crypto = await createSodiumCrypto();
    const seed = runIndex + 1;
    const run = (
      what: string,
      fec: FecSetting,
      loss: number,
      burst?: number,
    ): FecMessagesResult => {
      const r = runFecMessages({
        seed,
        crypto,
        fec,
        link: {
          delayMs: RTT_MS / 2,
          ...(burst
            ? {
                gilbertElliott: gilbertElliottFromMeanLoss({
                  lossRate: loss,
                  meanBurstLength: burst,
                }),
              }
            : { loss }),
        },
      });
      if (!r.verified) throw new Error(`fec-messages ${what}, seed ${seed}: ${r.failure}`);
      return r;
    };
    const lossless = run('lossless', 'auto', 0);
    const off = run('5% i.i.d., off', 'off', LOSS);
    const auto = run('5% i.i.d., auto', 'auto', LOSS);
    const bursty = run('5% bursts of 3, auto', 'auto', LOSS, BURST);
    const ms = (value: number) => ({ value, unit: 'ms' });
    const x = (value: number) => ({ value, unit: '×' });
    return {
      metrics: {
        'lossless p99': ms(lossless.latencyMsP99),
        'lossless repair packets': { value: lossless.repairPackets, unit: 'packets' },
        'i.i.d. off p99': ms(off.latencyMsP99),
        'i.i.d. auto p50': ms(auto.latencyMsP50),
        'i.i.d. auto p99': ms(auto.latencyMsP99),
        'i.i.d. p99 budget': ms(lossless.latencyMsP99 + IID_P99_BUDGET_MS),
        'i.i.d. auto wire/payload': x(auto.wireToPayload),
        'i.i.d. off wire/payload': x(off.wireToPayload),
        'wire budget': x(WIRE_BUDGET),
        'i.i.d. auto rebuilt': { value: auto.recoveredPackets, unit: 'packets' },
        'i.i.d. auto retransmitted': { value: auto.retransmittedBytes, unit: 'bytes' },
        'burst auto p99': ms(bursty.latencyMsP99),
        'burst p99 budget': ms(lossless.latencyMsP99 + BURST_P99_BUDGET_MS),
        'burst auto wire/payload': x(bursty.wireToPayload),
      },
      notes: [
        `seed ${seed}: auto chose ${auto.chosen.k},${auto.chosen.m} at 5% i.i.d. and ${bursty.chosen.k},${bursty.chosen.m} in bursts (m repairs per k packets)`,
      ],
    };
  },
};
