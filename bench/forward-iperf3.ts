/**
 * forward-iperf3 (root): iperf3 TCP throughput through `braid forward` (in a) and `braid expose`
 * (in b), braidd in each host bound to link 1 only, against iperf3 straight over that same veth
 * link, in the same lab and run: once with the link shaped to 100 Mbit/s each way (tbf, 20 ms
 * queue), once unshaped (then Braid's user-space work is the limit, not the link). The figure is
 * what the iperf3 server received per second (`end.sum_received`), over a fixed-time test.
 */
import { startForwarding, startProgram, toolPresent } from '../test/dist/scripts/netns/forward.js';
import { createLab, labSupport, type Lab } from '../test/dist/scripts/netns/lab.js';
import type { Benchmark, BenchRunResult, Measurement } from './types.js';

const RATE_MBIT = 100;
const IPERF_PORT = 5201;
/** Seconds of each iperf3 test, and the first ones left out (slow start). */
const TEST_SECONDS = 6;
const OMIT_SECONDS = 1;
/** A bound on one iperf3 run, far above its length. */
const RUN_TIMEOUT_MS = 120_000;
/** iperf3's JSON report; more than this is cut (it is a few tens of KiB). */
const REPORT_BYTES_MAX = 4 << 20;

export const forwardIperf3: Benchmark = {
  name: 'forward-iperf3',
  description: `root: iperf3 TCP throughput through braid forward/expose vs iperf3 direct over the same veth link (${RATE_MBIT} Mbit/s shaped, and unshaped)`,
  ratios: [
    {
      name: `forwarded / direct, ${RATE_MBIT} Mbit/s`,
      numerator: `forwarded ${RATE_MBIT} Mbit/s`,
      denominator: `direct ${RATE_MBIT} Mbit/s`,
      targetMin: 0.9,
    },
    {
      name: 'forwarded / direct, unshaped',
      numerator: 'forwarded unshaped',
      denominator: 'direct unshaped',
    },
  ],
  async run(): Promise<BenchRunResult> {
    const lab = await labSupport();
    if (!lab.ok) return { metrics: {}, notes: [`skipped: ${lab.reason}`] };
    if (!(await toolPresent('iperf3')))
      return { metrics: {}, notes: ['skipped: `iperf3` not found (apt-get install iperf3)'] };
    const metrics: Record<string, Measurement> = {};
    for (const [label, rateMbit] of [
      [`${RATE_MBIT} Mbit/s`, RATE_MBIT],
      ['unshaped', undefined],
    ] as const) {
      const { direct, forwarded } = await measure(rateMbit);
      metrics[`direct ${label}`] = mbps(direct);
      metrics[`forwarded ${label}`] = mbps(forwarded);
    }
    return {
      metrics,
      notes: [
        `iperf3 -t ${TEST_SECONDS} -O ${OMIT_SECONDS}, one TCP stream a → b, default congestion control; the rate the server received`,
        'forwarded: iperf3 -c 127.0.0.1:<forward port> in a → braid forward → braidd (a) → link 1 → braidd (b) → braid expose → iperf3 -s on 127.0.0.1 in b',
        'direct: iperf3 -c to b’s link-1 address; both measured in the same lab, one after the other',
      ],
    };
  },
};

function mbps(bps: number): Measurement {
  return { value: bps / 1e6, unit: 'Mbit/s' };
}

/** In a fresh lab: iperf3 direct over link 1, then through the forward over link 1. */
async function measure(
  rateMbit: number | undefined,
): Promise<{ direct: number; forwarded: number }> {
  const lab = await createLab(rateMbit === undefined ? {} : { rateMbit });
  try {
    const server = startProgram(
      lab,
      'b',
      'iperf3',
      ['--server', '--port', String(IPERF_PORT), '--forceflush'],
      'iperf3 server (b)',
    );
    await server.waitForOutput(/Server listening on/);
    const direct = await iperf(lab, lab.link(1).b, IPERF_PORT);
    const fwd = await startForwarding({
      lab,
      service: 'iperf3',
      targetPort: IPERF_PORT,
      links: [1],
    });
    try {
      return { direct, forwarded: await iperf(lab, '127.0.0.1', fwd.port) };
    } finally {
      await fwd.close();
    }
  } finally {
    await lab.close();
  }
}

/** One iperf3 client run in a; the server's received rate in bit/s. Throws on any error. */
async function iperf(lab: Lab, host: string, port: number): Promise<number> {
  const client = startProgram(
    lab,
    'a',
    'iperf3',
    [
      '--client',
      host,
      '--port',
      String(port),
      '--time',
      String(TEST_SECONDS),
      '--omit',
      String(OMIT_SECONDS),
      '--json',
    ],
    `iperf3 client (a) to ${host}:${port}`,
  );
  let report = '';
  client.child.stdout?.on('data', (chunk: Buffer) => {
    if (report.length < REPORT_BYTES_MAX) report += chunk.toString();
  });
  const timer = setTimeout(() => client.child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const exit = await client.exited.finally(() => clearTimeout(timer));
  let r: { error?: string; end?: { sum_received?: { bytes: number; bits_per_second: number } } };
  try {
    r = JSON.parse(report) as typeof r;
  } catch {
    throw new Error(
      `iperf3 to ${host}:${port} printed no JSON report (exit ${exit.signal ?? exit.code}): ${client.output().slice(-1_000)}`,
    );
  }
  const received = r.end?.sum_received;
  if (exit.code !== 0 || r.error !== undefined || !received || received.bytes <= 0)
    throw new Error(
      `iperf3 to ${host}:${port} failed (exit ${exit.signal ?? exit.code}): ${r.error ?? 'no bytes received'}`,
    );
  return received.bits_per_second;
}
