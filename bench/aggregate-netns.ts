/**
 * aggregate-netns (root): goodput of one bulk transfer over both links of the namespace lab,
 * each shaped to 100 Mbit/s each way (tbf, 20 ms queue): Braid over both links (`aggregate`
 * scheduler), Braid over link 1 alone (only link 1's addresses bound), and Linux kernel MPTCP
 * over both (default scheduler, a subflow per link), in the same run, each in a fresh lab.
 * Goodput is what the receiving application read from its first byte to its last (so slow start
 * counts, as it does for a user). Every transfer is checked byte for byte.
 */
import { goodputBps } from '../test/dist/scripts/netns/delivery.js';
import { createLab, labSupport, type LinkId } from '../test/dist/scripts/netns/lab.js';
import { mptcpSupport } from '../test/dist/scripts/netns/programs.js';
import { LAB_DATAGRAM_BYTES, runTransfer } from '../test/dist/scripts/netns/transfer.js';
import type { Benchmark, BenchRunResult, Measurement } from './types.js';

const RATE_MBIT = 100;
/** ~6 s at 200 Mbit/s; one link gets less so its run takes about as long. */
const TWO_LINK_BYTES = 150_000_000;
const ONE_LINK_BYTES = 75_000_000;
const TRANSFER_TIMEOUT_MS = 180_000;

export const aggregateNetns: Benchmark = {
  name: 'aggregate-netns',
  description: `root: goodput over two ${RATE_MBIT} Mbit/s veth links at once vs one link (Braid) vs kernel MPTCP over both`,
  ratios: [
    {
      name: 'Braid two links / one link',
      numerator: 'braid two links',
      denominator: 'braid one link',
      targetMin: 1.8,
    },
    {
      name: 'Braid / MPTCP, two links',
      numerator: 'braid two links',
      denominator: 'mptcp two links',
      targetMin: 0.95,
    },
  ],
  async run(): Promise<BenchRunResult> {
    const lab = await labSupport();
    if (!lab.ok) return { metrics: {}, notes: [`skipped: ${lab.reason}`] };
    const mptcp = await mptcpSupport();
    const metrics: Record<string, Measurement> = {
      'braid two links': mbps(await goodput('braid', TWO_LINK_BYTES, [1, 2])),
      'braid one link': mbps(await goodput('braid', ONE_LINK_BYTES, [1])),
    };
    if (mptcp.ok) metrics['mptcp two links'] = mbps(await goodput('mptcp', TWO_LINK_BYTES));
    return {
      metrics,
      notes: [
        ...(mptcp.ok ? [] : [`MPTCP baseline not measured: ${mptcp.reason}`]),
        `Braid ${TWO_LINK_BYTES / 1e6} MB over both links and ${ONE_LINK_BYTES / 1e6} MB over link 1; MPTCP ${TWO_LINK_BYTES / 1e6} MB; goodput from the first byte read to the last`,
        `Braid: embedded endpoints, ${LAB_DATAGRAM_BYTES}-byte datagrams (maxDatagramBytes; the links' MTU is 1500, MPTCP's segments are 1448 bytes)`,
        'MPTCP: bench/mptcp/mptcp-peer.py (python3, IPPROTO_MPTCP), b announces its link-2 address, a joins a second subflow; TCP congestion control is the kernel default',
      ],
    };
  },
};

function mbps(bps: number): Measurement {
  return { value: bps / 1e6, unit: 'Mbit/s' };
}

async function goodput(system: 'braid' | 'mptcp', bytes: number, links?: LinkId[]) {
  const lab = await createLab({
    rateMbit: RATE_MBIT,
    ...(system === 'mptcp' ? { mptcp: {} } : {}),
  });
  try {
    const r = await runTransfer({
      lab,
      system,
      bytes,
      ...(links ? { links } : {}),
      ...(system === 'braid' ? { maxDatagramBytes: LAB_DATAGRAM_BYTES } : {}),
      timeoutMs: TRANSFER_TIMEOUT_MS,
    });
    if (r.received.bytes !== bytes || r.received.sha256 !== r.sent.sha256)
      throw new Error(
        `${system}: b read ${r.received.bytes} of ${bytes} bytes, ${r.received.sha256 === r.sent.sha256 ? 'matching' : 'not matching'} a's hash`,
      );
    return goodputBps(r.received.timeline);
  } finally {
    await lab.close();
  }
}
