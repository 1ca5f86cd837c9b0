import t from 'tap';
// Imported from the build directly until the package index exports FEC (session integration).
import {
  LossEstimator,
  residualLoss,
  residualLossByParity,
  stationaryLoss,
  GROUP_SIZES_DEFAULT,
  PRIOR_OUTCOMES_DEFAULT,
  PRIOR_PARAMS_DEFAULT,
  TARGET_RESIDUAL_LOSS_DEFAULT,
  type GilbertElliottModel,
} from '../dist/fec/index.js';

/** xorshift32 in [0, 1): a seeded loss process. */
function uniform(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** i.i.d. loss q is the chain that forgets its state: p = q, r = 1 - q. */
const iid = (q: number): GilbertElliottModel => ({ p: q, r: 1 - q });
/** A chain with long-run loss q and mean burst length b. */
const bursty = (q: number, b: number): GilbertElliottModel => ({ p: q / b / (1 - q), r: 1 / b });

/** Feeds `n` outcomes drawn from the chain (started in its stationary distribution). */
function feed(est: LossEstimator, model: GilbertElliottModel, n: number, seed: number): void {
  const rand = uniform(seed);
  let bad = rand() < stationaryLoss(model);
  for (let i = 0; i < n; i++) {
    est.onOutcome(bad);
    bad = bad ? rand() >= model.r : rand() < model.p;
  }
}

/** The residual by definition: every loss pattern of the k + m packets, weighed by the chain. */
function bruteForce(model: GilbertElliottModel, k: number, m: number): number {
  const n = k + m;
  const bad0 = stationaryLoss(model);
  let lostSources = 0;
  for (let pattern = 0; pattern < 1 << n; pattern++) {
    const lost = (i: number) => ((pattern >> i) & 1) === 1;
    let probability = lost(0) ? bad0 : 1 - bad0;
    for (let i = 1; i < n; i++) {
      const toBad = lost(i - 1) ? 1 - model.r : model.p;
      probability *= lost(i) ? toBad : 1 - toBad;
    }
    let total = 0;
    let sources = 0;
    for (let i = 0; i < n; i++)
      if (lost(i)) {
        total++;
        if (i < k) sources++;
      }
    if (total > m) lostSources += probability * sources;
  }
  return lostSources / k;
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-12 + 1e-9 * Math.abs(b);

t.test('residualLoss matches brute-force enumeration', async (t) => {
  const models = [iid(0.05), iid(0.3), bursty(0.05, 3), bursty(0.2, 1.5), { p: 0.5, r: 0.1 }];
  let checked = 0;
  for (const model of models)
    for (let k = 1; k <= 8; k++)
      for (let m = 0; m <= 4 && k + m <= 12; m++) {
        const fast = residualLoss(model, k, m);
        const slow = bruteForce(model, k, m);
        if (!close(fast, slow)) t.fail(`${JSON.stringify(model)} k ${k} m ${m}: ${fast} ≠ ${slow}`);
        checked++;
      }
  t.equal(checked, 5 * 8 * 5, 'every case checked');
  t.ok(close(residualLoss(bursty(0.05, 3), 4, 2), bruteForce(bursty(0.05, 3), 4, 2)));
});

t.test('known answers: no repair leaves the loss, i.i.d. matches the binomial sum', async (t) => {
  for (const model of [iid(0.05), bursty(0.1, 4)])
    for (const k of [1, 4, 16]) t.ok(close(residualLoss(model, k, 0), stationaryLoss(model)));
  const q = 0.05;
  for (const [k, m] of [
    [4, 2],
    [8, 3],
    [16, 8],
  ] as const) {
    // i.i.d.: each lost source is unrecovered when more than m of the other k + m - 1 are lost.
    const n = k + m;
    let tail = 0;
    for (let j = m; j <= n - 1; j++) tail += choose(n - 1, j) * q ** j * (1 - q) ** (n - 1 - j);
    t.ok(close(residualLoss(iid(q), k, m), q * tail), `(${k}, ${m})`);
  }
  t.equal(residualLoss({ p: 0, r: 0 }, 4, 1), 0, 'never bad');
  t.equal(residualLoss({ p: 0.2, r: 0 }, 4, 3), 1, 'bad forever');
  const byM = residualLossByParity(bursty(0.05, 3), 16, 8);
  for (let m = 1; m <= 8; m++) t.ok(byM[m]! < byM[m - 1]!, `more repair, less loss (m ${m})`);
});

function choose(n: number, j: number): number {
  let c = 1;
  for (let i = 0; i < j; i++) c = (c * (n - i)) / (i + 1);
  return c;
}

t.test('i.i.d. 5 % loss: estimated ≈ 0.05, and the choice meets the target', async (t) => {
  const est = new LossEstimator();
  feed(est, iid(0.05), 20_000, 1);
  const snap = est.snapshot();
  t.equal(snap.samples, 20_000);
  t.ok(Math.abs(snap.lossRate - 0.05) <= 0.01, `loss ${snap.lossRate}`);
  t.ok(Math.abs(snap.meanBurst - 1 / 0.95) <= 0.15, `mean burst ${snap.meanBurst}`);
  const params = est.choose('auto');
  t.ok(params, 'repair chosen');
  const { k, m } = params!;
  t.ok(m / k <= 0.5, `(${k}, ${m}) within the overhead cap`);
  t.ok(residualLoss(snap.model, k, m) <= TARGET_RESIDUAL_LOSS_DEFAULT, 'meets the target');
  // No allowed (k', m') with less repair meets the target.
  for (const k2 of GROUP_SIZES_DEFAULT)
    for (let m2 = 1; m2 / k2 < m / k; m2++)
      if (residualLoss(snap.model, k2, m2) <= TARGET_RESIDUAL_LOSS_DEFAULT)
        t.fail(`(${k2}, ${m2}) meets the target with less repair than (${k}, ${m})`);
  t.same(params, { k: 32, m: 6 }, 'the least repair that meets the target: 6 per 32');
});

t.test('bursts of mean length 3: meanBurst ≈ 3, and more repair than i.i.d.', async (t) => {
  const est = new LossEstimator();
  feed(est, bursty(0.05, 3), 20_000, 2);
  const snap = est.snapshot();
  t.ok(Math.abs(snap.meanBurst - 3) <= 0.6, `mean burst ${snap.meanBurst}`);
  t.ok(Math.abs(snap.lossRate - 0.05) <= 0.02, `loss ${snap.lossRate}`);
  const burstyChoice = est.choose('auto')!;
  const plain = new LossEstimator();
  feed(plain, iid(0.05), 20_000, 3);
  const iidChoice = plain.choose('auto')!;
  t.ok(
    burstyChoice.m / burstyChoice.k > iidChoice.m / iidChoice.k,
    `bursty (${burstyChoice.k}, ${burstyChoice.m}) vs i.i.d. (${iidChoice.k}, ${iidChoice.m})`,
  );
  t.ok(
    residualLoss(bursty(0.05, 3), iidChoice.k, iidChoice.m) > 10 * TARGET_RESIDUAL_LOSS_DEFAULT,
    'what suffices for i.i.d. loss falls far short under bursts',
  );
  // Out of reach within the cap: the best there is, as it still more than halves the loss.
  t.same(burstyChoice, { k: 32, m: 16 });
});

t.test('no loss, no repair', async (t) => {
  const est = new LossEstimator({ lossFloor: 0 });
  t.same(est.choose('auto'), PRIOR_PARAMS_DEFAULT, 'nothing seen yet: the prior');
  for (let i = 0; i < PRIOR_OUTCOMES_DEFAULT - 1; i++) est.onOutcome(false);
  t.same(est.choose('auto'), PRIOR_PARAMS_DEFAULT, 'the prior lasts its outcomes');
  est.onOutcome(false);
  t.equal(est.choose('auto'), undefined, 'then a clean path gets none');
  for (let i = 0; i < 10_000; i++) est.onOutcome(false);
  t.equal(est.choose('auto'), undefined);
  t.equal(new LossEstimator({ prior: null }).choose('auto'), undefined, 'no prior');
  t.same(new LossEstimator({ prior: { k: 4, m: 1 } }).choose('auto'), { k: 4, m: 1 });
  t.throws(() => new LossEstimator({ priorOutcomes: -1 }), { code: 'ERR_BRAID_INVALID_OPTION' });
  t.same(est.snapshot(), {
    lossRate: 0,
    meanBurst: 0,
    samples: PRIOR_OUTCOMES_DEFAULT + 10_000,
    model: { p: 0, r: 1 },
  });
  // A loss is acted on at once, even during warm-up...
  const young = new LossEstimator();
  for (let i = 0; i < 10; i++) young.onOutcome(i === 5);
  t.ok(young.choose('auto'), 'one loss in ten');
  // ...and forgotten once four half-lives pass without another, even with no floor.
  const old = new LossEstimator({ lossFloor: 0, halfLifePackets: 100, targetResidualLoss: 1e-9 });
  old.onOutcome(true);
  for (let i = 0; i < 399; i++) old.onOutcome(false);
  t.ok(old.choose('auto'), 'within the window');
  old.onOutcome(false);
  t.equal(old.choose('auto'), undefined, 'out of the window');
});

t.test('below the floor or the target, no repair', async (t) => {
  const est = new LossEstimator();
  feed(est, iid(0.0005), 20_000, 4);
  t.ok(est.snapshot().lossRate < 1e-3);
  t.equal(est.choose('auto'), undefined, 'under the floor');
  const lenient = new LossEstimator({ targetResidualLoss: 0.1 });
  feed(lenient, iid(0.05), 5_000, 5);
  t.equal(lenient.choose('auto'), undefined, 'the loss already meets the target');
});

t.test('fixed and off policies pass through', async (t) => {
  const est = new LossEstimator();
  feed(est, iid(0.1), 1000, 6);
  const fixed = { k: 10, m: 4 };
  t.equal(est.choose(fixed), fixed, 'unchanged');
  t.equal(est.choose('off'), undefined);
  t.ok(est.choose('auto'));
});

t.test('the overhead cap holds and k comes from the allowed sizes', async (t) => {
  let cases = 0;
  let declined = 0;
  for (const maxOverhead of [0.125, 0.25, 0.5, 1])
    for (const groupSizes of [[4, 8, 16], [8], [2, 5, 32]])
      for (const q of [0.002, 0.01, 0.05, 0.15, 0.3])
        for (const burst of [1, 2, 4, 20]) {
          if (q * burst >= 1 || burst < 1 / (1 - q)) continue;
          const est = new LossEstimator({ maxOverhead, groupSizes });
          feed(est, bursty(q, burst), 6_000, cases + 10);
          const params = est.choose('auto');
          cases++;
          if (params === undefined) {
            declined++;
            continue;
          }
          const { k, m } = params;
          if (!groupSizes.includes(k)) t.fail(`k ${k} not allowed`);
          if (m < 1 || m / k > maxOverhead) t.fail(`(${k}, ${m}) over ${maxOverhead}`);
          const model = est.snapshot().model;
          const residual = residualLoss(model, k, m);
          if (residual > TARGET_RESIDUAL_LOSS_DEFAULT && residual > stationaryLoss(model) / 2)
            t.fail(`(${k}, ${m}) neither meets the target nor halves the loss`);
        }
  // Declined: under the floor, or bursts too long for the cap (e.g. 5 % in bursts of 4 with
  // m / k ≤ 1/4 keeps more than half the loss).
  t.ok(cases > 100, `${cases} cases`);
  t.ok(declined > 0 && cases - declined >= 50, `${cases - declined} chosen, ${declined} declined`);
  // Long outages: no (k, m) within the cap halves the loss, so no repair is sent.
  const outage = new LossEstimator();
  feed(outage, bursty(0.2, 50), 20_000, 99);
  t.equal(outage.choose('auto'), undefined, 'bursts of 50 defeat any group in the cap');
});

t.test('options are checked', async (t) => {
  for (const options of [
    { halfLifePackets: 0 },
    { lossFloor: 2 },
    { targetResidualLoss: 0 },
    { maxOverhead: 0 },
    { groupSizes: [] },
    { groupSizes: [0] },
    { groupSizes: [255] },
  ])
    t.throws(() => new LossEstimator(options), { code: 'ERR_BRAID_INVALID_OPTION' });
});
