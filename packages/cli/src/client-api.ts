/**
 * What the CLI and the demo use of the application API (`@braid/sdk`, whose types are the
 * shared contract of `@braid/endpoint`'s api.ts), in one place.
 */
export type {
  BraidClient,
  BraidSession,
  BraidStream,
  NodeStatus,
  PeerEntry,
  PingResult,
  SessionSummary,
  ServiceListener,
} from '@braid/sdk';
export { connect, defaultSocketPath } from '@braid/sdk';

/**
 * Service names: 1–64 bytes of `[A-Za-z0-9._-]` (`SERVICE_NAME_PATTERN` of the endpoint's
 * api.ts, which the SDK exports as a type only); checked here so a bad name is a usage error
 * before any connection is made.
 */
export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
