/**
 * The simulated transfer: two hosts, one duplex link with faults, a Braid session between them,
 * and numbered messages sent as authenticated datagrams both ways until every one is
 * acknowledged. Used by `pnpm sim`, the simulation tests and the seed sweep.
 */
import {
  createSeededRandom,
  generateIdentity,
  REJECT_REASONS,
  type CryptoProvider,
  type EndpointOptions,
  type EndpointStats,
  type RejectReason,
} from '@braid/protocol';
import { replayHint } from '../errors.js';
import type { LinkOptions, LinkStats } from '../link.js';
import { Simulator } from '../simulator.js';
import { AppNode, type AppStats } from './app-node.js';

export const HOST_A = '198.51.100.1:4433';
export const HOST_B = '203.0.113.1:4433';

export interface ExchangeOptions {
  seed: number;
  crypto: CryptoProvider;
  /** Messages each side sends. Default 100. */
  messages?: number;
  /** Payload bytes per message (plus a 9-byte header). Default 1000, at most 1159. */
  messageBytes?: number;
  /** `ik` when the initiator knows the responder's static key. Default `xx`. */
  pattern?: 'xx' | 'ik';
  /** Faults of the A→B direction (and of B→A unless `reverse` is given). */
  link?: LinkOptions;
  /** Faults of the B→A direction. Default: same as `link`. */
  reverse?: LinkOptions;
  /** Blackhole both directions for `downMs` out of every `periodMs`, from `offsetMs`. */
  flap?: { periodMs: number; downMs: number; offsetMs?: number };
  /** At this virtual time every fault stops (the liveness phase). Default: never. */
  healAtMs?: number;
  /** The run fails if not done after this much virtual time. Default 600 000 ms. */
  maxVirtualMs?: number;
  /** Options passed to both endpoints (timeouts, limits). */
  endpoint?: Partial<EndpointOptions>;
}

export interface EndpointSummary {
  sent: number;
  received: number;
  bytesSent: number;
  bytesReceived: number;
  rejected: Partial<Record<RejectReason, number>>;
  handshakes: { started: number; accepted: number; completed: number; failed: number };
}

export interface ExchangeResult {
  seed: number;
  /** Every message of both sides arrived intact, exactly as sent; no safety check failed. */
  verified: boolean;
  /** Why `verified` is false (a safety violation or a liveness failure), with the replay hint. */
  failure?: string;
  virtualMs: number;
  pattern: 'xx' | 'ik';
  /** Initiator's handshake time of the session that carried the transfer, in virtual ms. */
  handshakeMs: number | null;
  messages: {
    perSide: number;
    bytesEach: number;
    deliveredAtB: number;
    deliveredAtA: number;
    appRetransmits: number;
    redelivered: number;
  };
  sessions: { dials: number; establishedAtA: number; establishedAtB: number };
  endpoints: { a: EndpointSummary; b: EndpointSummary };
  links: {
    from: string;
    to: string;
    sent: number;
    delivered: number;
    dropped: Record<string, number>;
    duplicated: number;
    corrupted: number;
    reordered: number;
  }[];
  steps: number;
}

function summarizeEndpoint(s: EndpointStats): EndpointSummary {
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

function summarizeLink(l: LinkStats) {
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

/** Runs the exchange. Never throws for a protocol failure: it reports it in `failure`. */
export function runDatagramExchange(options: ExchangeOptions): ExchangeResult {
  const seed = options.seed >>> 0;
  const messages = options.messages ?? 100;
  const bytesEach = options.messageBytes ?? 1000;
  const pattern = options.pattern ?? 'xx';
  const maxVirtualMs = options.maxVirtualMs ?? 600_000;
  const keys = createSeededRandom(seed ^ 0x5eed_0001);
  const idA = generateIdentity(options.crypto, keys);
  const idB = generateIdentity(options.crypto, keys);
  const base = { crypto: options.crypto, ...options.endpoint };
  const sim = new Simulator({ seed });
  const b = new AppNode({
    name: 'b',
    endpoint: { ...base, identity: idB, random: createSeededRandom(seed ^ 0xb0b) },
    local: HOST_B,
    messages,
    messageBytes: bytesEach,
    salt: 2,
    peerSalt: 1,
  });
  const a = new AppNode({
    name: 'a',
    endpoint: { ...base, identity: idA, random: createSeededRandom(seed ^ 0xa11ce) },
    local: HOST_A,
    messages,
    messageBytes: bytesEach,
    salt: 1,
    peerSalt: 2,
    dial: {
      eid: idB.eid,
      ...(pattern === 'ik' ? { staticKey: idB.publicKey } : {}),
      remote: HOST_B,
    },
  });
  sim.addNode('a', a, [HOST_A]);
  sim.addNode('b', b, [HOST_B]);
  const forward = sim.addLink(HOST_A, HOST_B, options.link ?? {});
  const reverse = sim.addLink(HOST_B, HOST_A, options.reverse ?? options.link ?? {});
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

  let failure: string | undefined;
  let steps = 0;
  try {
    const r = sim.run({ until: () => a.done(messages) && b.done(messages), maxVirtualMs });
    steps = r.steps;
    if (!(a.done(messages) && b.done(messages)))
      failure = `not done after ${r.nowMs} virtual ms (${r.stoppedBy}): A delivered ${a.deliveredCount}/${messages}, B delivered ${b.deliveredCount}/${messages}`;
  } catch (err) {
    failure = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
  const dials = 1 + a.stats.redials;
  if (!failure && b.stats.sessionsEstablished > dials)
    failure = `duplicate session: B established ${b.stats.sessionsEstablished} sessions for ${dials} dials`;
  const handshakeMs = a.stats.handshakeMs.at(-1) ?? null;
  const s = sim.stats();
  return {
    seed,
    verified: failure === undefined,
    ...(failure ? { failure: `${failure} (${replayHint(seed)})` } : {}),
    virtualMs: s.nowMs,
    pattern,
    handshakeMs,
    messages: {
      perSide: messages,
      bytesEach,
      deliveredAtB: b.deliveredCount,
      deliveredAtA: a.deliveredCount,
      appRetransmits: a.stats.appRetransmits + b.stats.appRetransmits,
      redelivered: a.stats.messagesRedelivered + b.stats.messagesRedelivered,
    },
    sessions: {
      dials,
      establishedAtA: a.stats.sessionsEstablished,
      establishedAtB: b.stats.sessionsEstablished,
    },
    endpoints: {
      a: summarizeEndpoint(a.endpoint.stats()),
      b: summarizeEndpoint(b.endpoint.stats()),
    },
    links: s.links.map(summarizeLink),
    steps,
  };
}

export type { AppStats };
