import t, { type Test } from 'tap';
import fc from 'fast-check';
import {
  burstCapacityBytes,
  createCongestionController,
  MAX_PACING_DELAY_MS,
  Pacer,
  RttEstimator,
  type CongestionAlgorithm,
  type SentPacketInfo,
} from '@braid/protocol';

const MDS = 1200;
const WINDOW = 1_000_000;

/** Sends at every time the pacer names; returns those times. */
function pacedSendTimes(pacer: Pacer, fromMs: number, count: number, rate: number): number[] {
  const times: number[] = [];
  let now = fromMs;
  for (let i = 0; i < count; i++) {
    const at = pacer.delayUntil(now, MDS, rate, WINDOW);
    if (at !== undefined) {
      if (pacer.delayUntil(at, MDS, rate, WINDOW) !== undefined) return times; // must be ready
      now = at;
    }
    pacer.onSent(now, MDS);
    times.push(now);
  }
  return times;
}

function sameTimes(t: Test, actual: number[], expected: number[], what: string): void {
  t.equal(actual.length, expected.length, `${what}: count`);
  const off = actual.findIndex((a, i) => Math.abs(a - expected[i]!) > 1e-9);
  t.equal(off, -1, `${what}: ${actual.join(', ')}`);
}

t.test(
  'a burst of up to the capacity goes at once, then packets are spaced at the rate',
  async (t) => {
    const pacer = new Pacer(MDS);
    const rate = 6_000; // bytes per ms: 2 ms of it is 12 000 bytes, 10 packets
    for (let i = 0; i < 10; i++) {
      t.equal(pacer.delayUntil(0, MDS, rate, WINDOW), undefined, `burst packet ${i + 1}`);
      pacer.onSent(0, MDS);
    }
    t.equal(pacer.capacity, 10 * MDS);
    t.equal(pacer.delayUntil(0, MDS, rate, WINDOW), 0.2, 'the 11th waits 1200 / 6 000 ms');
    t.equal(pacer.delayUntil(0.1, MDS, rate, WINDOW), 0.2, 'asking again earlier changes nothing');
    sameTimes(t, pacedSendTimes(pacer, 0.1, 5, rate), [0.2, 0.4, 0.6, 0.8, 1], 'paced');
    t.equal(pacer.delayUntil(100, MDS, rate, WINDOW), undefined, 'an idle bucket refills');
    t.equal(pacer.tokens, 10 * MDS, 'up to its capacity only');
  },
);

t.test('a driver whose timer ticks every 1.2 ms keeps a 100 Mbit/s path at its rate', async (t) => {
  // The endpoint runtime cannot wait less than 1 ms (setTimeout), and its timers fire late: it
  // wakes when the pacer says or 1.2 ms after its last wake, whichever is later, and sends all
  // the pacer allows. The bucket must hold a tick's worth of tokens, or they overflow and the
  // path runs below its rate (with 10-packet buckets: 12 000 bytes a tick, 64 % of the rate).
  const rate = 15_625; // bytes per ms: 100 Mbit/s at the pacing gain of 1.25
  const tickMs = 1.2;
  const pacer = new Pacer(MDS);
  let now = 0;
  let sentBytes = 0;
  for (let wake = 0; wake < 1000 && now < 120; wake++) {
    let at = pacer.delayUntil(now, MDS, rate, WINDOW);
    for (let burst = 0; at === undefined && burst < 1000; burst++) {
      pacer.onSent(now, MDS);
      if (now >= 20) sentBytes += MDS; // after the first bucket's burst
      at = pacer.delayUntil(now, MDS, rate, WINDOW);
    }
    now = Math.max(at ?? now, now + tickMs);
  }
  const elapsed = now - 20;
  t.ok(sentBytes >= 0.97 * rate * elapsed, `${sentBytes} bytes in ${elapsed} ms at ${rate} B/ms`);
  t.ok(sentBytes <= rate * elapsed + pacer.capacity, 'and no more than the rate allows');
});

t.test('fractional milliseconds: 10 Mbit/s is one packet per 0.96 ms', async (t) => {
  const pacer = new Pacer(MDS);
  const rate = 1250; // 10 Mbit/s; the bucket is 2 ms of it, 2 500 bytes: two packets
  const times = pacedSendTimes(pacer, 3.5, 6, rate);
  // Two at once, then 100 leftover bytes shorten the first wait to 0.88 ms.
  sameTimes(t, times, [3.5, 3.5, 4.38, 5.34, 6.3, 7.26], 'send times');
});

t.test('bucket size: 2 ms of the rate, 2 to 64 packets, at most the window', async (t) => {
  t.equal(burstCapacityBytes(1, WINDOW, MDS), 2 * MDS, 'a slow path still sends pairs');
  t.equal(burstCapacityBytes(3000, WINDOW, MDS), 6000, '2 ms of the rate');
  // 100 Mbit/s paced at 1.25: 15 625 bytes per ms. 10 packets would be 0.77 ms of it, less
  // than one tick of a 1 ms timer; the bucket holds the 2 ms.
  t.equal(burstCapacityBytes(15_625, WINDOW, MDS), 31_250, '2 ms of 125 Mbit/s');
  t.equal(burstCapacityBytes(1e9, WINDOW, MDS), 64 * MDS, 'at most 64 packets');
  t.equal(burstCapacityBytes(1e9, 5000, MDS), 5000, 'never more than the window');
  t.equal(burstCapacityBytes(1e9, 100, MDS), MDS, 'never less than one packet');
  t.equal(burstCapacityBytes(Number.NaN, Number.NaN, MDS), 2 * MDS, 'nonsense rate and window');
  const pacer = new Pacer(MDS);
  t.equal(pacer.delayUntil(0, MDS, 1000, WINDOW), undefined);
  t.equal(pacer.capacity, 2 * MDS);
  pacer.onSent(0, MDS);
  pacer.onSent(0, MDS);
  t.equal(
    pacer.delayUntil(0, 5 * MDS, 1000, WINDOW),
    2.4,
    'a packet larger than the bucket waits for a full bucket',
  );
  t.throws(() => new Pacer(0), { code: 'ERR_BRAID_INVALID_OPTION' });
});

t.test(
  'no starvation: a tiny, zero or nonsense rate waits at most 100 ms per packet',
  async (t) => {
    for (const rate of [1e-9, 0, -5, Number.NaN]) {
      const pacer = new Pacer(MDS);
      const times = pacedSendTimes(pacer, 5, 5, rate);
      sameTimes(t, times, [5, 5, 105, 205, 305], `rate ${rate}`);
      t.equal(
        pacer.delayUntil(350, MDS, rate, WINDOW),
        405,
        'anchored to the last send, not to now',
      );
    }
    const free = new Pacer(MDS);
    sameTimes(t, pacedSendTimes(free, 1, 30, Infinity), Array(30).fill(1), 'an infinite rate');
  },
);

t.test('time that stands still or goes backwards never yields a time <= now', async (t) => {
  const pacer = new Pacer(MDS);
  t.equal(pacer.delayUntil(10, MDS, 1000, WINDOW), undefined);
  for (let i = 0; i < 2; i++) pacer.onSent(10, MDS);
  const at = pacer.delayUntil(10, MDS, 1000, WINDOW)!;
  t.equal(at, 11.2);
  t.equal(pacer.delayUntil(10, MDS, 1000, WINDOW), at, 'same time, same answer');
  t.equal(pacer.delayUntil(4, MDS, 1000, WINDOW), at, 'earlier time, same answer');
  t.equal(pacer.delayUntil(11.2, MDS, 1000, WINDOW), undefined);
  t.equal(pacer.delayUntil(Number.NaN, MDS, 1000, WINDOW), undefined, 'no time: no pacing');
});

const delta = fc.oneof(
  fc.constant(0),
  fc.double({ min: -3, max: 3, noNaN: true }),
  fc.double({ min: 0, max: 500, noNaN: true }),
);
const size = fc.oneof(
  fc.constant(MDS),
  fc.nat(3 * MDS),
  fc.constantFrom(Number.NaN, Infinity, -1, 0.5),
);

t.test(
  'property: the pacer answers undefined or a finite time in (now, last + 100 ms]',
  async (t) => {
    const rate = fc.oneof(
      fc.double({ min: 0, max: 1e7, noNaN: true }),
      fc.constantFrom(0, 1e-12, Number.NaN, Infinity, -1),
    );
    const window = fc.oneof(
      fc.double({ min: 0, max: 1e9, noNaN: true }),
      fc.constantFrom(Number.NaN, 0, Infinity),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(delta, size, rate, window, fc.boolean()), { maxLength: 200 }),
        (steps) => {
          const pacer = new Pacer(MDS);
          let now = 1000;
          let latest = now;
          for (const [dt, bytes, rateBytesPerMs, windowBytes, sendAnyway] of steps) {
            now += dt;
            latest = Math.max(latest, now);
            const at = pacer.delayUntil(now, bytes, rateBytesPerMs, windowBytes);
            if (at !== undefined && !(Number.isFinite(at) && at > now)) return false;
            if (at !== undefined && at > latest + MAX_PACING_DELAY_MS) return false;
            if (!(pacer.tokens >= 0 && pacer.tokens <= pacer.capacity)) return false;
            if (at === undefined || sendAnyway) pacer.onSent(now, bytes);
          }
          return true;
        },
      ),
      { seed: 7007, numRuns: 400 },
    );
    t.pass('no time <= now, no unbounded wait, tokens within the bucket');
  },
);

t.test('property: random ACK, loss and clock histories keep every window bounded', async (t) => {
  const step = fc.record({
    kind: fc.constantFrom('send', 'send', 'ack', 'lose', 'tick'),
    count: fc.integer({ min: 1, max: 12 }),
    dt: delta,
    bytes: size,
    rtt: fc.oneof(fc.double({ min: -10, max: 2000, noNaN: true }), fc.constant(Number.NaN)),
    flag: fc.boolean(),
  });
  for (const algorithm of ['newreno', 'cubic'] as CongestionAlgorithm[]) {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 300 }), (steps) => {
        const cc = createCongestionController(algorithm, { maxDatagramBytes: MDS });
        const rtt = new RttEstimator();
        const pacer = new Pacer(MDS);
        const inFlight: SentPacketInfo[] = [];
        let now = 0;
        let pn = 0;
        for (const s of steps) {
          now += s.dt;
          if (s.kind === 'send') {
            for (let i = 0; i < s.count && inFlight.length < 1000; i++) {
              const packet = { packetNumber: pn++, sentTimeMs: now, bytes: s.bytes };
              inFlight.push(packet);
              cc.onPacketSent(now, packet, 0);
              pacer.onSent(now, s.bytes);
            }
          } else if (s.kind === 'ack') {
            const acked = inFlight.splice(0, s.count);
            rtt.update(s.rtt, s.dt, 25, s.flag);
            cc.onPacketsAcked(now, acked, rtt, s.flag);
          } else if (s.kind === 'lose') {
            cc.onPacketsLost(now, inFlight.splice(0, s.count), s.flag);
          }
          const { windowBytes: w, ssthreshBytes: ss } = cc;
          if (!(Number.isFinite(w) && w >= 2 * MDS && w <= 100_000 * MDS)) return false;
          if (!(ss > 0)) return false;
          const rate = cc.pacingRateBytesPerMs(rtt);
          if (!(Number.isFinite(rate) && rate > 0)) return false;
          const at = pacer.delayUntil(now, MDS, rate, w);
          if (at !== undefined && !(Number.isFinite(at) && at > now)) return false;
        }
        return true;
      }),
      { seed: 9438, numRuns: 300 },
    );
    t.pass(`${algorithm}: finite window within [minimum, maximum], finite rate, pacer sane`);
  }
});
