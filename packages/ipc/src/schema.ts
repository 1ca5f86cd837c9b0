/**
 * The Braid control protocol (version {@link IPC_PROTOCOL_VERSION}): the methods an SDK or CLI
 * calls on braidd and the events braidd pushes, each with the zod schema both sides validate
 * against. The shapes mirror `@braid/endpoint`'s `api.ts` (this package imports nothing of
 * Braid's, so they are restated here; the SDK's compile-time checks tie them together).
 */
import { z } from 'zod';
import { IPC_PROTOCOL_VERSION } from './messages.js';

/** Longest session id, EID, locator or reason string accepted. */
export const SHORT_TEXT_CHARS_MAX = 256;
/** Most locators in one peer entry or request. */
export const LOCATORS_MAX = 64;
/** Largest datagram payload carried (an endpoint's own limit is smaller). */
export const DATAGRAM_BYTES_MAX = 65_535;

const text = z.string().max(SHORT_TEXT_CHARS_MAX);
const nonEmptyText = z.string().min(1).max(SHORT_TEXT_CHARS_MAX);
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected bytes');
const count = z.number().int().nonnegative();
const sessionId = nonEmptyText;
/** Service names: 1–64 bytes of `[A-Za-z0-9._-]` (api.ts `SERVICE_NAME_PATTERN`). */
const service = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'a service name is 1–64 of A-Z a-z 0-9 . _ -');
const locators = z.array(nonEmptyText).max(LOCATORS_MAX);
const empty = z.strictObject({});
const nothing = z.null();
/** Any number, Infinity included (an unset slow-start threshold is Infinity). */
const anyNumber = z.custom<number>((v) => typeof v === 'number', 'expected a number');
/** Stats snapshots: flat records of numbers, strings and booleans (fields may be added). */
const statsRecord = z.record(z.string(), z.union([anyNumber, z.string(), z.boolean(), z.null()]));

export const streamPolicySchema = z.strictObject({
  mode: z.enum(['bulk', 'low-latency', 'redundant']).optional(),
  fec: z
    .union([
      z.enum(['off', 'auto']),
      z.strictObject({ k: z.number().int().min(1).max(255), m: z.number().int().min(0).max(255) }),
    ])
    .optional(),
});

export const pathStatsSchema = z.looseObject({
  id: count,
  local: text,
  remote: text,
  status: text,
  standby: z.boolean(),
  rttMs: anyNumber,
  cwndBytes: anyNumber,
  lossRate: anyNumber,
  bytesSent: anyNumber,
  bytesReceived: anyNumber,
});

export const sessionRefSchema = z.strictObject({
  id: sessionId,
  peer: nonEmptyText,
  role: z.enum(['initiator', 'responder']),
});

export const sessionSummarySchema = z.strictObject({
  id: sessionId,
  peer: text,
  role: z.enum(['initiator', 'responder']),
  state: text,
  paths: count,
  pathsUp: count,
  suspended: z.boolean(),
  stats: statsRecord,
});

export const nodeStatusSchema = z.strictObject({
  eid: nonEmptyText,
  locators: z.array(text),
  sessions: count,
  services: z.array(text),
  uptimeMs: z.number().nonnegative(),
  mode: z.enum(['embedded', 'daemon']),
  version: text,
  /** Daemon extras (absent in embedded mode). */
  pid: count.optional(),
  socketPath: text.optional(),
  metricsUrl: text.optional(),
});

export const peerEntrySchema = z.strictObject({
  eid: nonEmptyText,
  locators: z.array(text),
  source: z.enum(['config', 'learned', 'api']),
  connected: z.boolean(),
  name: text.optional(),
});

export const pingResultSchema = z.strictObject({
  pathId: count,
  local: text,
  remote: text,
  rttMs: z.number().nonnegative().optional(),
});

const withSession = { session: sessionId };

export const controlProtocol = {
  methods: {
    status: { params: empty, result: nodeStatusSchema },
    peers: { params: empty, result: z.array(peerEntrySchema) },
    addPeer: {
      params: z.strictObject({ eid: nonEmptyText, locators }),
      result: nothing,
    },
    sessions: { params: empty, result: z.array(sessionSummarySchema) },
    openSession: {
      params: z.strictObject({ peer: nonEmptyText, locators: locators.optional() }),
      result: sessionRefSchema,
    },
    listen: { params: z.strictObject({ service }), result: nothing },
    unlisten: { params: z.strictObject({ service }), result: nothing },
    sessionStats: { params: z.strictObject(withSession), result: statsRecord },
    sessionPaths: { params: z.strictObject(withSession), result: z.array(pathStatsSchema) },
    setPathDown: {
      params: z.strictObject({ ...withSession, pathId: count, down: z.boolean() }),
      result: nothing,
    },
    ping: {
      params: z.strictObject({
        ...withSession,
        timeoutMs: z.number().int().min(1).max(60_000).optional(),
      }),
      result: z.array(pingResultSchema),
    },
    closeSession: {
      params: z.strictObject({ ...withSession, reason: text.optional() }),
      result: nothing,
    },
    sendDatagram: {
      params: z.strictObject({
        ...withSession,
        data: bytes.refine((b) => b.length <= DATAGRAM_BYTES_MAX),
      }),
      result: nothing,
    },
    /** The response opens the stream (its `s` handle). */
    openStream: {
      params: z.strictObject({
        ...withSession,
        service,
        policy: streamPolicySchema.optional(),
      }),
      result: z.strictObject({ streamId: count, service }),
    },
  },
  events: {
    /** A session was established (either side opened it). */
    session: sessionRefSchema,
    path: z.strictObject({
      ...withSession,
      pathId: count,
      change: text,
      local: text,
      remote: text,
      reason: text,
    }),
    failover: z.strictObject({
      ...withSession,
      from: count,
      to: count,
      reason: text,
      detectMs: z.number(),
    }),
    suspended: z.strictObject(withSession),
    resumed: z.strictObject(withSession),
    datagram: z.strictObject({ ...withSession, data: bytes }),
    closed: z.strictObject({
      ...withSession,
      code: count,
      reason: text,
      byPeer: z.boolean(),
    }),
    /** A peer opened a stream to a service this client registered; the event opens the stream. */
    stream: z.strictObject({ ...withSession, service, streamId: count }),
    /** A service registration ended on the daemon's side (the listener failed). */
    serviceClosed: z.strictObject({ service, code: nonEmptyText, message: text }),
  },
} as const;

export type ControlProtocol = typeof controlProtocol;
export { IPC_PROTOCOL_VERSION };

/** The body of a control event, as validated. */
export type ControlEvent<E extends keyof ControlProtocol['events']> = z.output<
  ControlProtocol['events'][E]
>;
