/**
 * `UdpEndpoint`: the embedded runtime. It owns one UDP socket per local address, the clock and
 * the one timer, and drives `@braid/protocol`'s sans-IO `Endpoint` with them; it implements the
 * application API (`BraidClient`, mode `embedded`).
 *
 * The loop (quinn's driver, in Node terms):
 * - A datagram arrives on a socket → `handleDatagram(now, { local, remote }, bytes)` at once.
 *   A command (stream write, open, close…) goes to the protocol at once too.
 * - Either marks the endpoint dirty; one drain per event-loop turn (`setImmediate`) then runs
 *   `handleTimeout` for whatever is due, hands out up to {@link UdpEndpointOptions.eventsPerTurn}
 *   events and sends up to {@link UdpEndpointOptions.transmitsPerTurn} datagrams; if more
 *   remain it continues on the next turn, so receiving (and the application) get their turn.
 * - One timer is armed for `pollTimeout()` after every drain (kept if an earlier one is already
 *   armed: an early wake-up finds nothing due and re-arms). A deadline under the timer's 1 ms
 *   resolution (pacing, at tens of Mbit/s) waits the 1 ms: the pacer's bucket holds 2 ms of
 *   the rate, so a tick sends what accrued. Spinning on `setImmediate` until such a deadline
 *   instead cost a core's worth of idle turns on a 100 Mbit/s path.
 *
 * Addresses: the sockets' locators are the protocol's local addresses. A send error that says
 * the address is unusable (EADDRNOTAVAIL) removes it at once (`removeLocalAddress`: its paths go
 * down and their data moves). One that says there is no route to the destination (ENETUNREACH,
 * EHOSTUNREACH, ENETDOWN) takes down the path on that pair only (`pathUnreachable`): with two
 * links, the first one's failure makes the second address's cross path to the peer's first
 * address unroutable, and that says nothing about the second address. `os.networkInterfaces()`
 * is polled every `addressPollMs` to see addresses disappear and (re)appear.
 */
import { TypedEmitter } from './typed-emitter.js';
import { createRequire } from 'node:module';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  CloseCode,
  Eid,
  Endpoint,
  generateIdentity,
  HandshakeTimeoutError,
  identityFromSecretKey,
  InvalidKeyError,
  InvalidOptionError,
  SessionClosedError,
  X25519_KEY_BYTES,
  type CryptoProvider,
  type EndpointEvent,
  type EndpointOptions,
  type EndpointStats,
  type Identity,
  type PathTuple,
  type Random,
  type Transmit,
} from '@braid/protocol';
import { pino, type Logger } from 'pino';
import type {
  Abortable,
  BraidClient,
  ClientEvents,
  NodeStatus,
  OpenSessionOptions,
  PeerEntry,
  ServiceListener,
  SessionSummary,
} from './api.js';
import { abortable, throwIfAborted } from './abort.js';
import { selectCrypto, type CryptoChoice } from './crypto/select.js';
import {
  AddressInUseError,
  BindError,
  EndpointClosedError,
  LimitError,
  LocatorError,
  NoRouteError,
  PeerUnknownError,
  ServiceInUseError,
} from './errors.js';
import { bindableAddresses, localAddresses, type InterfaceList } from './interfaces.js';
import {
  defaultPathFilter,
  formatLocator,
  isWildcardHost,
  parseLocator,
  type ParsedLocator,
} from './locator.js';
import { createSecureRandom } from './random.js';
import { checkServiceName } from './service-header.js';
import { EmbeddedServiceListener, SERVICE_BACKLOG_DEFAULT } from './service-listener.js';
import { EmbeddedSession, type SessionRuntime } from './session.js';
import { openSocketIo, type SocketImplementation, type SocketIo } from './socket-io.js';
import { STREAM_HIGH_WATER_MARK_BYTES } from './stream.js';

const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** Sockets per endpoint at most (configured and discovered). */
export const SOCKETS_MAX = 64;
/** Peer directory entries at most; the oldest learned entries give way first. */
export const PEERS_MAX = 4096;
/** Locators kept per peer entry (the newest). */
export const PEER_LOCATORS_MAX = 16;
/** (local, remote) pairs one `openSession` tries at most. */
export const CONNECT_ATTEMPTS_MAX = 8;
/** Consecutive turns spent waiting for a deadline under the timer's resolution before falling back to a 1 ms timer. */
export const SPIN_TURNS_MAX = 1000;
/** Wait for sends handed to the kernel to complete when closing, at most. */
export const CLOSE_SEND_WAIT_MS = 100;
/**
 * Datagrams a native socket holds while its kernel buffer is full. At this bound the loop stops
 * taking datagrams from the protocol (whose congestion control then holds the rest) until the
 * socket can send again.
 */
export const SOCKET_QUEUE_MAX = 512;
/** Send errors meaning "this local address cannot be used right now". */
export const ADDRESS_GONE_ERRORS: ReadonlySet<string> = new Set(['EADDRNOTAVAIL']);
/**
 * Send errors meaning "no route from this address to that destination": the path on that pair
 * goes down, not the address (its paths to other destinations may work).
 */
export const NO_ROUTE_ERRORS: ReadonlySet<string> = new Set([
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
]);

/** Bind one socket to every local address (and watch for new ones). */
export interface BindAll {
  all: true;
  /** Port of every socket; 0 (default) gives each its own ephemeral port. */
  port?: number;
  /** Include loopback addresses (default false: a peer elsewhere cannot use them). */
  loopback?: boolean;
  /** Include link-local IPv6 addresses, bound with their `%interface` scope (default false). */
  linkLocal?: boolean;
}

export interface PeerConfig {
  /** The peer's EID (`braid1…`). */
  eid: string;
  /** Where to reach it: `host:port` / `[v6]:port`, IP literals. */
  locators: string[];
  /** Its static X25519 public key, if known: sessions to it then use Noise IK (1 RTT, hides nothing of ours). */
  staticKey?: Uint8Array;
}

/** Options of the protocol core passed through as they are (scheduler, probe intervals…). */
export type ProtocolOptions = Omit<
  EndpointOptions,
  | 'identity'
  | 'crypto'
  | 'random'
  | 'localAddresses'
  | 'acceptPeer'
  | 'receivedDatagramsOwned'
  | 'borrowedTransmits'
>;

export interface UdpEndpointOptions extends ProtocolOptions {
  /** Static X25519 secret key (32 bytes). Default: a new random key (a new EID each start). */
  secretKey?: Uint8Array;
  /**
   * Local locators to bind (`host:port`, port 0 = ephemeral; IP literals, no wildcard), or
   * `{ all: true, port }` for one socket per local address. Default `{ all: true, port: 0 }`.
   */
  bind?: string[] | BindAll;
  /** The peer directory `openSession` starts from. Default: empty. */
  peers?: PeerConfig[];
  /** Whether a peer may open a session to us, by EID. Default: every peer (open mode). */
  acceptPeer?: (eid: string) => boolean;
  /** Structured logs (pino). Default: silent. */
  logger?: Logger;
  /**
   * Crypto backend: `'libsodium'` (libsodium-wrappers, WebAssembly), `'sodium-native'` (addon;
   * fails if it does not load), `'auto'` (sodium-native when it loads and a short measurement
   * shows it faster, else libsodium), or a provider object. Default `'auto'`.
   */
  crypto?: CryptoChoice | CryptoProvider;
  /** How often `os.networkInterfaces()` is read for addresses appearing or disappearing (ms). Default 2000. */
  addressPollMs?: number;
  /** Cap of the wait before an address removed after send errors is tried again; the wait doubles from `addressPollMs` each time it fails again. Default 30 000 ms. */
  addressHolddownMaxMs?: number;
  /** `openSession` fails with ERR_BRAID_HANDSHAKE_TIMEOUT after this long. Default 15 000 ms. */
  connectTimeoutMs?: number;
  /** With several (local, remote) pairs to try, the next one starts after this long without a session. Default 1000 ms. */
  connectAttemptDelayMs?: number;
  /** `close()` (of the endpoint or a session) waits this long for streams to drain, then closes at once. Default 2000 ms. */
  closeTimeoutMs?: number;
  /** SO_RCVBUF and SO_SNDBUF asked of each socket (the kernel may cap them). Default 4 MiB. */
  socketBufferBytes?: number;
  /**
   * UDP sockets: `native` (@braid/dgram-ext, Linux: datagrams sent as UDP GSO trains and read
   * with recvmmsg and GRO; fails when the addon is not built), `dgram` (node:dgram, one syscall
   * per datagram), or `auto`: native where it loads, else dgram. Sockets on a link-local
   * address (`%scope`) are always dgram. Default `auto`.
   */
  udpSockets?: 'auto' | SocketImplementation;
  /** Datagrams sent per event-loop turn at most. Default 256. */
  transmitsPerTurn?: number;
  /** Protocol events handled per event-loop turn at most. Default 4096. */
  eventsPerTurn?: number;
  /** Streams accepted for a service and not yet taken, per listener. Default 128. */
  listenBacklog?: number;
  /** High-water mark of each stream's readable and writable side. Default 64 KiB. */
  streamHighWaterMarkBytes?: number;
  /** Source of the interface list (tests). Default `os.networkInterfaces`. */
  networkInterfaces?: () => InterfaceList;
  /** Randomness for connection IDs and keys (tests). Default: the OS CSPRNG. */
  random?: Random;
}

export type UdpEndpointEvents = ClientEvents & {
  /** A local address was added to or removed from the protocol, and why. */
  address: [{ locator: string; change: 'added' | 'removed'; reason: string }];
};

/** What `stats()` returns: the protocol's counters and the runtime's. */
export interface UdpEndpointStats extends EndpointStats {
  crypto: string;
  sockets: SocketStats[];
  /** Datagrams the protocol produced for a locator without a socket (address just removed). */
  unroutableTransmits: number;
  /** Send errors other than "address gone" (EINVAL, EPERM, ENOBUFS…). */
  sendErrors: number;
  /** Errors caught in the loop (a bug, or an application listener that threw). */
  internalErrors: number;
}

export interface SocketStats {
  locator: string;
  /** `native` (@braid/dgram-ext: GSO trains, GRO reads) or `dgram` (node:dgram). */
  implementation: SocketImplementation;
  /** The protocol currently has this address. */
  advertised: boolean;
  datagramsSent: number;
  datagramsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  sendErrors: number;
}

interface BoundSocket {
  readonly locator: string;
  readonly host: string;
  readonly family: 4 | 6;
  readonly socket: SocketIo;
  readonly origin: 'configured' | 'discovered';
  /** Its address shows in the interface list, so its disappearance can be seen there. */
  readonly watched: boolean;
  advertised: boolean;
  closed: boolean;
  goneAtMs: number;
  /** Wait before trying the address again after it was removed; doubles, reset by traffic. */
  holddownMs: number;
  /** The last sender's address and its locator text. */
  /** The last sender, and the tuple its datagrams go to the protocol with (never changed). */
  lastRemote: { address: string; port: number; tuple: PathTuple };
  /** The last destination's locator, parsed. */
  lastTo: { locator: string; host: string; port: number };
  stats: SocketStats;
}

interface ConnectGroup {
  readonly peer: string;
  readonly eid: Eid;
  readonly staticKey: Uint8Array | undefined;
  readonly pairs: [string, string][];
  next: number;
  readonly live: Set<number>;
  settled: boolean;
  waiters: number;
  lastError: Error | undefined;
  staggerTimer: NodeJS.Timeout | undefined;
  deadlineTimer: NodeJS.Timeout | undefined;
  readonly promise: Promise<EmbeddedSession>;
  resolve: (s: EmbeddedSession) => void;
  reject: (e: Error) => void;
}

interface PeerRecord {
  eid: string;
  locators: string[];
  staticKey: Uint8Array | undefined;
  source: PeerEntry['source'];
}

function positive(name: string, v: number | undefined, dflt: number): number {
  const value = v ?? dflt;
  if (!Number.isFinite(value) || value <= 0)
    throw new InvalidOptionError(`${name} must be a positive number, got ${String(v)}`);
  return value;
}

/** A fresh static secret key, for callers that store their identity (the daemon). */
export function generateSecretKey(random: Random = createSecureRandom()): Uint8Array {
  const key = new Uint8Array(X25519_KEY_BYTES);
  random.fill(key);
  return key;
}

/** A blocked socket whose queue is at its bound: taking datagrams from the protocol waits. */
function full(sock: BoundSocket): boolean {
  return sock.socket.blocked && sock.socket.queued >= SOCKET_QUEUE_MAX;
}

/** Opens an embedded endpoint: binds its sockets, then starts the loop. */
export async function openEndpoint(options: UdpEndpointOptions = {}): Promise<UdpEndpoint> {
  const logger = options.logger ?? pino({ level: 'silent' });
  let crypto: CryptoProvider;
  if (typeof options.crypto === 'object') crypto = options.crypto;
  else {
    const chosen = await selectCrypto(options.crypto ?? 'auto');
    logger.info({ crypto: chosen.provider.name, reason: chosen.reason }, 'crypto backend');
    crypto = chosen.provider;
  }
  const random = options.random ?? createSecureRandom();
  if (options.secretKey !== undefined && options.secretKey.length !== X25519_KEY_BYTES)
    throw new InvalidKeyError(
      `secretKey must be ${X25519_KEY_BYTES} bytes, got ${options.secretKey.length}`,
    );
  const identity = options.secretKey
    ? identityFromSecretKey(crypto, options.secretKey)
    : generateIdentity(crypto, random);
  const endpoint = new UdpEndpoint(options, identity, crypto, random, logger);
  try {
    await endpoint.start();
  } catch (err) {
    await endpoint.close();
    throw err;
  }
  return endpoint;
}

export class UdpEndpoint extends TypedEmitter<UdpEndpointEvents> implements BraidClient {
  readonly mode = 'embedded' as const;
  readonly eid: string;
  readonly logger: Logger;
  private core!: Endpoint;
  private readonly sockets = new Map<string, BoundSocket>();
  /** Discovered addresses being bound now (not yet in `sockets`). */
  private readonly binding = new Set<string>();
  private readonly bySid = new Map<number, EmbeddedSession>();
  private readonly byId = new Map<string, EmbeddedSession>();
  private readonly byPeer = new Map<string, EmbeddedSession>();
  private readonly attempts = new Map<number, ConnectGroup>();
  private readonly connecting = new Map<string, ConnectGroup>();
  private readonly services = new Map<string, EmbeddedServiceListener>();
  private readonly directory = new Map<string, PeerRecord>();
  private state: 'starting' | 'open' | 'closing' | 'closed' = 'starting';
  private closing: Promise<void> | undefined;
  private flushQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAtMs = Infinity;
  private spinTurns = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  /** Whether the sockets and the protocol's timer hold the process (see {@link unref}). */
  private refed = true;
  private readonly startedMs = performance.now();
  private readonly counters = {
    unroutableTransmits: 0,
    sendErrors: 0,
    internalErrors: 0,
  };
  private readonly runtime: SessionRuntime;

  // Options, validated.
  private readonly addressPollMs: number;
  private readonly addressHolddownMaxMs: number;
  private readonly connectTimeoutMs: number;
  private readonly connectAttemptDelayMs: number;
  private readonly closeTimeoutMs: number;
  private readonly socketBufferBytes: number;
  private readonly udpSockets: 'auto' | SocketImplementation;
  private readonly transmitsPerTurn: number;
  private readonly eventsPerTurn: number;
  private readonly listenBacklog: number;
  private readonly pathFilter: (local: string, remote: string) => boolean;
  private readonly listInterfaces: () => InterfaceList;

  /** Use {@link openEndpoint}. */
  constructor(
    private readonly options: UdpEndpointOptions,
    private readonly identity: Identity,
    readonly crypto: CryptoProvider,
    private readonly random: Random,
    logger: Logger,
  ) {
    super();
    this.eid = identity.eid.toString();
    this.logger = logger.child({ eid: identity.eid.short });
    this.addressPollMs = positive('addressPollMs', options.addressPollMs, 2000);
    this.addressHolddownMaxMs = positive(
      'addressHolddownMaxMs',
      options.addressHolddownMaxMs,
      30_000,
    );
    this.connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs, 15_000);
    this.connectAttemptDelayMs = positive(
      'connectAttemptDelayMs',
      options.connectAttemptDelayMs,
      1000,
    );
    this.closeTimeoutMs = positive('closeTimeoutMs', options.closeTimeoutMs, 2000);
    this.socketBufferBytes = positive('socketBufferBytes', options.socketBufferBytes, 4 << 20);
    const udp = options.udpSockets ?? 'auto';
    if (udp !== 'auto' && udp !== 'native' && udp !== 'dgram')
      throw new InvalidOptionError(
        `udpSockets must be 'auto', 'native' or 'dgram', got ${String(udp as unknown)}`,
      );
    this.udpSockets = udp;
    this.transmitsPerTurn = positive('transmitsPerTurn', options.transmitsPerTurn, 256);
    this.eventsPerTurn = positive('eventsPerTurn', options.eventsPerTurn, 4096);
    this.listenBacklog = positive('listenBacklog', options.listenBacklog, SERVICE_BACKLOG_DEFAULT);
    this.pathFilter = options.pathFilter ?? defaultPathFilter;
    this.listInterfaces = options.networkInterfaces ?? (() => os.networkInterfaces());
    for (const p of options.peers ?? []) this.putPeer(p.eid, p.locators, 'config', p.staticKey);
    const streamHighWaterMarkBytes = positive(
      'streamHighWaterMarkBytes',
      options.streamHighWaterMarkBytes,
      STREAM_HIGH_WATER_MARK_BYTES,
    );
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.runtime = {
      get core() {
        return self.core;
      },
      logger: this.logger,
      streamHighWaterMarkBytes,
      closeTimeoutMs: this.closeTimeoutMs,
      now: () => performance.now(),
      kick: () => this.kick(),
      listener: (service) => this.services.get(service),
      forget: (session) => this.forgetSession(session),
    };
  }

  /** The static public key (share it with peers so they can use IK). */
  get publicKey(): Uint8Array {
    return this.identity.publicKey.slice();
  }

  /** Locators with a bound socket that the protocol currently uses. */
  get locators(): string[] {
    return [...this.sockets.values()].filter((s) => s.advertised).map((s) => s.locator);
  }

  // ---- start ----------------------------------------------------------------------------

  /** @internal Binds the sockets and creates the protocol endpoint (see {@link openEndpoint}). */
  async start(): Promise<void> {
    const bind = this.bindOption;
    if (Array.isArray(bind)) {
      const seen = new Set<string>();
      const listed = new Set(localAddresses(this.safeInterfaces()).map((a) => a.host));
      for (const locator of bind) {
        const parsed = parseLocator(locator);
        if (isWildcardHost(parsed.host))
          throw new LocatorError(
            `cannot bind the wildcard ${locator}: a peer cannot reach it; bind addresses, or use { all: true, port: ${parsed.port} }`,
          );
        if (seen.has(locator)) continue;
        seen.add(locator);
        await this.bindSocket(parsed, 'configured', listed.has(parsed.host));
      }
    } else {
      if (bind.all !== true)
        throw new InvalidOptionError('bind must be a list of locators or { all: true }');
      const port = bind.port ?? 0;
      if (!Number.isInteger(port) || port < 0 || port > 65_535)
        throw new InvalidOptionError(`bind.port must be in 0..65535, got ${String(bind.port)}`);
      for (const a of this.bindable()) {
        if (this.sockets.size >= SOCKETS_MAX) break;
        await this.bindSocket({ host: a.host, port, family: a.family }, 'discovered', true);
      }
      if (this.sockets.size === 0)
        this.logger.warn('no local address to bind yet; waiting for one to appear');
    }
    const {
      // The runtime's own options; the rest goes to the protocol.
      secretKey: _secretKey,
      bind: _bind,
      peers: _peers,
      acceptPeer,
      logger: _logger,
      crypto: _crypto,
      addressPollMs: _addressPollMs,
      addressHolddownMaxMs: _addressHolddownMaxMs,
      connectTimeoutMs: _connectTimeoutMs,
      connectAttemptDelayMs: _connectAttemptDelayMs,
      closeTimeoutMs: _closeTimeoutMs,
      socketBufferBytes: _socketBufferBytes,
      udpSockets: _udpSockets,
      transmitsPerTurn: _transmitsPerTurn,
      eventsPerTurn: _eventsPerTurn,
      listenBacklog: _listenBacklog,
      streamHighWaterMarkBytes: _streamHighWaterMarkBytes,
      networkInterfaces: _networkInterfaces,
      random: _random,
      ...protocol
    } = this.options;
    this.core = new Endpoint({
      ...protocol,
      identity: this.identity,
      crypto: this.crypto,
      random: this.random,
      localAddresses: this.locators,
      pathFilter: this.pathFilter,
      // Every datagram a socket delivers is a fresh copy that nothing else reads, and a socket
      // copies each datagram it is handed before `send` returns (drainTransmits).
      receivedDatagramsOwned: true,
      borrowedTransmits: true,
      ...(acceptPeer ? { acceptPeer: (eid: Eid) => acceptPeer(eid.toString()) } : {}),
    });
    this.state = 'open';
    this.pollTimer = setInterval(() => this.pollAddresses(), this.addressPollMs);
    this.pollTimer.unref();
    this.logger.info({ locators: this.locators, crypto: this.crypto.name }, 'endpoint open');
  }

  private safeInterfaces(): InterfaceList {
    try {
      return this.listInterfaces();
    } catch (err) {
      this.logger.warn({ err }, 'cannot list network interfaces');
      return {};
    }
  }

  /** What `bind` says, with its default. */
  private get bindOption(): string[] | BindAll {
    return this.options.bind ?? { all: true, port: 0 };
  }

  private bindable() {
    const bind = this.bindOption;
    if (Array.isArray(bind)) return [];
    return bindableAddresses(this.safeInterfaces(), {
      loopback: bind.loopback ?? false,
      linkLocal: bind.linkLocal ?? false,
    });
  }

  private async bindSocket(
    at: ParsedLocator,
    origin: BoundSocket['origin'],
    watched: boolean,
  ): Promise<BoundSocket> {
    const wanted = formatLocator(at.host, at.port, at.family);
    if (this.sockets.size >= SOCKETS_MAX)
      throw new LimitError(`cannot bind ${wanted}: ${SOCKETS_MAX} sockets already`);
    // Filled in once bound; the socket calls its handlers only after it is returned.
    const bound: { sock?: BoundSocket } = {};
    let socket: SocketIo;
    try {
      socket = await openSocketIo({
        family: at.family,
        host: at.host,
        port: at.port,
        bufferBytes: this.socketBufferBytes,
        // node:dgram carries an address's %scope; the addon's numeric parsing does not.
        implementation: at.host.includes('%') ? 'dgram' : this.udpSockets,
        onBufferError: (err) => this.logger.debug({ err }, 'socket buffer size not set'),
        handlers: {
          onDatagram: (bytes, address, port) => this.onDatagram(bound.sock!, bytes, address, port),
          onReceived: () => this.kick(),
          onSent: (datagrams, bytes) => {
            bound.sock!.stats.datagramsSent += datagrams;
            bound.sock!.stats.bytesSent += bytes;
          },
          onError: (err) => this.onSendError(bound.sock!, err),
          onWritable: () => this.kick(),
        },
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new AddressInUseError(wanted, { cause: err });
      throw new BindError(`cannot bind ${wanted}: ${(err as Error).message}`, { cause: err });
    }
    if (!this.refed) socket.unref();
    const locator = formatLocator(at.host, socket.port, at.family);
    const sock: BoundSocket = {
      locator,
      host: at.host,
      family: at.family,
      socket,
      origin,
      watched,
      advertised: true,
      closed: false,
      goneAtMs: 0,
      holddownMs: this.addressPollMs,
      lastRemote: { address: '', port: -1, tuple: { local: locator, remote: '' } },
      lastTo: { locator: '', host: '', port: 0 },
      stats: {
        locator,
        implementation: socket.implementation,
        advertised: true,
        datagramsSent: 0,
        datagramsReceived: 0,
        bytesSent: 0,
        bytesReceived: 0,
        sendErrors: 0,
      },
    };
    bound.sock = sock;
    this.sockets.set(locator, sock);
    this.logger.info({ locator, origin, implementation: socket.implementation }, 'socket bound');
    return sock;
  }

  // ---- the loop -------------------------------------------------------------------------

  private now(): number {
    return performance.now();
  }

  private kick(): void {
    if (this.flushQueued || this.state === 'closed' || this.state === 'starting') return;
    this.flushQueued = true;
    setImmediate(this.flushTurn);
  }

  private readonly flushTurn = (): void => {
    this.flushQueued = false;
    if (this.state === 'closed') return;
    const now = this.now();
    this.guard('handleTimeout', () => this.core.handleTimeout(now));
    const events = this.drainEvents(this.eventsPerTurn);
    const transmits = this.drainTransmits(this.transmitsPerTurn);
    if (events === this.eventsPerTurn || transmits === this.transmitsPerTurn) this.kick();
    this.armTimer(this.now(), events + transmits > 0);
  };

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAtMs = Infinity;
    this.flushTurn();
  };

  /** `progress`: the turn handled an event or sent a datagram. */
  private armTimer(now: number, progress: boolean): void {
    if (this.state === 'closed') return;
    const deadline = this.core.pollTimeout();
    if (deadline === undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAtMs = Infinity;
      return;
    }
    if (deadline <= now && this.socketFull) {
      // Datagrams wait for a full socket: its writability starts the next turn. The 1 ms timer
      // below is only a backstop (the protocol's timers still run), never a busy loop.
    } else if (deadline <= now) {
      // Due already (work left over from this turn): the next turn handles it. A deadline that
      // stays due without anything happening is a bug; after SPIN_TURNS_MAX such turns it gets
      // 1 ms timers instead of a busy loop.
      if (progress) this.spinTurns = 0;
      if (this.spinTurns++ < SPIN_TURNS_MAX) {
        this.kick();
        return;
      }
      if (this.spinTurns === SPIN_TURNS_MAX + 1)
        this.logger.warn({ deadline, now }, 'a protocol deadline stays due; polling every 1 ms');
    } else this.spinTurns = 0;
    if (this.timer !== undefined && this.timerAtMs <= deadline) return;
    clearTimeout(this.timer);
    this.timerAtMs = deadline;
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(deadline - now)));
    if (!this.refed) this.timer.unref();
  }

  /** Hands out up to `max` events; returns how many. */
  private drainEvents(max: number): number {
    for (let i = 0; i < max; i++) {
      const e = this.core.pollEvent();
      if (!e) return i;
      try {
        this.dispatch(e);
      } catch (err) {
        this.loopError(e.type, err);
      }
    }
    return max;
  }

  /**
   * Takes up to `max` datagrams from the protocol and hands them to their sockets; returns how
   * many. The clock is read for each: the pacer must see the time the turn takes. The native
   * sockets send theirs at the end, as trains (one syscall for up to 64 datagrams). A socket
   * whose kernel buffer is full holds at most {@link SOCKET_QUEUE_MAX} datagrams: at that, the
   * turn stops taking more, and the socket's writability starts the next one.
   */
  private drainTransmits(max: number): number {
    let i = 0;
    let room = !this.socketFull;
    while (room && i < max) {
      const t = this.core.pollTransmit(this.now());
      if (!t) break;
      i++;
      // Only the socket just used can have reached its bound.
      const sock = this.send(t);
      room = !(sock && full(sock));
    }
    for (const sock of this.sockets.values()) if (sock.socket.queued > 0) sock.socket.flush();
    return i;
  }

  /** A blocked socket's queue is at its bound: taking more from the protocol waits. */
  private get socketFull(): boolean {
    for (const sock of this.sockets.values()) if (full(sock)) return true;
    return false;
  }

  /** Hands `t` to its socket, which it returns (undefined: no socket to send it from). */
  private send(t: Transmit): BoundSocket | undefined {
    const sock = this.sockets.get(t.from);
    if (!sock || sock.closed) {
      this.counters.unroutableTransmits++;
      return undefined;
    }
    const to = sock.lastTo;
    if (to.locator !== t.to) {
      let parsed: ParsedLocator;
      try {
        parsed = parseLocator(t.to);
      } catch {
        // A locator the peer advertised that is not an address.
        this.counters.unroutableTransmits++;
        return undefined;
      }
      sock.lastTo = { locator: t.to, host: parsed.host, port: parsed.port };
    }
    sock.socket.enqueue(t.bytes, sock.lastTo.host, sock.lastTo.port);
    return sock;
  }

  private onDatagram(sock: BoundSocket, bytes: Uint8Array, address: string, port: number): void {
    if (this.state === 'closed' || this.state === 'starting') return;
    sock.stats.datagramsReceived++;
    sock.stats.bytesReceived += bytes.length;
    // Traffic on an address we use: it works, so the next removal waits the shortest again.
    if (sock.advertised) sock.holddownMs = this.addressPollMs;
    // The peer's locator and the tuple, reused while it sends from the same address (no string
    // or object per packet).
    let last = sock.lastRemote;
    if (last.port !== port || last.address !== address) {
      const remote = formatLocator(address, port, sock.family);
      last = sock.lastRemote = { address, port, tuple: { local: sock.locator, remote } };
    }
    try {
      this.core.handleDatagram(this.now(), last.tuple, bytes);
    } catch (err) {
      this.loopError('handleDatagram', err);
    }
  }

  /** Runs `fn`; an exception is counted, logged and reported, never thrown into the loop. */
  private guard(where: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.loopError(where, err);
    }
  }

  private loopError(where: string, err: unknown): void {
    this.counters.internalErrors++;
    this.logger.error({ err, where }, 'error in the endpoint loop');
    if (this.listenerCount('error') > 0) this.emit('error', err as Error);
    // Nobody listens for errors: surface it the way Node does (an application listener bug).
    else
      process.nextTick(() => {
        throw err;
      });
  }

  // ---- addresses ------------------------------------------------------------------------

  private onSendError(sock: BoundSocket, err: NodeJS.ErrnoException): void {
    sock.stats.sendErrors++;
    const code = err.code ?? '';
    // dgram's send errors say where the datagram was going (`address`, `port`).
    const to = err as { address?: unknown; port?: unknown };
    if (
      NO_ROUTE_ERRORS.has(code) &&
      typeof to.address === 'string' &&
      typeof to.port === 'number'
    ) {
      const remote = formatLocator(to.address, to.port, to.address.includes(':') ? 6 : 4);
      this.logger.debug({ locator: sock.locator, remote, code }, 'no route');
      this.guard('pathUnreachable', () =>
        this.core.pathUnreachable(
          this.now(),
          { local: sock.locator, remote },
          `send failed: ${code}`,
        ),
      );
      this.kick();
      return;
    }
    // A route error that does not say where to: the address is all that is known.
    if (ADDRESS_GONE_ERRORS.has(code) || NO_ROUTE_ERRORS.has(code)) {
      this.addressGone(sock, `send failed: ${code}`);
      return;
    }
    this.counters.sendErrors++;
    // Logged at debug only: a peer can make us send to a bad address at will.
    this.logger.debug({ locator: sock.locator, err }, 'send error');
  }

  /**
   * What a socket's send error does (EADDRNOTAVAIL: the address is gone; ENETUNREACH and
   * friends with the error's `address` and `port`: the path to there goes down); also the hook
   * for tests and for runtimes that learn of it otherwise. Unknown locators are ignored.
   */
  handleSendError(locator: string, error: NodeJS.ErrnoException): void {
    const sock = this.sockets.get(locator);
    if (sock) this.onSendError(sock, error);
  }

  private addressGone(sock: BoundSocket, reason: string): void {
    if (!sock.advertised || this.state !== 'open') return;
    sock.advertised = false;
    sock.stats.advertised = false;
    sock.goneAtMs = this.now();
    this.guard('removeLocalAddress', () => this.core.removeLocalAddress(this.now(), sock.locator));
    this.logger.warn(
      { locator: sock.locator, reason, retryMs: sock.holddownMs },
      'address removed',
    );
    this.emitAddress(sock.locator, 'removed', reason);
    this.kick();
  }

  private addressBack(sock: BoundSocket, reason: string): void {
    if (sock.advertised || sock.closed || this.state !== 'open') return;
    sock.advertised = true;
    sock.stats.advertised = true;
    // If it fails again soon, the next wait is twice as long (reset by traffic on it).
    sock.holddownMs = Math.min(sock.holddownMs * 2, this.addressHolddownMaxMs);
    this.guard('addLocalAddress', () => this.core.addLocalAddress(this.now(), sock.locator));
    this.logger.info({ locator: sock.locator, reason }, 'address added');
    this.emitAddress(sock.locator, 'added', reason);
    this.kick();
  }

  private emitAddress(locator: string, change: 'added' | 'removed', reason: string): void {
    if (this.listenerCount('address') > 0)
      this.guard('address event', () => this.emit('address', { locator, change, reason }));
  }

  /** One look at the interfaces: addresses gone, back, or new (with `{ all: true }`). */
  pollAddresses(): void {
    if (this.state !== 'open') return;
    const now = this.now();
    const present = new Set(localAddresses(this.safeInterfaces()).map((a) => a.host));
    for (const sock of [...this.sockets.values()]) {
      const listed = !sock.watched || present.has(sock.host);
      if (sock.advertised && !listed) {
        if (sock.origin === 'discovered') this.dropSocket(sock, 'address disappeared');
        else this.addressGone(sock, 'address disappeared from its interface');
      } else if (!sock.advertised && listed && now - sock.goneAtMs >= sock.holddownMs) {
        this.addressBack(sock, sock.watched ? 'address listed again' : 'retry after send errors');
      }
    }
    const bind = this.bindOption;
    if (Array.isArray(bind)) return;
    const bound = new Set([...this.sockets.values()].map((s) => s.host));
    for (const a of this.bindable()) {
      if (bound.has(a.host) || this.binding.has(a.host)) continue;
      if (this.sockets.size + this.binding.size >= SOCKETS_MAX) break;
      this.binding.add(a.host);
      this.bindSocket({ host: a.host, port: bind.port ?? 0, family: a.family }, 'discovered', true)
        .then(
          (sock) => {
            if (this.state !== 'open') return;
            this.guard('addLocalAddress', () =>
              this.core.addLocalAddress(this.now(), sock.locator),
            );
            this.emitAddress(sock.locator, 'added', 'new local address');
            this.kick();
          },
          (err: unknown) =>
            // Tried again at the next poll (e.g. an IPv6 address still tentative).
            this.logger.warn({ host: a.host, err }, 'cannot bind a new local address'),
        )
        .finally(() => this.binding.delete(a.host));
    }
  }

  private dropSocket(sock: BoundSocket, reason: string): void {
    this.addressGone(sock, reason);
    sock.closed = true;
    this.sockets.delete(sock.locator);
    void sock.socket.close();
  }

  // ---- protocol events ------------------------------------------------------------------

  private dispatch(e: EndpointEvent): void {
    if (e.type === 'established') {
      this.onEstablished(e);
      return;
    }
    if (e.type === 'closed') {
      const group = this.attempts.get(e.session);
      if (group) {
        this.attempts.delete(e.session);
        this.onAttemptClosed(group, e.session, e);
        return;
      }
    }
    this.bySid.get(e.session)?.onEvent(e);
  }

  private onEstablished(e: EndpointEvent & { type: 'established' }): void {
    const group = this.attempts.get(e.session);
    this.attempts.delete(e.session);
    if (group?.settled || this.state !== 'open') {
      // Another attempt won, or nobody waits any more.
      group?.live.delete(e.session);
      this.closeHandle(e.session, 'superseded');
      return;
    }
    const info = this.core.sessionInfo(e.session);
    const peer = e.remoteEid.toString();
    let id = info.shortId;
    if (this.byId.has(id)) id = `${id}-${e.session}`;
    const session = new EmbeddedSession(this.runtime, e.session, id, peer, e.role);
    this.bySid.set(e.session, session);
    this.byId.set(id, session);
    if (!this.byPeer.get(peer)?.usable) this.byPeer.set(peer, session);
    if (e.role === 'responder') this.learnPeer(peer, info.path.remote);
    session.logger.info(
      { peer, role: e.role, pattern: e.pattern, handshakeMs: e.handshakeMs, path: info.path },
      'session established',
    );
    if (group) this.winGroup(group, session);
    if (this.listenerCount('session') > 0) this.emit('session', session);
  }

  private forgetSession(session: EmbeddedSession): void {
    this.bySid.delete(session.handle);
    this.byId.delete(session.id);
    if (this.byPeer.get(session.peer) === session) {
      this.byPeer.delete(session.peer);
      for (const other of this.bySid.values())
        if (other.peer === session.peer && other.usable) {
          this.byPeer.set(session.peer, other);
          break;
        }
    }
  }

  private closeHandle(handle: number, reason: string): void {
    try {
      this.core.close(this.now(), handle, reason, CloseCode.NO_ERROR);
    } catch {
      // Gone already.
    }
    this.kick();
  }

  // ---- opening sessions -----------------------------------------------------------------

  async openSession(peer: string, options: OpenSessionOptions = {}): Promise<EmbeddedSession> {
    this.assertOpen();
    throwIfAborted(options.signal);
    const eid = Eid.parse(peer);
    const key = eid.toString();
    const existing = this.byPeer.get(key);
    if (existing?.usable) return existing;
    let group = this.connecting.get(key);
    if (!group) {
      group = this.startConnect(eid, options.locators ?? []);
      this.connecting.set(key, group);
    }
    group.waiters++;
    try {
      return await abortable(group.promise, options.signal);
    } catch (err) {
      // The last caller gave up: stop trying.
      if ((err as { code?: string }).code === 'ERR_BRAID_ABORTED' && group.waiters === 1)
        this.failGroup(group, err as Error);
      throw err;
    } finally {
      group.waiters--;
    }
  }

  private startConnect(eid: Eid, extra: string[]): ConnectGroup {
    const peer = eid.toString();
    const record = this.directory.get(peer);
    const remotes: string[] = [];
    for (const l of [...extra, ...(record?.locators ?? [])]) {
      const parsed = parseLocator(l);
      const canonical = formatLocator(parsed.host, parsed.port, parsed.family);
      if (!remotes.includes(canonical)) remotes.push(canonical);
    }
    if (remotes.length === 0)
      throw new PeerUnknownError(
        `no locator is known for ${peer}: add it with addPeer(eid, ["host:port"]) or pass locators`,
      );
    const pairs: [string, string][] = [];
    for (const remote of remotes)
      for (const sock of this.sockets.values())
        if (
          sock.advertised &&
          this.pathFilter(sock.locator, remote) &&
          pairs.length < CONNECT_ATTEMPTS_MAX
        )
          pairs.push([sock.locator, remote]);
    if (pairs.length === 0)
      throw new NoRouteError(
        `no local address can reach ${peer} at ${remotes.join(', ')} (local: ${this.locators.join(', ') || 'none'})`,
      );
    let resolve!: (s: EmbeddedSession) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<EmbeddedSession>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Nobody may be waiting when it fails (every caller aborted): not an unhandled rejection.
    promise.catch(() => {});
    const group: ConnectGroup = {
      peer,
      eid,
      staticKey: record?.staticKey,
      pairs,
      next: 0,
      live: new Set(),
      settled: false,
      waiters: 0,
      lastError: undefined,
      staggerTimer: undefined,
      deadlineTimer: undefined,
      promise,
      resolve,
      reject,
    };
    group.deadlineTimer = setTimeout(
      () =>
        this.failGroup(
          group,
          new HandshakeTimeoutError(
            `no session with ${peer} after ${this.connectTimeoutMs} ms (tried ${pairs
              .slice(0, group.next)
              .map(([l, r]) => `${l} → ${r}`)
              .join(', ')})${group.lastError ? `; last error: ${group.lastError.message}` : ''}`,
          ),
        ),
      this.connectTimeoutMs,
    );
    this.launchAttempt(group);
    return group;
  }

  /** Starts the next pair; the one after follows `connectAttemptDelayMs` later (or at once if this one fails). */
  private launchAttempt(group: ConnectGroup): void {
    clearTimeout(group.staggerTimer);
    group.staggerTimer = undefined;
    while (!group.settled && group.next < group.pairs.length) {
      const [local, remote] = group.pairs[group.next++]!;
      let handle: number;
      try {
        handle = this.core.connect(this.now(), {
          remoteEid: group.eid,
          local,
          remote,
          ...(group.staticKey ? { remoteStaticKey: group.staticKey } : {}),
        });
      } catch (err) {
        group.lastError = err as Error;
        continue;
      }
      this.logger.debug({ peer: group.peer, local, remote, ik: !!group.staticKey }, 'connecting');
      group.live.add(handle);
      this.attempts.set(handle, group);
      this.kick();
      if (group.next < group.pairs.length)
        group.staggerTimer = setTimeout(
          () => this.launchAttempt(group),
          this.connectAttemptDelayMs,
        );
      return;
    }
    if (!group.settled && group.live.size === 0)
      this.failGroup(
        group,
        group.lastError ?? new NoRouteError(`no attempt to ${group.peer} could start`),
      );
  }

  private onAttemptClosed(
    group: ConnectGroup,
    handle: number,
    e: EndpointEvent & { type: 'closed' },
  ): void {
    group.live.delete(handle);
    if (group.settled) return;
    group.lastError =
      e.error ??
      SessionClosedError.handshakeFailed(group.peer, {
        code: e.code,
        reason: e.reason,
        byPeer: e.byPeer,
      });
    this.logger.debug({ peer: group.peer, err: group.lastError }, 'connect attempt failed');
    if (group.next < group.pairs.length) this.launchAttempt(group);
    else if (group.live.size === 0) this.failGroup(group, group.lastError);
  }

  private settle(group: ConnectGroup): void {
    group.settled = true;
    clearTimeout(group.staggerTimer);
    clearTimeout(group.deadlineTimer);
    if (this.connecting.get(group.peer) === group) this.connecting.delete(group.peer);
  }

  private failGroup(group: ConnectGroup, error: Error): void {
    if (group.settled) return;
    this.settle(group);
    for (const handle of group.live) {
      this.attempts.delete(handle);
      this.closeHandle(handle, 'connect abandoned');
    }
    group.live.clear();
    group.reject(error);
  }

  private winGroup(group: ConnectGroup, session: EmbeddedSession): void {
    this.settle(group);
    for (const handle of group.live)
      if (handle !== session.handle) {
        this.attempts.delete(handle);
        this.closeHandle(handle, 'superseded');
      }
    group.live.clear();
    group.resolve(session);
  }

  // ---- BraidClient ----------------------------------------------------------------------

  private assertOpen(): void {
    if (this.state !== 'open')
      throw new EndpointClosedError(`endpoint ${this.eid} is ${this.state}`);
  }

  async listen(service: string, options: Abortable = {}): Promise<ServiceListener> {
    this.assertOpen();
    throwIfAborted(options.signal);
    checkServiceName(service);
    if (this.services.has(service))
      throw new ServiceInUseError(`service "${service}" already has a listener`);
    const listener = new EmbeddedServiceListener(service, this.listenBacklog, (l) => {
      if (this.services.get(service) === l) this.services.delete(service);
    });
    this.services.set(service, listener);
    return listener;
  }

  async sessions(options: Abortable = {}): Promise<SessionSummary[]> {
    throwIfAborted(options.signal);
    const out: SessionSummary[] = [];
    for (const s of this.bySid.values()) {
      if (!s.usable) continue;
      const info = this.core.sessionInfo(s.handle);
      out.push({
        id: s.id,
        peer: s.peer,
        role: info.role,
        state: info.state,
        paths: info.stats.paths,
        pathsUp: info.stats.pathsUp,
        suspended: info.stats.suspended,
        stats: info.stats,
      });
    }
    return out;
  }

  session(id: string): EmbeddedSession | undefined {
    return this.byId.get(id);
  }

  async status(options: Abortable = {}): Promise<NodeStatus> {
    throwIfAborted(options.signal);
    return {
      eid: this.eid,
      locators: this.locators,
      sessions: this.bySid.size,
      services: [...this.services.keys()],
      uptimeMs: this.now() - this.startedMs,
      mode: this.mode,
      version: VERSION,
    };
  }

  async peers(options: Abortable = {}): Promise<PeerEntry[]> {
    throwIfAborted(options.signal);
    return [...this.directory.values()].map((r) => ({
      eid: r.eid,
      locators: [...r.locators],
      source: r.source,
      connected: this.byPeer.get(r.eid)?.usable ?? false,
    }));
  }

  /** Adds or extends a peer entry; `staticKey` (optional) lets sessions to it use IK. */
  async addPeer(
    eid: string,
    locators: string[],
    options: Abortable & { staticKey?: Uint8Array } = {},
  ): Promise<void> {
    throwIfAborted(options.signal);
    this.putPeer(eid, locators, 'api', options.staticKey);
  }

  private putPeer(
    eidText: string,
    locators: string[],
    source: PeerEntry['source'],
    staticKey?: Uint8Array,
  ): void {
    const eid = Eid.parse(eidText);
    const key = eid.toString();
    const canonical = locators.map((l) => {
      const p = parseLocator(l);
      return formatLocator(p.host, p.port, p.family);
    });
    if (staticKey !== undefined) {
      if (staticKey.length !== X25519_KEY_BYTES)
        throw new InvalidKeyError(
          `the static key of ${key} must be 32 bytes, got ${staticKey.length}`,
        );
      if (!Eid.fromPublicKey(this.crypto, staticKey).equals(eid))
        throw new InvalidKeyError(`the static key given for ${key} belongs to another EID`);
    }
    const existing = this.directory.get(key);
    if (existing) {
      // Newest last; the oldest fall off beyond PEER_LOCATORS_MAX.
      existing.locators = [
        ...existing.locators.filter((l) => !canonical.includes(l)),
        ...canonical,
      ];
      existing.locators = existing.locators.slice(-PEER_LOCATORS_MAX);
      if (staticKey) existing.staticKey = Uint8Array.from(staticKey);
      if (existing.source === 'learned' || source === 'config') existing.source = source;
      return;
    }
    if (this.directory.size >= PEERS_MAX) {
      const learned = [...this.directory.values()].find((r) => r.source === 'learned');
      if (!learned)
        throw new LimitError(`the peer directory is full (${PEERS_MAX} configured peers)`);
      this.directory.delete(learned.eid);
    }
    this.directory.set(key, {
      eid: key,
      locators: canonical.slice(-PEER_LOCATORS_MAX),
      staticKey: staticKey ? Uint8Array.from(staticKey) : undefined,
      source,
    });
  }

  /** A peer reached us from `locator`: remember it, so we can reach it back. */
  private learnPeer(eid: string, locator: string): void {
    try {
      this.putPeer(eid, [locator], 'learned');
    } catch (err) {
      this.logger.debug({ err, eid }, 'peer not learned');
    }
  }

  /** A snapshot of the protocol's and the runtime's counters. */
  stats(): UdpEndpointStats {
    return {
      ...this.core.stats(),
      crypto: this.crypto.name,
      sockets: [...this.sockets.values()].map((s) => ({ ...s.stats })),
      ...this.counters,
    };
  }

  /** The last rejected datagrams with their reasons (diagnostics). */
  recentRejects() {
    return this.core.recentRejects();
  }

  /**
   * Lets the process exit while this endpoint is all that is left to do, as
   * `dgram.Socket.unref()` does: its sockets and the protocol's timer stop holding the event
   * loop (sockets bound later too). Data still in flight then goes unsent if the process ends;
   * an `openSession` under way still holds it until it settles. `ref()` undoes it.
   */
  unref(): this {
    this.refed = false;
    this.applyRef();
    return this;
  }

  ref(): this {
    this.refed = true;
    this.applyRef();
    return this;
  }

  private applyRef(): void {
    const how = this.refed ? 'ref' : 'unref';
    for (const s of this.sockets.values()) if (!s.closed) s.socket[how]();
    this.timer?.[how]();
  }

  /**
   * Closes every session gracefully (streams drain, at most `closeTimeoutMs`), then at once,
   * then the sockets and timers. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const wasOpen = this.state === 'open';
    this.state = 'closing';
    clearInterval(this.pollTimer);
    for (const listener of [...this.services.values()]) await listener.close();
    for (const group of [...this.connecting.values()])
      this.failGroup(group, new EndpointClosedError(`endpoint ${this.eid} closed`));
    if (wasOpen) {
      const graceful = Promise.all(
        [...this.bySid.values()].map((s) => s.close('endpoint closing')),
      );
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        graceful,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.closeTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      for (const s of [...this.bySid.values()]) s.closeNow('endpoint closing');
      // The CONNECTION_CLOSE datagrams go out now, then the sends finish.
      this.drainEvents(this.eventsPerTurn);
      this.drainTransmits(this.transmitsPerTurn);
      const deadline = this.now() + CLOSE_SEND_WAIT_MS;
      while ([...this.sockets.values()].some((s) => s.socket.queued > 0) && this.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 1));
    }
    this.state = 'closed';
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all(
      [...this.sockets.values()].map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.closed) return resolve();
            s.closed = true;
            void s.socket.close().then(resolve);
          }),
      ),
    );
    this.sockets.clear();
    this.logger.info('endpoint closed');
  }
}
