import t from 'tap';
import fc from 'fast-check';
import { GRANULARITY_MS, INITIAL_RTT_MS, RttEstimator } from '@braid/protocol';

// Every expected value below is worked by hand from RFC 9002 §5.3 / Appendix A.7 and is
// exact in binary floating point, so the comparisons are strict.

t.test(
  'before any sample: the initial RTT, rttvar = initial / 2 (RFC 9002 §5.3, §6.2.2)',
  async (t) => {
    const rtt = new RttEstimator();
    t.equal(rtt.hasSample, false);
    t.equal(rtt.smoothedMs, INITIAL_RTT_MS);
    t.equal(rtt.varianceMs, 166.5);
    t.equal(rtt.minMs, 333, 'min_rtt holds the initial RTT until measured');
    t.equal(rtt.latestMs, 0);
    t.equal(rtt.ptoMs(25), 333 + 4 * 166.5 + 25, 'PTO = srtt + 4*rttvar + max_ack_delay');
    t.equal(rtt.lossDelayMs(), (9 / 8) * 333);
  },
);

t.test('first sample resets the estimator and ignores the ack delay', async (t) => {
  const rtt = new RttEstimator(333);
  rtt.update(100, 10, 25, true);
  t.equal(rtt.hasSample, true);
  t.equal(rtt.latestMs, 100);
  t.equal(rtt.smoothedMs, 100);
  t.equal(rtt.varianceMs, 50);
  t.equal(rtt.minMs, 100);
  t.equal(rtt.ptoMs(25), 325);
  t.equal(rtt.persistentCongestionDurationMs(25), 975, '3 x PTO (RFC 9002 §7.6.1)');
});

t.test('EWMA: 7/8 and 3/4 weights, rttvar from the previous srtt (Appendix A.7)', async (t) => {
  const rtt = new RttEstimator();
  rtt.update(100, 0, 25, true);
  // latest 120, ack delay 10 (under max_ack_delay; 120 - 100 >= 10): adjusted = 110.
  rtt.update(120, 10, 25, true);
  t.equal(rtt.varianceMs, 40, '3/4 * 50 + 1/4 * |100 - 110|');
  t.equal(rtt.smoothedMs, 101.25, '7/8 * 100 + 1/8 * 110');
  t.equal(rtt.minMs, 100, 'min_rtt ignores ack delay and the larger sample');
  t.equal(rtt.ptoMs(25), 101.25 + 160 + 25);
  t.equal(rtt.lossDelayMs(), 135, '9/8 * max(srtt 101.25, latest 120)');
  // latest 80, no ack delay: a new min_rtt.
  rtt.update(80, 0, 25, true);
  t.equal(rtt.minMs, 80);
  t.equal(rtt.varianceMs, 35.3125, '3/4 * 40 + 1/4 * |101.25 - 80|');
  t.equal(rtt.smoothedMs, 98.59375, '7/8 * 101.25 + 1/8 * 80');
  t.equal(rtt.lossDelayMs(), (9 / 8) * 98.59375, 'srtt now exceeds latest');
});

t.test('ack delay is capped at max_ack_delay only once the handshake is confirmed', async (t) => {
  const confirmed = new RttEstimator();
  confirmed.update(100, 0, 25, true);
  confirmed.update(200, 80, 25, true); // delay capped to 25: adjusted 175
  t.equal(confirmed.smoothedMs, 109.375);
  t.equal(confirmed.varianceMs, 56.25);

  const handshaking = new RttEstimator();
  handshaking.update(100, 0, 25, false);
  handshaking.update(200, 80, 25, false); // full 80 subtracted: adjusted 120
  t.equal(handshaking.smoothedMs, 102.5);
  t.equal(handshaking.varianceMs, 42.5);
});

t.test(
  'the min-RTT guard: ack delay is subtracted only if latest - min_rtt >= ack delay',
  async (t) => {
    const under = new RttEstimator();
    under.update(100, 0, 25, true);
    under.update(110, 20, 25, true); // 110 - 100 < 20: not subtracted
    t.equal(under.smoothedMs, 101.25);
    t.equal(under.varianceMs, 40);

    const boundary = new RttEstimator();
    boundary.update(100, 0, 25, true);
    boundary.update(120, 20, 25, true); // 120 - 100 >= 20: subtracted, adjusted 100
    t.equal(boundary.smoothedMs, 100);
    t.equal(boundary.varianceMs, 37.5);

    const huge = new RttEstimator();
    huge.update(100, 0, 25, false);
    huge.update(150, 1e12, 25, false); // a huge pre-confirmation delay cannot pull below min_rtt
    t.equal(huge.smoothedMs, 106.25);
  },
);

t.test('degenerate samples: zero, negative, NaN, infinite', async (t) => {
  const rtt = new RttEstimator(50);
  rtt.update(Number.NaN, 0, 25, true);
  rtt.update(Infinity, 0, 25, true);
  t.equal(rtt.hasSample, false, 'a non-finite sample is not a measurement');
  rtt.update(-5, 0, 25, true);
  t.equal(rtt.hasSample, true);
  t.equal(rtt.latestMs, 0, 'a negative sample counts as 0');
  t.equal(rtt.smoothedMs, 0);
  rtt.update(0, -3, Number.NaN, true);
  t.equal(rtt.ptoMs(Number.NaN), GRANULARITY_MS, 'PTO is at least the granularity');
  t.equal(rtt.lossDelayMs(), GRANULARITY_MS, 'loss delay is at least the granularity');
  rtt.update(1e300, 0, 25, true);
  t.ok(Number.isFinite(rtt.ptoMs(25)), 'an absurd sample is clamped, PTO stays finite');
  t.throws(() => new RttEstimator(0), { code: 'ERR_BRAID_INVALID_OPTION' });
  t.throws(() => new RttEstimator(Number.NaN), { code: 'ERR_BRAID_INVALID_OPTION' });
});

t.test(
  'persistent congestion restarts min_rtt from the newest sample (RFC 9002 §5.2)',
  async (t) => {
    const rtt = new RttEstimator();
    rtt.onPersistentCongestion();
    t.equal(rtt.minMs, INITIAL_RTT_MS, 'nothing to restart from before a sample');
    rtt.update(40, 0, 25, true);
    rtt.update(90, 0, 25, true);
    t.equal(rtt.minMs, 40);
    rtt.onPersistentCongestion();
    t.equal(rtt.minMs, 90);
  },
);

t.test('property: finite, srtt >= min_rtt, PTO and loss delay >= granularity', async (t) => {
  const number = fc.oneof(
    fc.double({ min: -10, max: 1e6, noNaN: true }),
    fc.constantFrom(0, -0, Number.NaN, Infinity, -Infinity, 1e300, Number.MIN_VALUE),
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(number, number, number, fc.boolean()), { maxLength: 60 }),
      (samples) => {
        const rtt = new RttEstimator();
        for (const [latest, ackDelay, maxAckDelay, confirmed] of samples) {
          rtt.update(latest, ackDelay, maxAckDelay, confirmed);
          const values = [rtt.latestMs, rtt.smoothedMs, rtt.varianceMs, rtt.minMs];
          if (!values.every(Number.isFinite)) return false;
          if (rtt.hasSample && rtt.smoothedMs < rtt.minMs) return false;
          if (!(rtt.ptoMs(maxAckDelay) >= GRANULARITY_MS)) return false;
          if (!(rtt.lossDelayMs() >= GRANULARITY_MS)) return false;
        }
        return true;
      },
    ),
    { seed: 9002, numRuns: 500 },
  );
  t.pass('estimator stayed finite and bounded');
});
