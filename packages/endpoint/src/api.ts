/**
 * The application-facing API of Braid. Two implementations share it, so an application can
 * switch between them with one line: the embedded endpoint in this package (`UdpEndpoint`:
 * UDP sockets in the app's own process) and the SDK's daemon client (`@braid/sdk` `connect()`,
 * the same calls carried over braidd's control socket).
 *
 * Identities are EIDs in their text form (`braid1…`); locators are `host:port` strings
 * (`[v6]:port` for IPv6). Every call that can wait takes an `AbortSignal`.
 */
import type { Duplex } from 'node:stream';
import type { PathStats, SessionStats, StreamPolicy } from '@braid/protocol';

/** Service names: 1–64 bytes of `[A-Za-z0-9._-]`. */
export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export interface Abortable {
  signal?: AbortSignal;
}

export interface OpenSessionOptions extends Abortable {
  /** Locators to try for the peer, on top of what the peer directory knows. */
  locators?: string[];
}

export interface OpenStreamOptions extends Abortable {
  /** Scheduling and FEC policy of the stream (default: bulk, FEC off). */
  policy?: Partial<StreamPolicy>;
}

/** One line per session, as `braid sessions` prints it. */
export interface SessionSummary {
  id: string;
  peer: string;
  role: 'initiator' | 'responder';
  state: string;
  paths: number;
  pathsUp: number;
  suspended: boolean;
  stats: SessionStats;
}

/** What `braid status` prints. */
export interface NodeStatus {
  eid: string;
  /** Local locators with a bound socket. */
  locators: string[];
  sessions: number;
  services: string[];
  uptimeMs: number;
  /** `embedded` or `daemon`. */
  mode: 'embedded' | 'daemon';
  version: string;
}

export interface PeerEntry {
  eid: string;
  locators: string[];
  /** Where the entry came from. */
  source: 'config' | 'learned' | 'api';
  connected: boolean;
}

export interface PingResult {
  pathId: number;
  local: string;
  remote: string;
  /** Round trip of one PING on this path; undefined if it was not answered in time. */
  rttMs: number | undefined;
}

export type SessionEvents = {
  /** A path was added, validated, went up, suspect, down, recovered, rebound or removed. */
  path: [{ pathId: number; change: string; local: string; remote: string; reason: string }];
  failover: [{ from: number; to: number; reason: string; detectMs: number }];
  suspended: [];
  resumed: [];
  /** An unreliable datagram for this session's `datagram` subscribers. */
  datagram: [data: Uint8Array];
  closed: [{ code: number; reason: string; byPeer: boolean }];
};

export interface BraidSession {
  readonly id: string;
  /** The peer's EID. */
  readonly peer: string;
  /**
   * Opens a stream to `service` on the peer. Resolves once the peer's side accepted it;
   * rejects with `ERR_BRAID_SERVICE_UNKNOWN` (nobody registered the service) or
   * `ERR_BRAID_SERVICE_REFUSED`.
   */
  openStream(service: string, options?: OpenStreamOptions): Promise<BraidStream>;
  /** Sends an unreliable datagram (at most `maxDatagramBytes`). */
  sendDatagram(data: Uint8Array): void;
  stats(options?: Abortable): Promise<SessionStats>;
  paths(options?: Abortable): Promise<PathStats[]>;
  /** Administratively blackholes (`true`) or restores a path: for testing failover. */
  setPathDown(pathId: number, down: boolean, options?: Abortable): Promise<void>;
  /** One PING per usable path; resolves when all are answered or `timeoutMs` passes. */
  ping(options?: Abortable & { timeoutMs?: number }): Promise<PingResult[]>;
  close(reason?: string): Promise<void>;
  on<E extends keyof SessionEvents>(event: E, listener: (...args: SessionEvents[E]) => void): this;
  off<E extends keyof SessionEvents>(event: E, listener: (...args: SessionEvents[E]) => void): this;
}

/** A reliable, ordered byte stream to one service on the peer; a `Duplex` with backpressure. */
export interface BraidStream extends Duplex {
  readonly streamId: number;
  readonly service: string;
  readonly session: BraidSession;
}

export type ServiceEvents = {
  stream: [stream: BraidStream];
  error: [error: Error];
  close: [];
};

/** Incoming streams for one registered service. */
export interface ServiceListener extends AsyncIterable<BraidStream> {
  readonly service: string;
  close(): Promise<void>;
  on<E extends keyof ServiceEvents>(event: E, listener: (...args: ServiceEvents[E]) => void): this;
  off<E extends keyof ServiceEvents>(event: E, listener: (...args: ServiceEvents[E]) => void): this;
}

export type ClientEvents = {
  /** A session was established (either side opened it). */
  session: [session: BraidSession];
  error: [error: Error];
};

export interface BraidClient {
  readonly eid: string;
  readonly mode: 'embedded' | 'daemon';
  /** Returns the open session to `peer`, or opens one. */
  openSession(peer: string, options?: OpenSessionOptions): Promise<BraidSession>;
  /** Registers `service`: streams the peers open to it arrive on the listener. */
  listen(service: string, options?: Abortable): Promise<ServiceListener>;
  sessions(options?: Abortable): Promise<SessionSummary[]>;
  session(id: string): BraidSession | undefined;
  status(options?: Abortable): Promise<NodeStatus>;
  peers(options?: Abortable): Promise<PeerEntry[]>;
  addPeer(eid: string, locators: string[], options?: Abortable): Promise<void>;
  /**
   * Lets the process exit while this client is all that is left to do (embedded: its UDP
   * sockets and timer; daemon mode: its connection to braidd), as `net.Socket.unref()` does.
   * Work under way is not waited for. Returns the client.
   */
  unref(): this;
  /** Undoes {@link unref}: the client holds the process again (the default). */
  ref(): this;
  close(): Promise<void>;
  on<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): this;
  off<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): this;
}
