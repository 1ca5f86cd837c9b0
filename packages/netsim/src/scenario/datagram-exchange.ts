/**
 * The simulated transfer: two hosts, one duplex link with faults, a Braid session between them,
 * and numbered messages sent as authenticated datagrams both ways until every one is
 * acknowledged. Used by `pnpm sim`, the simulation tests and the seed sweep.
 */
import { AppNode, type AppStats } from './app-node.js';
import {
  runToCompletion,
  setUpTwoHosts,
  scenarioResult,
  type EndpointSummary,
  type LinkSummary,
  type ScenarioResult,
  type TwoHostOptions,
} from './common.js';

export type { EndpointSummary, LinkSummary };

export { HOST_A, HOST_B } from './common.js';

export interface ExchangeOptions extends TwoHostOptions {
  /** Messages each side sends. Default 100. */
  messages?: number;
  /** Payload bytes per message (plus a 9-byte header). Default 1000, at most 1159. */
  messageBytes?: number;
}

/** `verified`: every message of both sides arrived intact, exactly as sent, none twice. */
export interface ExchangeResult extends ScenarioResult {
  messages: {
    perSide: number;
    bytesEach: number;
    deliveredAtB: number;
    deliveredAtA: number;
    appRetransmits: number;
    redelivered: number;
  };
  sessions: { dials: number; establishedAtA: number; establishedAtB: number };
}

/** Runs the exchange. Never throws for a protocol failure: it reports it in `failure`. */
export function runDatagramExchange(options: ExchangeOptions): ExchangeResult {
  const seed = options.seed >>> 0;
  const messages = options.messages ?? 100;
  const bytesEach = options.messageBytes ?? 1000;
  const pattern = options.pattern ?? 'xx';
  const maxVirtualMs = options.maxVirtualMs ?? 600_000;
  const { sim, a, b } = setUpTwoHosts(
    options,
    0x5eed_0001,
    maxVirtualMs,
    (side, endpoint, local, dial) =>
      new AppNode({
        name: side,
        endpoint,
        local,
        messages,
        messageBytes: bytesEach,
        salt: side === 'a' ? 1 : 2,
        peerSalt: side === 'a' ? 2 : 1,
        ...(dial ? { dial } : {}),
      }),
  );
  const done = () => a.done(messages) && b.done(messages);
  const run = runToCompletion(
    sim,
    done,
    maxVirtualMs,
    () =>
      `A delivered ${a.deliveredCount}/${messages}, B delivered ${b.deliveredCount}/${messages}`,
  );
  let failure = run.failure;
  const steps = run.steps;
  const dials = 1 + a.stats.redials;
  if (!failure && b.stats.sessionsEstablished > dials)
    failure = `duplicate session: B established ${b.stats.sessionsEstablished} sessions for ${dials} dials`;
  const handshakeMs = a.stats.handshakeMs.at(-1) ?? null;
  return {
    ...scenarioResult(
      seed,
      failure,
      sim,
      pattern,
      handshakeMs,
      { a: a.endpoint, b: b.endpoint },
      steps,
    ),
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
  };
}

export type { AppStats };
