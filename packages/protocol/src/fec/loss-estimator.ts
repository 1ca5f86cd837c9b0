/**
 * Loss model and repair choice for adaptive FEC (issue 7): one estimator per path and
 * direction, fed the fate of each packet in packet-number order, picks the group parameters
 * (k, m) that bring the loss left after recovery under a target at the least overhead.
 *
 * The model is the two-state Gilbert–Elliott chain in its simple (Gilbert) form: a packet sent
 * in the good state arrives, one sent in the bad state is lost, so the states are observable
 * and the transition probabilities are plain ratios of counted transitions. Bursty loss (a
 * queue overflowing, a radio fading) shows as a long stay in the bad state, which an i.i.d.
 * model would miss and which costs an erasure code much more than the same mean loss spread out.
 */
import { InvalidOptionError } from '../errors.js';
import type { FecSetting } from '../stream/streams.js';
import type { FecParams } from './window-encoder.js';

/** What a stream asks of FEC: none, chosen from the measured loss, or fixed (k, m). */
export type FecPolicy = FecSetting;

/** A Gilbert chain: `p` = P(good → bad), `r` = P(bad → good); a packet is lost iff bad. */
export interface GilbertElliottModel {
  p: number;
  r: number;
}

/** Long-run fraction of packets lost under the model: the bad state's stationary probability. */
export function stationaryLoss({ p, r }: GilbertElliottModel): number {
  if (p <= 0) return 0;
  return p / (p + r);
}

/**
 * The loss left after RS(k, m) recovery, for `m = 0…mMax`: entry m is the expected fraction of
 * a group's k source packets that are lost and not rebuilt, i.e. lost in a group of k + m
 * consecutive packets (sources first, then repairs, as they are sent) that lost more than m.
 * The chain starts in its stationary distribution.
 *
 * A dynamic program over the packets with state (chain state, packets lost so far) carries the
 * probability of each state and the probability mass weighted by lost sources so far; O((k +
 * mMax)²), no enumeration.
 */
export function residualLossByParity(
  model: GilbertElliottModel,
  k: number,
  mMax: number,
): Float64Array {
  const { p, r } = model;
  const n = k + mMax;
  const bad0 = stationaryLoss(model);
  // Index j = packets lost so far. `g`/`b`: probability of being in the good/bad state with j
  // lost; `eg`/`eb`: the same weighted by the number of lost sources.
  let g = new Float64Array(n + 1);
  let b = new Float64Array(n + 1);
  let eg = new Float64Array(n + 1);
  let eb = new Float64Array(n + 1);
  let ng = new Float64Array(n + 1);
  let nb = new Float64Array(n + 1);
  let neg = new Float64Array(n + 1);
  let neb = new Float64Array(n + 1);
  g[0] = 1 - bad0;
  b[1] = bad0;
  eb[1] = bad0; // k ≥ 1: the first packet is a source
  const out = new Float64Array(mMax + 1);
  const record = (m: number): void => {
    let lostSources = 0;
    for (let j = m + 1; j <= k + m; j++) lostSources += eg[j]! + eb[j]!;
    out[m] = lostSources / k;
  };
  if (k === 1) record(0);
  for (let t = 1; t < n; t++) {
    const source = t < k;
    ng.fill(0);
    nb.fill(0);
    neg.fill(0);
    neb.fill(0);
    for (let j = 0; j < t + 1; j++) {
      const pg = g[j]!;
      const pb = b[j]!;
      ng[j] = pg * (1 - p) + pb * r;
      neg[j] = eg[j]! * (1 - p) + eb[j]! * r;
      const toBad = pg * p + pb * (1 - r);
      nb[j + 1] = toBad;
      neb[j + 1] = eg[j]! * p + eb[j]! * (1 - r) + (source ? toBad : 0);
    }
    [g, ng] = [ng, g];
    [b, nb] = [nb, b];
    [eg, neg] = [neg, eg];
    [eb, neb] = [neb, eb];
    if (t >= k - 1) record(t - (k - 1));
  }
  return out;
}

/** {@link residualLossByParity} for one m. */
export function residualLoss(model: GilbertElliottModel, k: number, m: number): number {
  return residualLossByParity(model, k, m)[m]!;
}

/** Default half-life of an outcome's weight, in packets (the window spans ~1 443 packets). */
export const LOSS_HALF_LIFE_PACKETS_DEFAULT = 1000;
/** Default loss rate below which `auto` sends no repair. */
export const LOSS_FLOOR_DEFAULT = 1e-3;
/**
 * Default target for the loss left after recovery. One in a thousand: what remains is
 * retransmitted by loss recovery at the cost of a round trip, which FEC is there to save for
 * all but a few packets.
 */
export const TARGET_RESIDUAL_LOSS_DEFAULT = 1e-3;
/** Default cap on m / k: repair never costs more than half the protected traffic. */
export const MAX_OVERHEAD_DEFAULT = 0.5;
/**
 * Default block sizes `auto` models the sliding window with (its residual loss is computed as a
 * block code's of k packets and m repairs; the window does at least as well, since each of its
 * repairs covers every packet in flight).
 */
export const GROUP_SIZES_DEFAULT: readonly number[] = Object.freeze([8, 16, 32]);
/**
 * Default repair `auto` sends before the estimate has anything to go on: 1 repair per 8 packets
 * for the first {@link PRIOR_OUTCOMES_DEFAULT} outcomes, unless a loss comes first (then the
 * estimate decides). A session's first losses come in slow start, where an unrepaired loss
 * halves a window that the stream then needs seconds to regrow; on a clean path this costs
 * 12.5% of the first thousand packets and stops.
 */
export const PRIOR_PARAMS_DEFAULT: Readonly<FecParams> = Object.freeze({ k: 8, m: 1 });
/** Default outcomes the prior lasts without a loss. */
export const PRIOR_OUTCOMES_DEFAULT = 1000;
/** Half-lives after the last loss past which the window holds no loss (its weight < 1/16). */
const LOSS_FREE_HALF_LIVES = 4;

export interface LossEstimatorOptions {
  /**
   * Half-life of an outcome's weight in the counters, in packets: old outcomes fade, so the
   * estimate follows a changing path within a few thousand packets. Default
   * {@link LOSS_HALF_LIFE_PACKETS_DEFAULT}.
   */
  halfLifePackets?: number;
  /** Loss rate below which `auto` sends no repair. Default {@link LOSS_FLOOR_DEFAULT}. */
  lossFloor?: number;
  /** Residual loss `auto` aims for. Default {@link TARGET_RESIDUAL_LOSS_DEFAULT}. */
  targetResidualLoss?: number;
  /** Largest m / k `auto` chooses. Default {@link MAX_OVERHEAD_DEFAULT}. */
  maxOverhead?: number;
  /** The k values `auto` chooses from. Default {@link GROUP_SIZES_DEFAULT}. */
  groupSizes?: readonly number[];
  /**
   * What `auto` sends before any loss was seen, for the first `priorOutcomes` outcomes: a ratio,
   * or undefined for none. Default {@link PRIOR_PARAMS_DEFAULT}.
   */
  prior?: FecParams | null;
  /** Outcomes the prior lasts. Default {@link PRIOR_OUTCOMES_DEFAULT}. */
  priorOutcomes?: number;
}

/** The estimate; a snapshot. */
export interface LossSnapshot {
  /** Weighted fraction of recent packets lost. */
  lossRate: number;
  /** Mean run of consecutive losses, 1 / r; 0 before any loss. */
  meanBurst: number;
  /** Outcomes fed so far (the estimate weighs the recent ones most). */
  samples: number;
  /** The fitted chain. */
  model: GilbertElliottModel;
}

export class LossEstimator {
  private readonly decay: number;
  private readonly halfLifePackets: number;
  private readonly lossFloor: number;
  private readonly targetResidualLoss: number;
  private readonly maxOverhead: number;
  private readonly groupSizes: readonly number[];
  private readonly prior: FecParams | undefined;
  private readonly priorOutcomes: number;
  private outcomes = 0;
  private sinceLoss = Infinity;
  private last: boolean | undefined;
  /** Exponentially weighted counts: outcomes, losses, and transitions out of the bad state. */
  private weight = 0;
  private lossWeight = 0;
  private badToGood = 0;
  private badToBad = 0;

  constructor(options: LossEstimatorOptions = {}) {
    this.halfLifePackets = options.halfLifePackets ?? LOSS_HALF_LIFE_PACKETS_DEFAULT;
    this.lossFloor = options.lossFloor ?? LOSS_FLOOR_DEFAULT;
    this.targetResidualLoss = options.targetResidualLoss ?? TARGET_RESIDUAL_LOSS_DEFAULT;
    this.maxOverhead = options.maxOverhead ?? MAX_OVERHEAD_DEFAULT;
    this.groupSizes = [...(options.groupSizes ?? GROUP_SIZES_DEFAULT)].sort((a, b) => a - b);
    if (!(this.halfLifePackets >= 1) || !Number.isFinite(this.halfLifePackets))
      throw new InvalidOptionError(`halfLifePackets must be ≥ 1, got ${this.halfLifePackets}`);
    if (!(this.lossFloor >= 0 && this.lossFloor <= 1))
      throw new InvalidOptionError(`lossFloor must be in [0, 1], got ${this.lossFloor}`);
    if (!(this.targetResidualLoss > 0 && this.targetResidualLoss < 1))
      throw new InvalidOptionError(`targetResidualLoss must be in (0, 1)`);
    if (!(this.maxOverhead > 0))
      throw new InvalidOptionError(`maxOverhead must be > 0, got ${this.maxOverhead}`);
    if (
      this.groupSizes.length === 0 ||
      this.groupSizes.some((k) => !Number.isInteger(k) || k < 1 || k > 254)
    )
      throw new InvalidOptionError(`groupSizes must be integers in [1, 254]`);
    this.prior = options.prior === null ? undefined : (options.prior ?? PRIOR_PARAMS_DEFAULT);
    this.priorOutcomes = options.priorOutcomes ?? PRIOR_OUTCOMES_DEFAULT;
    if (!Number.isInteger(this.priorOutcomes) || this.priorOutcomes < 0)
      throw new InvalidOptionError(
        `priorOutcomes must be an integer ≥ 0, got ${this.priorOutcomes}`,
      );
    this.decay = 2 ** (-1 / this.halfLifePackets);
  }

  /** One packet's fate, in packet-number order: acknowledged (false) or declared lost (true). */
  onOutcome(lost: boolean): void {
    const d = this.decay;
    this.weight = this.weight * d + 1;
    this.lossWeight = this.lossWeight * d + (lost ? 1 : 0);
    this.badToGood *= d;
    this.badToBad *= d;
    if (this.last === true) {
      if (lost) this.badToBad++;
      else this.badToGood++;
    }
    this.last = lost;
    this.outcomes++;
    this.sinceLoss = lost ? 0 : this.sinceLoss + 1;
  }

  /**
   * The fitted chain. `r` is the counted fraction of exits from the bad state (1, single losses,
   * until one is seen); `p` is then the one that makes the chain's long-run loss the measured
   * loss rate. Counting `p` too gives the same on long records, but on short ones a first
   * outcome that is a loss would count no good state and give p = 0.
   */
  model(): GilbertElliottModel {
    const lossRate = this.lossRate();
    const fromBad = this.badToGood + this.badToBad;
    if (lossRate >= 1) return { p: 1, r: fromBad > 0 ? this.badToGood / fromBad : 0 };
    const r = fromBad > 0 ? this.badToGood / fromBad : 1;
    return { p: Math.min(1, (r * lossRate) / (1 - lossRate)), r };
  }

  /** Outcomes fed so far. */
  get samples(): number {
    return this.outcomes;
  }

  snapshot(): LossSnapshot {
    const model = this.model();
    return {
      lossRate: this.lossRate(),
      meanBurst: this.sinceLoss === Infinity || model.r <= 0 ? 0 : 1 / model.r,
      samples: this.outcomes,
      model,
    };
  }

  /** The weighted fraction of recent packets lost (what {@link snapshot} reports, alone). */
  lossRate(): number {
    return this.weight > 0 ? this.lossWeight / this.weight : 0;
  }

  /**
   * The repair ratio for a policy, or undefined for no repair. A fixed `{k, m}` comes back
   * unchanged and `'off'` as undefined. `'auto'` picks, among k of `groupSizes` and m / k ≤
   * `maxOverhead`, the least ratio m / k whose residual loss as a block of k + m packets is at
   * most `targetResidualLoss` (ties: the smaller k).
   * When no (k, m) within the cap reaches the target, the one with the least residual loss is
   * chosen if it at least halves the loss, else none: against loss in long runs (an outage)
   * repair only adds load.
   *
   * `'auto'` sends no repair while no loss was seen in the window (4 half-lives; this covers
   * warm-up, as a young record without loss has none either), when the loss rate is under
   * `lossFloor`, or when the loss rate already meets the target without repair. Losses are acted
   * on from the first: the estimate is rough on a short record, but waiting for a better one
   * would leave the first bursts unprotected.
   */
  choose(policy: FecPolicy): FecParams | undefined {
    if (policy === 'off') return undefined;
    if (policy !== 'auto') return policy;
    if (this.sinceLoss === Infinity && this.outcomes < this.priorOutcomes) return this.prior;
    if (this.sinceLoss >= LOSS_FREE_HALF_LIVES * this.halfLifePackets) return undefined;
    const loss = this.lossRate();
    if (loss < this.lossFloor || loss <= this.targetResidualLoss) return undefined;
    const model = this.model();
    const candidates: { k: number; m: number; residual: number }[] = [];
    for (const k of this.groupSizes) {
      const mMax = Math.min(Math.floor(this.maxOverhead * k), 255 - k);
      if (mMax < 1) continue;
      const residuals = residualLossByParity(model, k, mMax);
      for (let m = 1; m <= mMax; m++) candidates.push({ k, m, residual: residuals[m]! });
    }
    // The least repair that meets the target; ties go to the smaller k.
    candidates.sort((a, b) => a.m / a.k - b.m / b.k || a.k - b.k);
    const met = candidates.find((c) => c.residual <= this.targetResidualLoss);
    if (met !== undefined) return { k: met.k, m: met.m };
    let best: { k: number; m: number; residual: number } | undefined;
    for (const c of candidates) if (best === undefined || c.residual < best.residual) best = c;
    if (best === undefined || best.residual > loss / 2) return undefined;
    return { k: best.k, m: best.m };
  }
}
