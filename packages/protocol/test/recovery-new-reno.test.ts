import t from 'tap';
import {
  createCongestionController,
  NewReno,
  RttEstimator,
  type CongestionController,
  type SentPacketInfo,
} from '@braid/protocol';

const MDS = 1200;
const RTT_MS = 100;

/** A controller with 1200-byte datagrams: initial window 12 000, minimum 2 400. */
function newReno(): NewReno {
  return new NewReno({ maxDatagramBytes: MDS });
}

/** Numbers packets in send order across a test. */
class Sender {
  private next = 0;
  packets(count: number, sentTimeMs: number): SentPacketInfo[] {
    return Array.from({ length: count }, () => ({
      packetNumber: this.next++,
      sentTimeMs,
      bytes: MDS,
    }));
  }
}

/**
 * One round trip: a full window sent at `sentMs`, each packet acknowledged by its own ACK, spread
 * over the next RTT. Returns the time the round ended.
 */
function round(
  cc: CongestionController,
  sender: Sender,
  sentMs: number,
  appLimited = false,
): number {
  const rtt = new RttEstimator(RTT_MS);
  const packets = sender.packets(Math.floor(cc.windowBytes / MDS), sentMs);
  packets.forEach((p, i) => {
    cc.onPacketsAcked(sentMs + RTT_MS + (i * RTT_MS) / packets.length, [p], rtt, appLimited);
  });
  return sentMs + RTT_MS;
}

t.test('initial state and RFC 9002 §7.2 windows', async (t) => {
  const cc = newReno();
  t.same(cc.snapshot(), {
    name: 'newreno',
    windowBytes: 12_000,
    ssthreshBytes: Infinity,
    inSlowStart: true,
    inRecovery: false,
    congestionEvents: 0,
  });
  t.equal(new NewReno({ maxDatagramBytes: 1500 }).windowBytes, 14_720, 'capped at 14720 bytes');
  t.equal(new NewReno({ maxDatagramBytes: 9000 }).windowBytes, 18_000, 'but at least 2 datagrams');
  t.equal(
    new NewReno({ maxDatagramBytes: 1500, initialWindowPackets: 10 }).windowBytes,
    15_000,
    'an explicit initial window is not capped',
  );
  t.equal(createCongestionController('newreno', { maxDatagramBytes: MDS }).name, 'newreno');
  for (const bad of [
    { maxDatagramBytes: 0 },
    { maxDatagramBytes: 1200.5 },
    { maxDatagramBytes: MDS, minimumWindowPackets: 0 },
    { maxDatagramBytes: MDS, initialWindowPackets: 1, minimumWindowPackets: 2 },
    { maxDatagramBytes: MDS, maximumWindowPackets: 5 },
  ])
    t.throws(() => new NewReno(bad), { code: 'ERR_BRAID_INVALID_OPTION' }, JSON.stringify(bad));
  t.throws(
    () => createCongestionController('bbr' as 'cubic', { maxDatagramBytes: MDS }),
    { code: 'ERR_BRAID_INVALID_OPTION' },
    'unknown algorithm',
  );
});

t.test('slow start doubles the window every round trip (RFC 9002 §7.3.1)', async (t) => {
  const cc = newReno();
  const sender = new Sender();
  let now = 0;
  const windows = [cc.windowBytes];
  for (let i = 0; i < 5; i++) {
    now = round(cc, sender, now);
    windows.push(cc.windowBytes);
  }
  t.same(windows, [12_000, 24_000, 48_000, 96_000, 192_000, 384_000]);
  t.equal(cc.inSlowStart, true);
});

t.test('congestion avoidance: +1 datagram per window acknowledged (RFC 9002 §7.3.3)', async (t) => {
  const cc = newReno();
  const sender = new Sender();
  let now = round(cc, sender, 0); // 24 000
  cc.onPacketsLost(now, sender.packets(1, now - 1), false);
  t.equal(cc.windowBytes, 12_000, 'halved');
  t.equal(cc.ssthreshBytes, 12_000);
  t.equal(cc.inSlowStart, false);
  now += 1;
  // Nine packets of a 10-packet window: no growth yet (byte counting, RFC 3465 §2.1).
  const rtt = new RttEstimator(RTT_MS);
  const first = sender.packets(10, now);
  for (const p of first.slice(0, 9)) cc.onPacketsAcked(now + RTT_MS, [p], rtt, false);
  t.equal(cc.windowBytes, 12_000, 'no growth before a whole window is acknowledged');
  cc.onPacketsAcked(now + RTT_MS, [first[9]!], rtt, false);
  t.equal(cc.windowBytes, 13_200, 'one datagram once it is');
  now += RTT_MS;
  const windows: number[] = [];
  for (let i = 0; i < 4; i++) {
    now = round(cc, sender, now);
    windows.push(cc.windowBytes);
  }
  t.same(windows, [14_400, 15_600, 16_800, 18_000]);
});

t.test(
  'one reduction per recovery period, keyed by send time (RFC 9002 §7.3.2, B.6)',
  async (t) => {
    const cc = newReno();
    const sender = new Sender();
    round(cc, sender, 0); // window 24 000 at t = 100
    const rtt = new RttEstimator(RTT_MS);
    const beforeRecovery = sender.packets(20, 150);
    cc.onPacketsLost(1000, beforeRecovery.slice(0, 2), false);
    t.equal(cc.windowBytes, 12_000);
    t.equal(cc.snapshot().inRecovery, true);
    t.equal(cc.snapshot().congestionEvents, 1);

    cc.onPacketsLost(1100, beforeRecovery.slice(2, 5), false);
    t.equal(cc.windowBytes, 12_000, 'losses of packets sent before recovery began do not reduce');
    cc.onPacketsLost(1100, sender.packets(1, 1000), false);
    t.equal(cc.windowBytes, 12_000, 'nor does a packet sent at the instant recovery began');
    cc.onPacketsAcked(1150, beforeRecovery.slice(5, 15), rtt, false);
    t.equal(cc.windowBytes, 12_000, 'acknowledgements of them do not grow the window');
    t.equal(cc.snapshot().inRecovery, true, 'and do not end recovery');
    t.equal(cc.snapshot().congestionEvents, 1);

    const duringRecovery = sender.packets(3, 1001);
    cc.onPacketsAcked(1101, duringRecovery.slice(0, 1), rtt, false);
    t.equal(
      cc.snapshot().inRecovery,
      false,
      'a packet sent in recovery acknowledged: recovery ends',
    );
    cc.onPacketsLost(1200, duringRecovery.slice(1, 3), false);
    t.equal(cc.windowBytes, 6_000, 'a loss of a packet sent after recovery began reduces again');
    t.equal(cc.ssthreshBytes, 6_000);
    t.equal(cc.snapshot().congestionEvents, 2);
    cc.onPacketsLost(1200, [], false);
    t.equal(cc.snapshot().congestionEvents, 2, 'an empty loss report is no event');
  },
);

t.test('an ECN-CE increase is a congestion event too (RFC 9002 B.7)', async (t) => {
  const cc = newReno();
  cc.onCongestionEvent(500, 400);
  t.equal(cc.windowBytes, 6_000);
  cc.onCongestionEvent(600, 450);
  t.equal(cc.windowBytes, 6_000, 'same recovery period');
});

t.test(
  'persistent congestion: minimum window, slow start, no recovery period (§7.6.2)',
  async (t) => {
    const cc = newReno();
    const sender = new Sender();
    let now = round(cc, sender, 0);
    now = round(cc, sender, now); // 48 000
    const lost = sender.packets(10, now);
    cc.onPacketsLost(now + 500, lost, true);
    t.equal(cc.windowBytes, 2_400, 'kMinimumWindow');
    t.equal(cc.ssthreshBytes, 24_000, 'the reduction of the congestion event stands');
    t.equal(cc.inSlowStart, true);
    t.equal(cc.snapshot().inRecovery, false);
    cc.onPacketsAcked(now + 600, sender.packets(1, now - 10), new RttEstimator(RTT_MS), false);
    t.equal(cc.windowBytes, 3_600, 'recovery was reset: even an old packet grows the window');
    // Persistent congestion again, and losses at the minimum: never below it.
    for (let i = 0; i < 5; i++)
      cc.onPacketsLost(now + 1000 + i, sender.packets(1, now + 900 + i), i % 2 === 0);
    t.equal(cc.windowBytes, 2_400);
    t.ok(
      cc.ssthreshBytes < 2_400,
      'ssthresh may fall below the minimum window (B.6), the window may not',
    );
  },
);

t.test('app-limited acknowledgements do not grow the window (RFC 9002 §7.8)', async (t) => {
  const cc = newReno();
  const sender = new Sender();
  let now = round(cc, sender, 0, true);
  t.equal(cc.windowBytes, 12_000, 'slow start');
  cc.onPacketsLost(now, sender.packets(1, now - 1), false);
  t.equal(cc.snapshot().inRecovery, true);
  now += 1;
  cc.onPacketsAcked(now + RTT_MS, sender.packets(1, now), new RttEstimator(RTT_MS), true);
  t.equal(cc.snapshot().inRecovery, false, 'they do end recovery');
  now = round(cc, sender, now + RTT_MS, true);
  now = round(cc, sender, now, true);
  t.equal(cc.windowBytes, 6_000, 'congestion avoidance');
});

t.test('bounded: maximum window, degenerate packet sizes', async (t) => {
  const cc = new NewReno({ maxDatagramBytes: MDS, maximumWindowPackets: 30 });
  const sender = new Sender();
  let now = 0;
  for (let i = 0; i < 6; i++) now = round(cc, sender, now);
  t.equal(cc.windowBytes, 36_000, 'slow start stops at the maximum');
  const rtt = new RttEstimator(RTT_MS);
  const odd = [Number.NaN, -1, Infinity, 1e300].map((bytes, i) => ({
    packetNumber: 10_000 + i,
    sentTimeMs: now,
    bytes,
  }));
  const small = newReno();
  small.onPacketsAcked(now, odd, rtt, false);
  t.ok(Number.isFinite(small.windowBytes) && small.windowBytes <= small.bounds.maximumWindowBytes);
});

t.test('pacing rate: 2 x cwnd / srtt in slow start, 1.25 x after (RFC 9002 §7.7)', async (t) => {
  const cc = newReno();
  const rtt = new RttEstimator(RTT_MS);
  t.equal(cc.pacingRateBytesPerMs(rtt), (2 * 12_000) / 100);
  cc.onCongestionEvent(1, 0);
  t.equal(cc.pacingRateBytesPerMs(rtt), (1.25 * 6_000) / 100);
  rtt.update(0, 0, 0, true);
  const rate = cc.pacingRateBytesPerMs(rtt);
  t.ok(Number.isFinite(rate) && rate > 0, 'a zero RTT gives a finite rate');
});
