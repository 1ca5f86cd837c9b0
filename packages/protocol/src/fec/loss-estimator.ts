/**
 * Loss model and repair choice for adaptive FEC (issue 7): one estimator per path and
 * direction, fed the fate of each packet in packet-number order, picks the repair ratio (m
 * repairs per k protected packets) that keeps the packets a loss delivers late, past a horizon,
 * under a target at the least overhead (the model is in window-model.ts).
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
import { gcd, HORIZON_SLOTS_MAX, lateFraction } from './window-model.js';

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

/** Default half-life of an outcome's weight, in packets (the window spans ~1 443 packets). */
export const LOSS_HALF_LIFE_PACKETS_DEFAULT = 2000;
/** Default loss rate below which `auto` sends no repair. */
export const LOSS_FLOOR_DEFAULT = 1e-3;
/**
 * Default target for the fraction of protected packets delivered later than the horizon: one
 * in 200, so that the 99th percentile of the delay loss adds stays within the horizon with some
 * room for the model's optimism (see window-model.ts).
 */
export const TARGET_LATE_FRACTION_DEFAULT = 0.01;
/** Default cap on m / k: repair never costs more than half the protected traffic. */
export const MAX_OVERHEAD_DEFAULT = 0.5;
/** `auto` chooses ratios m / {@link RATIO_DENOMINATOR}, reduced (e.g. 12/64 is reported 3/16). */
export const RATIO_DENOMINATOR = 64;
/** Default horizon, in protected packets, when the caller gives none. */
export const HORIZON_PACKETS_DEFAULT = 16;
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
/** Exits from the bad state of an i.i.d. chain the fit of `r` starts from (see `model`). */
export const R_PRIOR_EXITS = 16;
/** Exits from the bad state fade this many times slower than the loss rate. */
const TRANSITION_HALF_LIVES = 4;
/** Packet numbers whose fates are kept to pair neighbours (see {@link LossEstimator.onOutcome}). */
export const OUTCOMES_KEPT = 1024;
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
  /**
   * Fraction of protected packets `auto` lets be delivered later than the horizon. Default
   * {@link TARGET_LATE_FRACTION_DEFAULT}.
   */
  targetLateFraction?: number;
  /** Largest m / k `auto` chooses. Default {@link MAX_OVERHEAD_DEFAULT}. */
  maxOverhead?: number;
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
  private readonly transitionDecay: number;
  private readonly halfLifePackets: number;
  private readonly lossFloor: number;
  private readonly targetLateFraction: number;
  private readonly maxOverhead: number;
  private readonly prior: FecParams | undefined;
  private readonly priorOutcomes: number;
  private outcomes = 0;
  /** `auto`'s last choice: m repairs per {@link RATIO_DENOMINATOR}, or undefined for none. */
  private current: number | undefined;
  private sinceLoss = Infinity;
  private last: boolean | undefined;
  /**
   * Recent outcomes by packet number (slot pn mod {@link OUTCOMES_KEPT}; NaN for none), so that
   * transitions are counted between neighbouring packet numbers whatever order fates arrive in.
   */
  private readonly keptPn = new Float64Array(OUTCOMES_KEPT).fill(NaN);
  private readonly keptLost = new Uint8Array(OUTCOMES_KEPT);
  /** Exponentially weighted counts: outcomes, losses, and transitions out of the bad state. */
  private weight = 0;
  private lossWeight = 0;
  private badToGood = 0;
  private badToBad = 0;

  constructor(options: LossEstimatorOptions = {}) {
    this.halfLifePackets = options.halfLifePackets ?? LOSS_HALF_LIFE_PACKETS_DEFAULT;
    this.lossFloor = options.lossFloor ?? LOSS_FLOOR_DEFAULT;
    this.targetLateFraction = options.targetLateFraction ?? TARGET_LATE_FRACTION_DEFAULT;
    this.maxOverhead = options.maxOverhead ?? MAX_OVERHEAD_DEFAULT;
    if (!(this.halfLifePackets >= 1) || !Number.isFinite(this.halfLifePackets))
      throw new InvalidOptionError(`halfLifePackets must be ≥ 1, got ${this.halfLifePackets}`);
    if (!(this.lossFloor >= 0 && this.lossFloor <= 1))
      throw new InvalidOptionError(`lossFloor must be in [0, 1], got ${this.lossFloor}`);
    if (!(this.targetLateFraction > 0 && this.targetLateFraction < 1))
      throw new InvalidOptionError(
        `targetLateFraction must be in (0, 1), got ${this.targetLateFraction}`,
      );
    if (!(this.maxOverhead >= 1 / RATIO_DENOMINATOR && this.maxOverhead <= 8))
      throw new InvalidOptionError(
        `maxOverhead must be in [1/${RATIO_DENOMINATOR}, 8], got ${this.maxOverhead}`,
      );
    this.prior = options.prior === null ? undefined : (options.prior ?? PRIOR_PARAMS_DEFAULT);
    this.priorOutcomes = options.priorOutcomes ?? PRIOR_OUTCOMES_DEFAULT;
    if (!Number.isInteger(this.priorOutcomes) || this.priorOutcomes < 0)
      throw new InvalidOptionError(
        `priorOutcomes must be an integer ≥ 0, got ${this.priorOutcomes}`,
      );
    this.decay = 2 ** (-1 / this.halfLifePackets);
    this.transitionDecay = 2 ** (-1 / (TRANSITION_HALF_LIVES * this.halfLifePackets));
  }

  /**
   * One packet's fate: acknowledged (false) or declared lost (true). With its `packetNumber`,
   * fates may come in any order (a session learns of acknowledgements a round trip before it
   * declares the losses among them): the chain's transitions are counted between packets whose
   * numbers follow each other, once both fates are known, among the last
   * {@link OUTCOMES_KEPT} numbers. Without, fates are taken to come in packet order.
   */
  onOutcome(lost: boolean, packetNumber?: number): void {
    const d = this.decay;
    this.weight = this.weight * d + 1;
    this.lossWeight = this.lossWeight * d + (lost ? 1 : 0);
    this.badToGood *= this.transitionDecay;
    this.badToBad *= this.transitionDecay;
    if (packetNumber === undefined) {
      if (this.last === true) this.transition(lost);
      this.last = lost;
    } else {
      const slot = packetNumber % OUTCOMES_KEPT;
      const before = (packetNumber + OUTCOMES_KEPT - 1) % OUTCOMES_KEPT;
      const after = (packetNumber + 1) % OUTCOMES_KEPT;
      if (this.keptPn[before] === packetNumber - 1 && this.keptLost[before] === 1)
        this.transition(lost);
      if (lost && this.keptPn[after] === packetNumber + 1)
        this.transition(this.keptLost[after] === 1);
      this.keptPn[slot] = packetNumber;
      this.keptLost[slot] = lost ? 1 : 0;
    }
    this.outcomes++;
    this.sinceLoss = lost ? 0 : this.sinceLoss + 1;
  }

  /** A transition out of the bad state, to bad again (`lost`) or to good. */
  private transition(lost: boolean): void {
    if (lost) this.badToBad++;
    else this.badToGood++;
  }

  /**
   * The fitted chain. `r` is the counted fraction of exits from the bad state, with
   * {@link R_PRIOR_EXITS} exits of an i.i.d. chain (r = 1 − loss) added: a few dozen losses give
   * r to ±0.02, and near 1 that is the difference between 12 and 14 repairs per 64 packets, so
   * the estimate leans to independent loss until the record says otherwise. Exits fade 4× slower
   * than the loss rate: how bursty a path is changes slower than how lossy. `p` is then the one
   * that makes the chain's long-run loss the measured loss rate. Counting `p` too gives the same
   * on long records, but on short ones a first outcome that is a loss would count no good state
   * and give p = 0.
   */
  model(): GilbertElliottModel {
    const lossRate = this.lossRate();
    const fromBad = this.badToGood + this.badToBad;
    if (lossRate >= 1) return { p: 1, r: fromBad > 0 ? this.badToGood / fromBad : 0 };
    const r = (this.badToGood + R_PRIOR_EXITS * (1 - lossRate)) / (fromBad + R_PRIOR_EXITS);
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
   * unchanged and `'off'` as undefined. `'auto'` picks the least ratio m / 64 (m ≥ 1, m / 64 ≤
   * `maxOverhead`) whose modelled fraction of packets delivered more than `horizonPackets` late
   * ({@link lateFraction}) is at most `targetLateFraction`, reduced to lowest terms. When no
   * ratio within the cap meets it, the cap is chosen if it leaves fewer late packets than half
   * the packets lost, else none: against loss in long runs (an outage) repair only adds load.
   *
   * `boundPackets`, the protected packets sent in the encoder's time bound, tells the model that
   * a repair goes at least that often whatever the ratio: on a slow stream the time bound, not
   * the ratio, spaces the repairs (and sets their cost). When that is enough, the ratio returned
   * is the time bound's, 1 per `boundPackets`.
   *
   * `'auto'` sends no repair while no loss was seen in the window (4 half-lives; this covers
   * warm-up, as a young record without loss has none either) and when the loss rate is under
   * `lossFloor`. Losses are acted on from the first: the estimate is rough on a short record,
   * but waiting for a better one would leave the first bursts unprotected.
   */
  choose(
    policy: FecPolicy,
    horizonPackets = HORIZON_PACKETS_DEFAULT,
    boundPackets = Infinity,
  ): FecParams | undefined {
    if (policy === 'off') return undefined;
    if (policy !== 'auto') return policy;
    if (this.sinceLoss === Infinity && this.outcomes < this.priorOutcomes) return this.prior;
    if (
      this.sinceLoss >= LOSS_FREE_HALF_LIVES * this.halfLifePackets ||
      this.lossRate() < this.lossFloor
    )
      return (this.current = undefined);
    const bound =
      boundPackets >= HORIZON_SLOTS_MAX ? Infinity : Math.max(1, quantizeHorizon(boundPackets));
    this.current = chooseRatio(
      this.model(),
      quantizeHorizon(horizonPackets),
      bound,
      this.targetLateFraction,
      Math.min(8 * RATIO_DENOMINATOR, Math.floor(this.maxOverhead * RATIO_DENOMINATOR)),
      this.current,
    );
    if (this.current === undefined) return undefined;
    // Below one repair per time bound, the time bound is what sends them: say so.
    if (this.current * bound < RATIO_DENOMINATOR) return { k: bound, m: 1 };
    const g = gcd(RATIO_DENOMINATOR, this.current);
    return { k: RATIO_DENOMINATOR / g, m: this.current / g };
  }
}

/** Late fractions by quantized model, horizon, bound and m; bounded, oldest evicted first. */
const lateCache = new Map<string, number>();
/** Entries {@link lateCache} keeps at most. */
export const LATE_CACHE_MAX = 4096;
/** The loss rate is quantized to steps of this factor, `r` to 1/50: late fractions are cached by both. */
const LOSS_STEP = 1.03;
const R_STEPS = 50;
/**
 * `auto` keeps its ratio while the late fraction stays within this factor of the target, and
 * lowers it as soon as a lower one meets the target: the estimate's noise (±0.3% of loss at 5%)
 * would otherwise move the ratio up and down by a step for nothing.
 */
export const RAISE_MARGIN = 1.5;

/**
 * A horizon in whole packets within the model's bound; past 32, rounded to 16 steps per
 * doubling (65 packets or 66 make no difference to the choice, and fewer keys cache better).
 */
function quantizeHorizon(packets: number): number {
  const h = Math.max(0, Math.min(HORIZON_SLOTS_MAX, Math.round(packets)));
  if (h <= 32) return h;
  const unit = 2 ** (Math.floor(Math.log2(h)) - 4);
  return Math.round(h / unit) * unit;
}

/**
 * {@link LossEstimator.choose}'s search, on the model rounded to the cache's grid so that a
 * cached value is exactly the one computed: the least m of `mMax` meeting the target, found by
 * bisection (the late fraction falls as repair grows), or `current` if that is lower and within
 * {@link RAISE_MARGIN} of the target. `bound`: packets per time bound, an integer ≥ 1 or
 * Infinity. Returns m, or undefined for no repair.
 */
function chooseRatio(
  model: GilbertElliottModel,
  horizon: number,
  bound: number,
  target: number,
  mMax: number,
  current: number | undefined,
): number | undefined {
  const loss = stationaryLoss(model);
  const lossStep = Math.round(Math.log(loss) / Math.log(LOSS_STEP));
  const rStep = Math.max(1, Math.round(model.r * R_STEPS));
  const q = Math.min(0.999, LOSS_STEP ** lossStep);
  const r = rStep / R_STEPS;
  const grid: GilbertElliottModel = { p: Math.min(1, (r * q) / (1 - q)), r };
  const late = (m: number): number => {
    // Ratios under one per `bound` packets are spaced by the time bound instead.
    const spaced = m * bound < RATIO_DENOMINATOR;
    const key = `${lossStep}/${rStep}/${horizon}/${spaced ? `b${bound}` : m}`;
    let value = lateCache.get(key);
    if (value === undefined) {
      value = spaced
        ? lateFraction(grid, bound, 1, horizon)
        : lateFraction(grid, RATIO_DENOMINATOR, m, horizon);
      if (lateCache.size >= LATE_CACHE_MAX) lateCache.delete(lateCache.keys().next().value!);
      lateCache.set(key, value);
    }
    return value;
  };
  if (late(mMax) > target) return late(mMax) <= q / 2 ? mMax : undefined;
  let lo = 1;
  let hi = mMax;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (late(mid) <= target) hi = mid;
    else lo = mid + 1;
  }
  if (current !== undefined && current < lo && late(current) <= RAISE_MARGIN * target)
    return current;
  return lo;
}
