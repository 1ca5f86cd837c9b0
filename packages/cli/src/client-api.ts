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
// SERVICE_NAME_PATTERN: checked before any connection is made, so a bad name is a usage error.
export { connect, defaultSocketPath, SERVICE_NAME_PATTERN } from '@braid/sdk';
