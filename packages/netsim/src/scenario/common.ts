/**
 * What the simulated scenarios share: the fault phases (periodic blackholes, then healing for
 * the liveness phase) and the JSON summaries of endpoints and links.
 */
import {
  createSeededRandom,
  Endpoint,
  generateIdentity,
  REJECT_REASONS,
  type CryptoProvider,
  type Eid,
  type EndpointEvent,
  type EndpointOptions,
  type EndpointStats,
  type Locator,
  type RejectReason,
  type Transmit,
} from '@braid/protocol';
import { replayHint } from '../errors.js';
import type { LinkHandle, LinkOptions, LinkStats } from '../link.js';
import { Simulator } from '../simulator.js';
import type { SimNode } from '../types.js';

export const HOST_A = '198.51.100.1:4433';
export const HOST_B = '203.0.113.1:4433';

/** Whom an initiator dials. */
export interface Dial {
  eid: Eid;
  staticKey?: Uint8Array;
  remote: Locator;
}

export interface TwoHostOptions extends FaultPhases {
  seed: number;
  crypto: CryptoProvider;
  /** `ik` when the initiator knows the responder's static key. Default `xx`. */
  pattern?: 'xx' | 'ik';
  /** Faults of the A→B direction (and of B→A unless `reverse` is given). */
  link?: LinkOptions;
  /** Faults of the B→A direction. Default: same as `link`. */
  reverse?: LinkOptions;
  /** Options passed to both endpoints (timeouts, limits). */
  endpoint?: Partial<EndpointOptions>;
  /** The run fails if not done after this much virtual time. Default 600 000 ms. */
  maxVirtualMs?: number;
}

/** What every scenario reports, besides its workload's own figures. */
export interface ScenarioResult {
  seed: number;
  /** Every safety check held and the workload completed. */
  verified: boolean;
  /** Why `verified` is false (a safety violation or a liveness failure), with the replay hint. */
  failure?: string;
  virtualMs: number;
  pattern: 'xx' | 'ik';
  /** Initiator's handshake time of the session that carried the workload, in virtual ms. */
  handshakeMs: number | null;
  endpoints: { a: EndpointSummary; b: EndpointSummary };
  links: LinkSummary[];
  steps: number;
}

/**
 * A simulator node that is one Endpoint driven by an application: the SimNode calls go to the
 * endpoint, and after each input the application sees the endpoint's events.
 */
export abstract class EndpointNode implements SimNode {
  readonly endpoint: Endpoint;

  constructor(options: EndpointOptions) {
    this.endpoint = new Endpoint(options);
  }

  handleDatagram(now: number, path: { local: Locator; remote: Locator }, bytes: Uint8Array) {
    this.endpoint.handleDatagram(now, path, bytes);
    this.react(now);
  }

  handleTimeout(now: number): void {
    this.endpoint.handleTimeout(now);
    this.react(now);
  }

  pollTransmit(now: number): Transmit | undefined {
    return this.endpoint.pollTransmit(now);
  }

  pollTimeout(): number | undefined {
    return this.endpoint.pollTimeout();
  }

  /** Hands every pending event to {@link onEvent}. */
  protected react(now: number): void {
    for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) this.onEvent(now, e);
  }

  protected abstract onEvent(now: number, e: EndpointEvent): void;
}

/**
 * Host A (198.51.100.1, the initiator) and host B (203.0.113.1) joined by one duplex link with
 * the given faults and fault phases; identities and randomness derive from the seed.
 */
export function setUpTwoHosts<N extends SimNode>(
  options: TwoHostOptions,
  identitySalt: number,
  maxVirtualMs: number,
  make: (side: 'a' | 'b', endpoint: EndpointOptions, local: Locator, dial?: Dial) => N,
): { sim: Simulator; a: N; b: N } {
  const seed = options.seed >>> 0;
  const keys = createSeededRandom(seed ^ identitySalt);
  const idA = generateIdentity(options.crypto, keys);
  const idB = generateIdentity(options.crypto, keys);
  const base = { crypto: options.crypto, ...options.endpoint };
  const sim = new Simulator({ seed });
  const b = make('b', { ...base, identity: idB, random: createSeededRandom(seed ^ 0xb0b) }, HOST_B);
  const a = make(
    'a',
    { ...base, identity: idA, random: createSeededRandom(seed ^ 0xa11ce) },
    HOST_A,
    {
      eid: idB.eid,
      ...(options.pattern === 'ik' ? { staticKey: idB.publicKey } : {}),
      remote: HOST_B,
    },
  );
  sim.addNode('a', a, [HOST_A]);
  sim.addNode('b', b, [HOST_B]);
  const forward = sim.addLink(HOST_A, HOST_B, options.link ?? {});
  const reverse = sim.addLink(HOST_B, HOST_A, options.reverse ?? options.link ?? {});
  scheduleFaultPhases(sim, forward, reverse, options, maxVirtualMs);
  return { sim, a, b };
}

/** Runs until `done`; a liveness failure (`unfinished`) or a thrown violation becomes `failure`. */
export function runToCompletion(
  sim: Simulator,
  done: () => boolean,
  maxVirtualMs: number,
  unfinished: () => string,
): { failure: string | undefined; steps: number } {
  try {
    const r = sim.run({ until: done, maxVirtualMs });
    if (!done())
      return {
        failure: `not done after ${r.nowMs} virtual ms (${r.stoppedBy}): ${unfinished()}`,
        steps: r.steps,
      };
    return { failure: undefined, steps: r.steps };
  } catch (err) {
    return {
      failure: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      steps: 0,
    };
  }
}

export interface FaultPhases {
  /** Blackhole both directions for `downMs` out of every `periodMs`, from `offsetMs`. */
  flap?: { periodMs: number; downMs: number; offsetMs?: number };
  /** At this virtual time every fault stops (the liveness phase). Default: never. */
  healAtMs?: number;
}

export interface LinkSummary {
  from: string;
  to: string;
  sent: number;
  delivered: number;
  dropped: Record<string, number>;
  duplicated: number;
  corrupted: number;
  reordered: number;
}

export interface EndpointSummary {
  sent: number;
  received: number;
  bytesSent: number;
  bytesReceived: number;
  rejected: Partial<Record<RejectReason, number>>;
  handshakes: { started: number; accepted: number; completed: number; failed: number };
}

/** Schedules the flaps and the healing of a duplex link. */
export function scheduleFaultPhases(
  sim: Simulator,
  forward: LinkHandle,
  reverse: LinkHandle,
  options: FaultPhases,
  maxVirtualMs: number,
): void {
  let healed = false;
  if (options.flap) {
    const { periodMs, downMs, offsetMs = 0 } = options.flap;
    const end = Math.min(options.healAtMs ?? maxVirtualMs, maxVirtualMs);
    for (let t = offsetMs; t < end; t += periodMs) {
      sim.at(t, () => {
        if (healed) return;
        forward.setBlackhole(true);
        reverse.setBlackhole(true);
      });
      sim.at(Math.min(t + downMs, end), () => {
        forward.setBlackhole(false);
        reverse.setBlackhole(false);
      });
    }
  }
  if (options.healAtMs !== undefined) {
    sim.at(options.healAtMs, () => {
      healed = true;
      const clean: LinkOptions = {
        loss: 0,
        duplicate: 0,
        reorder: 0,
        corrupt: 0,
        blackhole: false,
        jitterMs: 0,
      };
      forward.update({
        ...clean,
        gilbertElliott: { pGoodToBad: 0, pBadToGood: 1, lossGood: 0, lossBad: 0 },
      });
      reverse.update({
        ...clean,
        gilbertElliott: { pGoodToBad: 0, pBadToGood: 1, lossGood: 0, lossBad: 0 },
      });
    });
  }
}

/**
 * The fields every scenario's result shares: the seed and verdict (with the replay hint), time,
 * handshake, both endpoints' and every link's summary, and the steps the run took.
 */
export function scenarioResult(
  seed: number,
  failure: string | undefined,
  sim: Simulator,
  pattern: 'xx' | 'ik',
  handshakeMs: number | null,
  endpoints: { a: Endpoint; b: Endpoint },
  steps: number,
): ScenarioResult {
  const s = sim.stats();
  return {
    seed,
    verified: failure === undefined,
    ...(failure ? { failure: `${failure} (${replayHint(seed)})` } : {}),
    virtualMs: s.nowMs,
    pattern,
    handshakeMs,
    endpoints: {
      a: summarizeEndpoint(endpoints.a.stats()),
      b: summarizeEndpoint(endpoints.b.stats()),
    },
    links: s.links.map(summarizeLink),
    steps,
  };
}

export function summarizeEndpoint(s: EndpointStats): EndpointSummary {
  const rejected: Partial<Record<RejectReason, number>> = {};
  for (const r of REJECT_REASONS) if (s.rejected[r] > 0) rejected[r] = s.rejected[r];
  return {
    sent: s.datagramsSent,
    received: s.datagramsReceived,
    bytesSent: s.bytesSent,
    bytesReceived: s.bytesReceived,
    rejected,
    handshakes: {
      started: s.handshakesStarted,
      accepted: s.handshakesAccepted,
      completed: s.handshakesCompleted,
      failed: s.handshakesFailed,
    },
  };
}

export function summarizeLink(l: LinkStats): LinkSummary {
  const dropped: Record<string, number> = {};
  for (const [k, v] of Object.entries(l.dropped)) if (v > 0) dropped[k] = v;
  return {
    from: l.from,
    to: l.to,
    sent: l.sent,
    delivered: l.delivered,
    dropped,
    duplicated: l.duplicated,
    corrupted: l.corrupted,
    reordered: l.reordered,
  };
}
