import t, { type Test } from 'tap';
import {
  createCongestionController,
  Cubic,
  CUBIC_ALPHA,
  RttEstimator,
  type CubicConfig,
  type SentPacketInfo,
} from '@braid/protocol';

// RFC 9438 works in segments and seconds; these tests state expectations the same way and
// convert: bytes = segments * MDS, t = ms / 1000.
const MDS = 1200;
const C = 0.4;
const BETA = 0.7;
const LOSS_MS = 1000;

/** A CUBIC sender whose window reached `wMaxPackets` and then lost a packet at LOSS_MS. */
function afterLoss(wMaxPackets: number, config: Partial<CubicConfig> = {}): Cubic {
  const cc = new Cubic({ maxDatagramBytes: MDS, initialWindowPackets: wMaxPackets, ...config });
  cc.onPacketsLost(LOSS_MS, [packet(0, LOSS_MS - 1)], false);
  return cc;
}

let nextPacketNumber = 1;
function packet(packetNumber: number, sentTimeMs: number): SentPacketInfo {
  return { packetNumber, sentTimeMs, bytes: MDS };
}

/** K in seconds for a stage from `cwndEpochBytes` toward `wMaxBytes` (RFC 9438 §4.2 Figure 2). */
function kSeconds(wMaxBytes: number, cwndEpochBytes: number): number {
  return Math.cbrt((wMaxBytes - cwndEpochBytes) / MDS / C);
}

/** W_cubic(t) in bytes (RFC 9438 §4.2 Figure 1). */
function wCubic(tSeconds: number, k: number, wMaxBytes: number): number {
  return (C * (tSeconds - k) ** 3 + wMaxBytes / MDS) * MDS;
}

/**
 * Ack-clocked round trips from `startMs`: each round sends a window at its start and receives
 * one ACK per packet, evenly over the next RTT. Calls `observe(timeMs)` after each round.
 */
function run(
  cc: Cubic,
  rttMs: number,
  startMs: number,
  rounds: number,
  observe: (endMs: number) => void = () => {},
): number {
  const rtt = new RttEstimator(rttMs);
  let sentMs = startMs;
  for (let r = 0; r < rounds; r++) {
    const count = Math.floor(cc.windowBytes / MDS);
    for (let i = 0; i < count; i++) {
      const ackMs = sentMs + rttMs + (i * rttMs) / count;
      cc.onPacketsAcked(ackMs, [packet(nextPacketNumber++, sentMs)], rtt, false);
    }
    sentMs += rttMs;
    observe(sentMs + rttMs - rttMs / count);
  }
  return sentMs;
}

function near(t: Test, actual: number, expected: number, relative: number, what: string): void {
  t.ok(
    Math.abs(actual - expected) <= relative * Math.abs(expected),
    `${what}: ${actual} within ${relative * 100}% of ${expected}`,
  );
}

t.test('a loss sets W_max = cwnd and cwnd = ssthresh = beta * W_max (RFC 9438 §4.6)', async (t) => {
  const cc = afterLoss(100);
  t.equal(cc.wMaxBytes, 120_000);
  t.equal(cc.windowBytes, BETA * 120_000);
  t.equal(cc.ssthreshBytes, BETA * 120_000);
  t.same(
    { ...cc.snapshot(), windowBytes: 0, ssthreshBytes: 0 },
    {
      name: 'cubic',
      windowBytes: 0,
      ssthreshBytes: 0,
      inSlowStart: false,
      inRecovery: true,
      congestionEvents: 1,
    },
  );
  cc.onPacketsAcked(1100, [packet(1, LOSS_MS - 10)], new RttEstimator(100), false);
  t.equal(cc.windowBytes, BETA * 120_000, 'no growth for packets sent before recovery');
  t.equal(createCongestionController('cubic', { maxDatagramBytes: MDS }).name, 'cubic');
});

t.test('per-ACK steps match Figures 1, 2 and 4 with t in seconds', async (t) => {
  const cc = afterLoss(1000); // W_max 1 200 000 bytes, cwnd_epoch 840 000
  const rtt = new RttEstimator(100);
  const k = kSeconds(1_200_000, 840_000);
  // First ACK of a packet sent after recovery began: the stage starts (t = 0). W_cubic(0) is
  // cwnd_epoch and W_est has just grown past it, so this step is Reno-friendly: cwnd = W_est.
  cc.onPacketsAcked(1100, [packet(1, 1001)], rtt, false);
  t.equal(cc.epochStart, 1100);
  near(t, cc.k, k, 1e-12, 'K = cbrt((W_max - cwnd_epoch) / C)');
  const w1 = 840_000 + (CUBIC_ALPHA * MDS * MDS) / 840_000;
  near(t, cc.windowBytes, w1, 1e-12, 'first step: W_est');
  // 50 ms later the curve leads: cwnd += (W_cubic(t + RTT) - cwnd) / cwnd per segment.
  cc.onPacketsAcked(1150, [packet(2, 1001)], rtt, false);
  const target = wCubic(0.05 + 0.1, k, 1_200_000);
  t.ok(target > w1 && target < 1.5 * w1, 'target within [cwnd, 1.5 cwnd]');
  near(t, cc.windowBytes, w1 + ((target - w1) / w1) * MDS, 1e-12, 'second step: concave');
});

t.test('the window follows the cubic curve: concave to W_max at K, then convex', async (t) => {
  const cc = afterLoss(1000);
  const k = kSeconds(1_200_000, 840_000); // 9.09 s
  const epochMs = 1101; // first ACK of the first round below
  const checks = [k / 4, k / 2, k - 1, k, k + 2].map((s) => ({ atMs: epochMs + s * 1000, s }));
  const seen: { s: number; window: number }[] = [];
  run(cc, 100, 1001, 115, (endMs) => {
    const due = checks[seen.length];
    if (due && endMs >= due.atMs)
      seen.push({ s: (endMs - epochMs) / 1000, window: cc.windowBytes });
  });
  t.equal(seen.length, checks.length, 'every checkpoint reached');
  for (const { s, window } of seen) near(t, window, wCubic(s, k, 1_200_000), 0.002, `t = ${s} s`);
  const atK = seen[3]!;
  near(t, atK.window, 1_200_000, 0.002, 'at K the window is W_max');
  t.ok(seen[4]!.window > 1_200_000, 'beyond K it probes above W_max (convex)');
  t.ok(cc.wEstBytes < seen[4]!.window, 'the Reno estimate stayed below: not Reno-friendly');
});

t.test('Reno-friendly region: a small window on a short RTT grows like Reno (§4.3)', async (t) => {
  const cc = afterLoss(10); // W_max 10 segments, cwnd 7: K = 1.96 s
  const increases: number[] = [];
  let last = cc.windowBytes;
  const endMs = run(cc, 10, 1001, 100, () => {
    increases.push(cc.windowBytes - last);
    last = cc.windowBytes;
  });
  const tSeconds = (endMs - 1011) / 1000;
  const k = kSeconds(12_000, 8_400);
  t.ok(cc.windowBytes > 4 * wCubic(tSeconds, k, 12_000), 'far above the cubic curve');
  t.equal(cc.windowBytes, cc.wEstBytes, 'the window is W_est');
  // alpha_cubic (0.53) segments per RTT until W_est reaches cwnd_prior, then Reno's 1.
  t.ok(
    increases[0]! > 0.85 * CUBIC_ALPHA * MDS && increases[0]! <= CUBIC_ALPHA * MDS,
    `first round: ${increases[0]} bytes ~ alpha_cubic segments`,
  );
  t.ok(
    increases[99]! > 0.95 * MDS && increases[99]! <= MDS,
    `a late round: ${increases[99]} bytes ~ one segment`,
  );
  const segments = cc.windowBytes / MDS;
  t.ok(segments > 90 && segments < 105, `after 100 RTTs ~ Reno's window: ${segments} segments`);
});

t.test('fast convergence lowers W_max when a loss comes below it (§4.7)', async (t) => {
  for (const fastConvergence of [true, false]) {
    const cc = afterLoss(100, { fastConvergence });
    const rtt = new RttEstimator(100);
    cc.onPacketsAcked(1100, [packet(1, 1001)], rtt, false);
    cc.onPacketsAcked(1150, [packet(2, 1001)], rtt, false);
    const w = cc.windowBytes;
    t.ok(w > 84_000 && w < 120_000, 'regrowing, below the old W_max');
    cc.onPacketsLost(1200, [packet(3, 1050)], false);
    const wMax = fastConvergence ? (w * (1 + BETA)) / 2 : w;
    t.equal(cc.wMaxBytes, wMax, fastConvergence ? 'W_max = cwnd (1 + beta) / 2' : 'W_max = cwnd');
    t.equal(cc.windowBytes, w * BETA);
    t.equal(cc.snapshot().congestionEvents, 2);
    cc.onPacketsAcked(1300, [packet(4, 1201)], rtt, false);
    near(t, cc.k, kSeconds(wMax, w * BETA), 1e-12, 'K of the next stage');
  }
});

t.test('never below the minimum window; after persistent congestion K = 0 (§4.8)', async (t) => {
  const cc = afterLoss(10);
  for (let i = 1; i <= 10; i++)
    cc.onPacketsLost(LOSS_MS + i, [packet(i, LOSS_MS + i - 0.5)], false);
  t.equal(cc.snapshot().congestionEvents, 11, 'each loss after the last recovery began');
  t.equal(cc.windowBytes, 2 * MDS);
  t.equal(cc.ssthreshBytes, 2 * MDS, 'ssthresh at least 2 segments (§4.6)');

  const big = afterLoss(100);
  big.onPacketsLost(2000, [packet(1, 1999)], true);
  t.equal(big.windowBytes, 2 * MDS, 'persistent congestion: minimum window');
  t.equal(big.inSlowStart, true);
  const ssthresh = big.ssthreshBytes;
  t.equal(ssthresh, 84_000 * BETA, 'ssthresh set with beta (§4.8)');
  const rtt = new RttEstimator(100);
  let pn = 10;
  while (big.inSlowStart) big.onPacketsAcked(2100, [packet(pn++, 2001)], rtt, false);
  const cwndEpoch = big.windowBytes;
  big.onPacketsAcked(2200, [packet(pn++, 2001)], rtt, false);
  t.equal(big.k, 0, 'K = 0');
  t.equal(big.wMaxBytes, cwndEpoch, 'W_max = cwnd at the start of the stage');
});

t.test('app-limited: no growth, and the curve clock stops (RFC 9438 §5.8)', async (t) => {
  const cc = afterLoss(100);
  const rtt = new RttEstimator(100);
  cc.onPacketsAcked(1100, [packet(1, 1001)], rtt, false);
  const w = cc.windowBytes;
  for (let ms = 1200; ms < 6200; ms += 100)
    cc.onPacketsAcked(ms, [packet(nextPacketNumber++, ms - 100)], rtt, true);
  t.equal(cc.windowBytes, w, 'no growth while app-limited');
  t.equal(cc.epochStart, 1100);
  cc.onPacketsAcked(6200, [packet(nextPacketNumber++, 6100)], rtt, false);
  t.equal(cc.epochStart, 1100 + (6200 - 1200), 'the stage start moved by the pause');
  t.ok(cc.windowBytes - w < 150, `one step after the pause is small: ${cc.windowBytes - w} bytes`);
});
