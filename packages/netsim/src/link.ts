import { createSeededRandom, InvalidOptionError, type Random } from '@braid/protocol';
import { fnv1a32 } from './hash.js';
import type { Locator } from './types.js';

/**
 * Bursty loss as a two-state Markov chain (Gilbert–Elliott). Each packet is first lost with the
 * probability of the current state, then the chain steps once. The chain starts in Good.
 * Use {@link gilbertElliottFromMeanLoss} to build one from a loss rate and a burst length.
 */
export interface GilbertElliott {
  /** Probability, per packet, of moving from Good to Bad. */
  pGoodToBad: number;
  /** Probability, per packet, of moving from Bad to Good; 1/pBadToGood is the mean Bad run. */
  pBadToGood: number;
  /** Loss probability in Good (counted as `loss`). */
  lossGood: number;
  /** Loss probability in Bad (counted as `burst_loss`). */
  lossBad: number;
}

/**
 * The simple Gilbert model (no loss in Good, every packet lost in Bad) whose long-run loss rate
 * is `lossRate` and whose loss bursts last `meanBurstLength` packets on average.
 */
export function gilbertElliottFromMeanLoss(options: {
  lossRate: number;
  meanBurstLength: number;
}): GilbertElliott {
  const { lossRate, meanBurstLength } = options;
  if (!(lossRate >= 0 && lossRate < 1)) {
    throw new InvalidOptionError(`lossRate must be in [0, 1), got ${lossRate}`);
  }
  if (!(meanBurstLength >= 1 && Number.isFinite(meanBurstLength))) {
    throw new InvalidOptionError(
      `meanBurstLength must be a finite number >= 1, got ${meanBurstLength}`,
    );
  }
  const pBadToGood = 1 / meanBurstLength;
  // Stationary P(Bad) = pGB / (pGB + pBG) = lossRate.
  const pGoodToBad = (lossRate * pBadToGood) / (1 - lossRate);
  if (pGoodToBad > 1) {
    throw new InvalidOptionError(
      `lossRate ${lossRate} with meanBurstLength ${meanBurstLength} needs pGoodToBad > 1`,
    );
  }
  return { pGoodToBad, pBadToGood, lossGood: 0, lossBad: 1 };
}

/**
 * How a one-way link treats each datagram. Every option is optional; the defaults make a
 * perfect, zero-delay, infinitely fast link.
 *
 * A datagram goes through the stages in this order: `blackhole`, `mtu`, the `rateBps` queue,
 * loss (`gilbertElliott`, then `loss`), `duplicate`, then for each copy `corrupt`, delay
 * (`delayMs` + `jitterMs`) and `reorder`. Each stage draws from its own random stream, derived
 * from the simulator's seed and the link's endpoints, so enabling one fault does not shift the
 * random choices of another, and adding a link does not change what happens on the others.
 *
 * Options are read when a datagram enters the link: changing them (see {@link LinkHandle}) does
 * not affect datagrams already queued or in flight.
 */
export interface LinkOptions {
  /** One-way propagation delay in ms. Default 0. */
  delayMs?: number;
  /**
   * Extra delay drawn uniformly from [0, jitterMs) for each datagram. Default 0. Jitter never
   * reorders: a datagram is delivered no earlier than the one sent before it on the same link
   * (delivery = max(previous delivery, departure + delayMs + jitter)). Use `reorder` for
   * reordering.
   */
  jitterMs?: number;
  /** Independent loss probability per datagram, counted as `loss`. Default 0. */
  loss?: number;
  /** Bursty loss, applied before `loss`. Default none. */
  gilbertElliott?: GilbertElliott;
  /**
   * Probability that a datagram is delivered twice. The copy draws its own jitter, corruption
   * and reordering. Loss is decided once, before duplication. Default 0.
   */
  duplicate?: number;
  /**
   * Probability that a datagram is held back by `reorderDelayMs` beyond its FIFO delivery time,
   * so that datagrams sent after it within that window overtake it. Counted as `reordered`
   * whether or not anything actually overtakes it. Default 0.
   */
  reorder?: number;
  /** How long a reordered datagram is held back, in ms. Default 10. */
  reorderDelayMs?: number;
  /**
   * Probability that one uniformly chosen byte is XORed with a uniformly chosen non-zero value,
   * so exactly one byte differs. Empty datagrams are never corrupted. Default 0.
   */
  corrupt?: number;
  /** Datagrams longer than this many bytes are dropped, counted as `mtu`. Default: no limit. */
  mtu?: number;
  /**
   * Link rate in bits per second. The link serializes one datagram at a time, taking
   * bytes * 8 / rateBps seconds each; datagrams wait in a drop-tail queue meanwhile.
   * Default: infinite (no serialization delay, no queue).
   */
  rateBps?: number;
  /**
   * Most datagrams waiting behind the one being serialized; more are dropped, counted as
   * `queue`. Only used with `rateBps`. Default 1000.
   */
  queuePackets?: number;
  /** Most bytes waiting behind the one being serialized. Only with `rateBps`. Default: no limit. */
  queueBytes?: number;
  /**
   * Drop every datagram entering the link, counted as `blackhole`. Datagrams already queued or
   * in flight still arrive. Default false.
   */
  blackhole?: boolean;
  /**
   * Source NAT: the receiver sees this locator as the datagram's remote instead of the sender's.
   * Changing it at run time models a NAT rebinding. Default: none.
   */
  rewriteFrom?: Locator;
  /**
   * Destination NAT: deliver to this locator (the owning node sees it as `local`) instead of
   * the link's `to`. Pairs with `rewriteFrom` on the other direction. Default: none.
   */
  rewriteTo?: Locator;
}

/** Why a link (or the simulator, for `no_route`) dropped a datagram. */
export type DropReason =
  /** Independent loss (`loss`, or `gilbertElliott.lossGood`). */
  | 'loss'
  /** Loss in the Gilbert–Elliott Bad state. */
  | 'burst_loss'
  | 'blackhole'
  | 'mtu'
  /** Drop-tail queue full. */
  | 'queue'
  /** No link from the source to the destination, or no node owns the destination. */
  | 'no_route'
  /** The simulator's cap on datagrams in flight (`maxInFlight`) was reached. */
  | 'overflow';

export const DROP_REASONS: readonly DropReason[] = [
  'loss',
  'burst_loss',
  'blackhole',
  'mtu',
  'queue',
  'no_route',
  'overflow',
];

/** A snapshot of one link's counters. `sent + duplicated = delivered + dropped total + inFlight`. */
export interface LinkStats {
  from: Locator;
  to: Locator;
  /** Datagrams that entered the link. */
  sent: number;
  /** Copies handed to a node. */
  delivered: number;
  dropped: Record<DropReason, number>;
  /** Extra copies created by `duplicate`. */
  duplicated: number;
  corrupted: number;
  reordered: number;
  /** Copies scheduled for delivery and not yet delivered. */
  inFlight: number;
  bytesSent: number;
  bytesDelivered: number;
}

/** Run-time control of one one-way link. */
export interface LinkHandle {
  readonly from: Locator;
  readonly to: Locator;
  /** The options in force, with defaults filled in. */
  readonly options: Readonly<ResolvedLinkOptions>;
  setBlackhole(on: boolean): void;
  /** Merges `options` into the link's options; `undefined` values reset to the default. */
  update(options: LinkOptions): void;
  stats(): LinkStats;
}

export type ResolvedLinkOptions = Required<
  Omit<LinkOptions, 'gilbertElliott' | 'rewriteFrom' | 'rewriteTo'>
> &
  Pick<LinkOptions, 'gilbertElliott' | 'rewriteFrom' | 'rewriteTo'>;

const DEFAULTS: ResolvedLinkOptions = {
  delayMs: 0,
  jitterMs: 0,
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderDelayMs: 10,
  corrupt: 0,
  mtu: Number.POSITIVE_INFINITY,
  rateBps: Number.POSITIVE_INFINITY,
  queuePackets: 1000,
  queueBytes: Number.POSITIVE_INFINITY,
  blackhole: false,
};

function checkProbability(name: string, v: number): void {
  if (!(v >= 0 && v <= 1)) throw new InvalidOptionError(`${name} must be in [0, 1], got ${v}`);
}

function checkNonNegative(name: string, v: number, allowInfinity: boolean): void {
  if (!(v >= 0) || (!allowInfinity && !Number.isFinite(v))) {
    throw new InvalidOptionError(
      `${name} must be a ${allowInfinity ? '' : 'finite '}number >= 0, got ${v}`,
    );
  }
}

/** Fills defaults and validates; throws `InvalidOptionError` naming the bad option. */
export function resolveLinkOptions(
  base: ResolvedLinkOptions | undefined,
  patch: LinkOptions,
): ResolvedLinkOptions {
  const out: ResolvedLinkOptions = { ...(base ?? DEFAULTS) };
  for (const [key, value] of Object.entries(patch) as [keyof LinkOptions, unknown][]) {
    if (
      !(key in DEFAULTS) &&
      key !== 'gilbertElliott' &&
      key !== 'rewriteFrom' &&
      key !== 'rewriteTo'
    ) {
      throw new InvalidOptionError(`unknown link option ${JSON.stringify(key)}`);
    }
    (out as unknown as Record<string, unknown>)[key] =
      value === undefined ? (DEFAULTS as unknown as Record<string, unknown>)[key] : value;
  }
  checkNonNegative('delayMs', out.delayMs, false);
  checkNonNegative('jitterMs', out.jitterMs, false);
  checkNonNegative('reorderDelayMs', out.reorderDelayMs, false);
  checkProbability('loss', out.loss);
  checkProbability('duplicate', out.duplicate);
  checkProbability('reorder', out.reorder);
  checkProbability('corrupt', out.corrupt);
  if (!(out.mtu > 0)) throw new InvalidOptionError(`mtu must be > 0, got ${out.mtu}`);
  if (!(out.rateBps > 0)) throw new InvalidOptionError(`rateBps must be > 0, got ${out.rateBps}`);
  if (!(Number.isInteger(out.queuePackets) && out.queuePackets >= 0)) {
    throw new InvalidOptionError(`queuePackets must be an integer >= 0, got ${out.queuePackets}`);
  }
  checkNonNegative('queueBytes', out.queueBytes, true);
  if (typeof out.blackhole !== 'boolean') {
    throw new InvalidOptionError(`blackhole must be a boolean, got ${String(out.blackhole)}`);
  }
  const ge = out.gilbertElliott;
  if (ge !== undefined) {
    checkProbability('gilbertElliott.pGoodToBad', ge.pGoodToBad);
    checkProbability('gilbertElliott.pBadToGood', ge.pBadToGood);
    checkProbability('gilbertElliott.lossGood', ge.lossGood);
    checkProbability('gilbertElliott.lossBad', ge.lossBad);
    out.gilbertElliott = { ...ge };
  }
  for (const key of ['rewriteFrom', 'rewriteTo'] as const) {
    const v = out[key];
    if (v !== undefined && typeof v !== 'string') {
      throw new InvalidOptionError(`${key} must be a locator string`);
    }
  }
  return out;
}

/** One copy of a datagram the link will deliver. */
export interface LinkCopy {
  atMs: number;
  bytes: Uint8Array;
}

export type LinkOutcome = { dropped: DropReason } | { copies: LinkCopy[] };

/** A datagram being serialized, or waiting in the queue for the transmitter. */
interface Serializing {
  startMs: number;
  finishMs: number;
  sizeBytes: number;
}

/** One one-way link's state. Internal: the simulator owns links and hands out LinkHandles. */
export class Link {
  readonly name: string;
  /** A stable 32-bit id for hashing the trace. */
  readonly id: number;
  options: ResolvedLinkOptions;
  readonly counters: Omit<LinkStats, 'from' | 'to' | 'dropped'>;
  readonly dropped: Record<DropReason, number>;
  #bad = false;
  #lastArrivalMs = Number.NEGATIVE_INFINITY;
  #busyUntilMs = Number.NEGATIVE_INFINITY;
  // Bounded by queuePackets + 1 (the one being serialized); entries leave once finished.
  #serializing: Serializing[] = [];
  readonly #lossRandom: Random;
  readonly #burstRandom: Random;
  readonly #delayRandom: Random;
  readonly #duplicateRandom: Random;
  readonly #reorderRandom: Random;
  readonly #corruptRandom: Random;

  constructor(
    readonly from: Locator,
    readonly to: Locator,
    seed: number,
    options: LinkOptions,
  ) {
    this.name = `${from}->${to}`;
    this.id = fnv1a32(this.name);
    this.options = resolveLinkOptions(undefined, options);
    this.counters = {
      sent: 0,
      delivered: 0,
      duplicated: 0,
      corrupted: 0,
      reordered: 0,
      inFlight: 0,
      bytesSent: 0,
      bytesDelivered: 0,
    };
    this.dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<
      DropReason,
      number
    >;
    const stream = (stage: string): Random =>
      createSeededRandom(fnv1a32(`${seed >>> 0}|${from}|${to}|${stage}`));
    this.#lossRandom = stream('loss');
    this.#burstRandom = stream('burst');
    this.#delayRandom = stream('delay');
    this.#duplicateRandom = stream('duplicate');
    this.#reorderRandom = stream('reorder');
    this.#corruptRandom = stream('corrupt');
  }

  stats(): LinkStats {
    return { from: this.from, to: this.to, ...this.counters, dropped: { ...this.dropped } };
  }

  /**
   * Decides the fate of a datagram entering the link at `nowMs`. `bytes` must be a private copy;
   * the link may modify it (corruption), and each copy it returns has its own buffer.
   */
  transmit(nowMs: number, bytes: Uint8Array): LinkOutcome {
    const o = this.options;
    this.counters.sent++;
    this.counters.bytesSent += bytes.length;
    if (o.blackhole) return this.#drop('blackhole');
    if (bytes.length > o.mtu) return this.#drop('mtu');

    let departureMs = nowMs;
    if (Number.isFinite(o.rateBps)) {
      const queue = this.#serializing;
      while (queue.length > 0 && queue[0]!.finishMs <= nowMs) queue.shift();
      let waiting = 0;
      let waitingBytes = 0;
      for (const s of queue) {
        if (s.startMs > nowMs) {
          waiting++;
          waitingBytes += s.sizeBytes;
        }
      }
      const busy = queue.length > 0;
      if (busy && (waiting + 1 > o.queuePackets || waitingBytes + bytes.length > o.queueBytes)) {
        return this.#drop('queue');
      }
      const startMs = Math.max(nowMs, this.#busyUntilMs);
      const finishMs = startMs + (bytes.length * 8 * 1000) / o.rateBps;
      this.#busyUntilMs = finishMs;
      queue.push({ startMs, finishMs, sizeBytes: bytes.length });
      departureMs = finishMs;
    }

    // Loss happens on the wire, after the datagram has used its share of the link's rate.
    const ge = o.gilbertElliott;
    if (ge !== undefined) {
      const inBad = this.#bad;
      const lost = this.#burstRandom.nextFloat() < (inBad ? ge.lossBad : ge.lossGood);
      this.#bad = this.#burstRandom.nextFloat() < (inBad ? 1 - ge.pBadToGood : ge.pGoodToBad);
      if (lost) return this.#drop(inBad ? 'burst_loss' : 'loss');
    }
    if (o.loss > 0 && this.#lossRandom.nextFloat() < o.loss) return this.#drop('loss');

    const copies = [this.#copy(departureMs, bytes)];
    if (o.duplicate > 0 && this.#duplicateRandom.nextFloat() < o.duplicate) {
      this.counters.duplicated++;
      // Its own buffer: a receiver may decrypt the first copy in place.
      copies.push(this.#copy(departureMs, bytes.slice()));
    }
    return { copies };
  }

  /** Decides corruption, delay and reordering of one copy; `bytes` is its private buffer. */
  #copy(departureMs: number, bytes: Uint8Array): LinkCopy {
    const o = this.options;
    if (o.corrupt > 0 && bytes.length > 0 && this.#corruptRandom.nextFloat() < o.corrupt) {
      const index = this.#corruptRandom.nextU32() % bytes.length;
      const mask = 1 + (this.#corruptRandom.nextU32() % 255);
      bytes[index] = bytes[index]! ^ mask;
      this.counters.corrupted++;
    }
    const jitterMs = o.jitterMs > 0 ? this.#delayRandom.nextFloat() * o.jitterMs : 0;
    let atMs = Math.max(this.#lastArrivalMs, departureMs + o.delayMs + jitterMs);
    if (o.reorder > 0 && this.#reorderRandom.nextFloat() < o.reorder) {
      // Held back without moving the FIFO floor, so later datagrams may overtake it.
      atMs += o.reorderDelayMs;
      this.counters.reordered++;
    } else {
      this.#lastArrivalMs = atMs;
    }
    return { atMs, bytes };
  }

  #drop(reason: DropReason): LinkOutcome {
    this.dropped[reason]++;
    return { dropped: reason };
  }
}
