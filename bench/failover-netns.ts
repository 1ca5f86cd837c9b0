/**
 * failover-netns (root): Braid against Linux kernel MPTCP on the namespace lab, both links
 * shaped to 100 Mbit/s each way (tbf, 20 ms queue). Each system runs active/backup — Braid's
 * `active-backup` scheduler, MPTCP with link 2's subflow flagged `backup` — so link 1 is the
 * active link. A bulk transfer starts; a fixed time after the receiver's first mebibyte link 1
 * is cut, once by `ip link set down` on host a and once by a silent nftables blackhole (both
 * ways). From the receiver's delivery timeline (10 ms buckets, scripts/netns/delivery.ts):
 *
 * - stall: the longest gap in delivery after the cut, to the bucket (10 ms = no gap);
 * - half rate: from the cut until goodput over 50 ms is back to half its rate over the second
 *   before the cut;
 * - lost: bytes written and never read (a transfer that died loses the rest).
 *
 * Every transfer is checked byte for byte (SHA-256 of what a wrote against what b read); a
 * mismatch with nothing lost fails the benchmark. Each transfer gets a fresh lab. Without root
 * (or without ip/nft/tc) the benchmark reports nothing and says why; without python3's
 * IPPROTO_MPTCP it measures Braid alone.
 */
import { failoverFigures } from '../test/dist/scripts/netns/delivery.js';
import { createLab, labSupport, type Lab } from '../test/dist/scripts/netns/lab.js';
import { mptcpSupport } from '../test/dist/scripts/netns/programs.js';
import { LAB_DATAGRAM_BYTES, runTransfer } from '../test/dist/scripts/netns/transfer.js';
import type { Benchmark, BenchRunResult, Measurement } from './types.js';

const RATE_MBIT = 100;
/** ~6.5 s at the rate: the cut comes at about half, whichever system is faster. */
const TRANSFER_BYTES = 80_000_000;
/** The cut, after the receiver's first MiB: both systems are past their slow start by then. */
const CUT_AFTER_MS = 3_000;
const TRANSFER_TIMEOUT_MS = 120_000;

const FAULTS = {
  'link-down': (lab: Lab) => lab.setLinkUp(1, false),
  blackhole: (lab: Lab) => lab.setBlackhole(1, true),
} as const;
type FaultName = keyof typeof FAULTS;
type SystemName = 'braid' | 'mptcp';

const ratios = (Object.keys(FAULTS) as FaultName[]).flatMap((fault) => [
  {
    name: `${fault}: MPTCP stall / Braid stall`,
    numerator: `mptcp ${fault} stall`,
    denominator: `braid ${fault} stall`,
    targetMin: 2,
  },
  {
    name: `${fault}: MPTCP / Braid time to half rate`,
    numerator: `mptcp ${fault} half rate`,
    denominator: `braid ${fault} half rate`,
  },
]);

export const failoverNetns: Benchmark = {
  name: 'failover-netns',
  description: `root: active link cut (link down, then silent blackhole) mid-transfer on two ${RATE_MBIT} Mbit/s veth links: stall, time to half rate, bytes lost — Braid beside kernel MPTCP`,
  ratios,
  async run(): Promise<BenchRunResult> {
    const lab = await labSupport();
    if (!lab.ok) return { metrics: {}, notes: [`skipped: ${lab.reason}`] };
    const mptcp = await mptcpSupport();
    const systems: SystemName[] = mptcp.ok ? ['braid', 'mptcp'] : ['braid'];
    const metrics: Record<string, Measurement> = {};
    for (const fault of Object.keys(FAULTS) as FaultName[]) {
      for (const system of systems) {
        const figures = await measure(system, fault);
        metrics[`${system} ${fault} stall`] = { value: figures.stallMs, unit: 'ms' };
        if (figures.halfRateMs !== null)
          metrics[`${system} ${fault} half rate`] = { value: figures.halfRateMs, unit: 'ms' };
        metrics[`${system} ${fault} lost`] = { value: figures.lostBytes, unit: 'bytes' };
        metrics[`${system} ${fault} rate before`] = {
          value: figures.rateBeforeBps / 1e6,
          unit: 'Mbit/s',
        };
      }
    }
    return {
      metrics,
      notes: [
        ...(mptcp.ok ? [] : [`MPTCP baseline not measured: ${mptcp.reason}`]),
        `${TRANSFER_BYTES / 1e6} MB a → b, link 1 cut ${CUT_AFTER_MS} ms after b read its first MiB; fresh lab per transfer; active/backup on both systems`,
        `Braid: embedded endpoints, ${LAB_DATAGRAM_BYTES}-byte datagrams (maxDatagramBytes; the links' MTU is 1500, MPTCP's segments are 1448 bytes)`,
        'stall: longest gap between deliveries after the cut, 10 ms buckets (10 ms = none); half rate: cut → end of the first 50 ms window with half the goodput of the second before the cut (absent if never)',
        'MPTCP: bench/mptcp/mptcp-peer.py (python3, IPPROTO_MPTCP), kernel path manager, link-2 subflow `backup`; its TCP congestion control is the kernel default (sysctl net.ipv4.tcp_congestion_control)',
      ],
    };
  },
};

async function measure(system: SystemName, fault: FaultName) {
  const lab = await createLab({
    rateMbit: RATE_MBIT,
    ...(system === 'mptcp' ? { mptcp: { backupLink2: true } } : {}),
  });
  try {
    const r = await runTransfer({
      lab,
      system,
      bytes: TRANSFER_BYTES,
      scheduler: 'active-backup',
      maxDatagramBytes: LAB_DATAGRAM_BYTES,
      timeoutMs: TRANSFER_TIMEOUT_MS,
      fault: { afterMs: CUT_AFTER_MS, apply: () => FAULTS[fault](lab) },
    });
    const lostBytes = r.sent.bytes - r.received.bytes;
    if (lostBytes === 0 && r.received.sha256 !== r.sent.sha256)
      throw new Error(`${system} ${fault}: b read ${r.received.bytes} bytes that differ from a's`);
    return { ...failoverFigures(r.received.timeline, r.faultAtMs!), lostBytes };
  } finally {
    await lab.close();
  }
}
