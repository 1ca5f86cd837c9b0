/**
 * braidd as a library: {@link startDaemon} loads the config, the identity key, binds the UDP
 * sockets (through `@braid/endpoint`), starts the metrics listener and the control socket, and
 * returns a {@link Daemon} to stop or reload. `runBraidd` (cli.ts) is the program around it.
 *
 * Start order is chosen so that each failure is reported for what it is and leaves nothing
 * behind: config, then "is another braidd on the socket?", then the key, the UDP sockets, the
 * metrics listener and last the control socket (apps connect only to a daemon that works).
 */
import { createRequire } from 'node:module';
import { lstat, stat, unlink } from 'node:fs/promises';
import type { Server } from 'node:net';
import { openEndpoint, type UdpEndpoint, type UdpEndpointOptions } from '@braid/endpoint';
import { IpcSocketInUseError, SOCKET_PATH_BYTES_MAX, listenSocket, probeSocket } from '@braid/ipc';
import { createSodiumCrypto } from '@braid/protocol';
import type { DestinationStream, Logger } from 'pino';
import {
  parseConfig,
  readConfigFile,
  unreloadableChanges,
  type ConfigFile,
  type DaemonConfig,
} from './config.js';
import { ControlServer } from './control-server.js';
import { startDrillService, type DrillService } from './drill-service.js';
import { ControlSocketError, DaemonRunningError } from './errors.js';
import { loadOrCreateIdentity } from './identity-store.js';
import { createLogger } from './logger.js';
import { DaemonMetrics } from './metrics.js';

export const BRAIDD_VERSION = (
  createRequire(import.meta.url)('../package.json') as { version: string }
).version;

/** Refused-peer log lines: at most one per peer per this long (the count is exact). */
export const REFUSED_LOG_INTERVAL_MS = 10_000;
/** Peers remembered for that rate limit. */
const REFUSED_LOG_PEERS_MAX = 1024;

export interface StartDaemonOptions {
  /** A JSON config file (what `--config` names). */
  configPath?: string;
  /** A config object, instead of a file (tests, the demo); validated the same way. */
  config?: ConfigFile;
  /** Settings that win over the file's (command-line flags), e.g. `{ socketPath }`. */
  overrides?: ConfigFile;
  /** A ready logger; default: one built from the config's `log` settings. */
  logger?: Logger;
  /** Where the built logger writes (default stdout). */
  logDestination?: DestinationStream;
  /** Environment for the default paths. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Extra endpoint options (tests: `networkInterfaces`, `random`…). */
  endpointOptions?: Partial<UdpEndpointOptions>;
}

export interface DaemonStats {
  controlClients: number;
  peersRefused: number;
  reloads: number;
}

export interface ReloadResult {
  /** What was applied: `peers`, `allow`, `log.level`, `shutdownTimeoutMs`. */
  applied: string[];
  /** What changed in the file but needs a restart. */
  needsRestart: string[];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `over` on top of `base`, one level deep (`{ log: { level } }` keeps `log.format`). */
function mergeConfig(base: unknown, over: ConfigFile | undefined): unknown {
  if (!over || !isPlainObject(base)) return base;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const b = out[k];
    out[k] = isPlainObject(v) && isPlainObject(b) ? { ...b, ...v } : v;
  }
  return out;
}

/** The file (if any), then `config`, then `overrides`, validated as one. */
async function readConfig(options: StartDaemonOptions): Promise<DaemonConfig> {
  const raw = options.configPath ? await readConfigFile(options.configPath) : {};
  const merged = mergeConfig(mergeConfig(raw, options.config), options.overrides);
  return parseConfig(merged, { source: options.configPath, env: options.env ?? process.env });
}

export class Daemon {
  readonly startedAt = Date.now();
  private stopping: Promise<void> | undefined;
  private readonly allowed = new Set<string>();
  private readonly apiPeers = new Set<string>();
  private readonly refusedLogged = new Map<string, number>();
  private peersRefused = 0;
  private reloads = 0;
  private resolveClosed!: () => void;
  /** Resolves once the daemon has stopped (by `close()` or a signal). */
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  /** @internal Use {@link startDaemon}. */
  constructor(
    private current: DaemonConfig,
    private readonly startOptions: StartDaemonOptions,
    readonly logger: Logger,
    readonly endpoint: UdpEndpoint,
    private readonly metrics: DaemonMetrics | undefined,
    readonly metricsUrl: string | undefined,
    private readonly control: ControlServer,
    private readonly controlServer: Server,
    private readonly socketIno: number,
    /** The built-in `braid.drill` service, when `drill.enabled`. */
    readonly drillService: DrillService | undefined,
  ) {
    this.applyAllowlist(current);
  }

  get eid(): string {
    return this.endpoint.eid;
  }
  get publicKey(): Uint8Array {
    return this.endpoint.publicKey;
  }
  get socketPath(): string {
    return this.current.socketPath;
  }
  get locators(): string[] {
    return this.endpoint.locators;
  }
  get config(): DaemonConfig {
    return this.current;
  }

  stats(): DaemonStats {
    return {
      controlClients: this.control.clientCount,
      peersRefused: this.peersRefused,
      reloads: this.reloads,
    };
  }

  /** The Prometheus exposition text, as the metrics listener serves it (undefined if disabled). */
  async scrapeMetrics(): Promise<string | undefined> {
    return this.metrics?.scrape();
  }

  /** @internal The endpoint's accept policy. */
  acceptPeer(eid: string): boolean {
    if (this.current.allow === 'open' || this.allowed.has(eid) || this.apiPeers.has(eid))
      return true;
    this.peersRefused++;
    this.metrics?.peersRefused.inc();
    const now = Date.now();
    const last = this.refusedLogged.get(eid);
    if (last === undefined || now - last >= REFUSED_LOG_INTERVAL_MS) {
      if (this.refusedLogged.size >= REFUSED_LOG_PEERS_MAX) this.refusedLogged.clear();
      this.refusedLogged.set(eid, now);
      this.logger.warn(
        { peer: eid, refused: this.peersRefused },
        `peer ${eid} refused: not on the allowlist (add it to "peers" or "allow", or set "allow": "open")`,
      );
    }
    return false;
  }

  /** @internal */
  onPeerAdded(eid: string): void {
    if (this.apiPeers.size < 4096) this.apiPeers.add(eid);
  }

  /** @internal */
  configuredPeer(eid: string): { name?: string } | undefined {
    return this.current.peers.find((p) => p.eid === eid);
  }

  private applyAllowlist(config: DaemonConfig): void {
    this.allowed.clear();
    for (const p of config.peers) this.allowed.add(p.eid);
    if (Array.isArray(config.allow)) for (const e of config.allow) this.allowed.add(e);
  }

  /**
   * Re-reads the config (SIGHUP) and applies what can change while running: peers (added to
   * the directory; removed ones stop being allowed but stay in the directory until restart),
   * the allowlist, the log level and the shutdown timeout. Anything else that changed is logged
   * as needing a restart. A config that fails validation changes nothing.
   */
  async reload(config?: ConfigFile): Promise<ReloadResult> {
    let next: DaemonConfig;
    try {
      next = await readConfig(config ? { ...this.startOptions, config } : this.startOptions);
    } catch (err) {
      for (const line of (err as Error).message.split('\n'))
        this.logger.error(`reload refused, nothing changed: ${line}`);
      throw err;
    }
    const applied: string[] = [];
    const before = this.current;
    if (JSON.stringify(before.peers) !== JSON.stringify(next.peers)) {
      for (const p of next.peers) await this.endpoint.addPeer(p.eid, p.locators);
      applied.push('peers');
    }
    if (JSON.stringify(before.allow) !== JSON.stringify(next.allow)) applied.push('allow');
    if (before.log.level !== next.log.level) {
      this.logger.level = next.log.level;
      applied.push('log.level');
    }
    if (before.shutdownTimeoutMs !== next.shutdownTimeoutMs) applied.push('shutdownTimeoutMs');
    const needsRestart = unreloadableChanges(before, next);
    this.current = { ...next };
    // Fields that need a restart keep their running values.
    for (const f of needsRestart) {
      if (f === 'log.format') this.current.log = { ...this.current.log, format: before.log.format };
      else
        (this.current as unknown as Record<string, unknown>)[f] = before[f as keyof DaemonConfig];
    }
    this.applyAllowlist(this.current);
    this.reloads++;
    this.logger.info(
      { applied },
      `config reloaded${applied.length ? `: ${applied.join(', ')}` : ': no change'}`,
    );
    if (needsRestart.length > 0)
      this.logger.warn(
        { needsRestart },
        `config changes that need a restart were not applied: ${needsRestart.join(', ')}`,
      );
    return { applied, needsRestart };
  }

  /**
   * Stops: no new control requests, sessions closed gracefully (at most `shutdownTimeoutMs`,
   * then at once), sockets closed, the control socket file removed. Idempotent.
   */
  close(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.logger.info('shutting down');
    this.control.close();
    await new Promise<void>((resolve) => this.controlServer.close(() => resolve()));
    await this.drillService?.close();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.endpoint.close().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.current.shutdownTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut)
      this.logger.warn(
        `sessions did not close within ${this.current.shutdownTimeoutMs} ms; stopped anyway`,
      );
    await this.metrics?.close();
    await removeOwnSocket(this.current.socketPath, this.socketIno);
    this.logger.info('stopped');
    this.logger.flush?.();
    this.resolveClosed();
  }
}

/** Removes the socket file if it is still the one this daemon created. */
async function removeOwnSocket(path: string, ino: number): Promise<void> {
  try {
    const st = await lstat(path);
    if (st.isSocket() && st.ino === ino) await unlink(path);
  } catch {
    // Already gone (Node removes it when the server closes).
  }
}

/** Starts braidd; see the module comment for the order. Rejects with a one-line typed error. */
export async function startDaemon(options: StartDaemonOptions = {}): Promise<Daemon> {
  const config = await readConfig(options);
  const logger =
    options.logger ??
    createLogger({
      level: config.log.level,
      format: config.log.format,
      destination: options.logDestination,
    });

  const socketBytes = Buffer.byteLength(config.socketPath);
  if (socketBytes > SOCKET_PATH_BYTES_MAX)
    throw new ControlSocketError(
      `control socket path ${config.socketPath} is ${socketBytes} bytes; Unix sockets allow at most ${SOCKET_PATH_BYTES_MAX}: set "socketPath" (or --socket) to a shorter path`,
    );
  const probe = await probeSocket(config.socketPath);
  if (probe.state === 'live')
    throw new DaemonRunningError(
      `braidd already running at ${config.socketPath}${probe.pid !== undefined ? ` (pid ${probe.pid})` : ''}; stop it first, or give this one another --socket`,
    );
  if (probe.state === 'not-socket')
    throw new ControlSocketError(
      `${config.socketPath} exists and is not a socket; remove it or set "socketPath" to another path`,
    );

  const crypto = await createSodiumCrypto();
  const stored = await loadOrCreateIdentity(config.identityKeyPath, crypto);
  if (stored.created)
    logger.info({ eid: stored.identity.eid.toString(), path: stored.path }, 'identity key created');

  // The accept policy needs the daemon, which needs the endpoint: bind through a late reference.
  let daemon: Daemon | undefined;
  const p = config.protocol;
  const endpoint = await openEndpoint({
    ...(p.scheduler !== undefined && { scheduler: p.scheduler }),
    ...(p.congestion !== undefined && { congestion: p.congestion }),
    ...(p.pathProbeIntervalMs !== undefined && { pathProbeIntervalMs: p.pathProbeIntervalMs }),
    ...(p.pathDownAfterMs !== undefined && { pathDownAfterMs: p.pathDownAfterMs }),
    ...(p.pathRecoveryProbeMaxMs !== undefined && {
      pathRecoveryProbeMaxMs: p.pathRecoveryProbeMaxMs,
    }),
    ...(p.idleTimeoutMs !== undefined && { idleTimeoutMs: p.idleTimeoutMs }),
    ...(p.keepaliveIntervalMs !== undefined && { keepaliveIntervalMs: p.keepaliveIntervalMs }),
    ...(p.suspendTimeoutMs !== undefined && { suspendTimeoutMs: p.suspendTimeoutMs }),
    ...(p.handshakeTimeoutMs !== undefined && { handshakeTimeoutMs: p.handshakeTimeoutMs }),
    ...(p.maxPaths !== undefined && { maxPaths: p.maxPaths }),
    ...(p.maxDatagramBytes !== undefined && { maxDatagramBytes: p.maxDatagramBytes }),
    ...(p.streamWindowBytes !== undefined && { streamWindowBytes: p.streamWindowBytes }),
    ...(p.connectionWindowBytes !== undefined && {
      connectionWindowBytes: p.connectionWindowBytes,
    }),
    ...(p.maxStreams !== undefined && { maxStreams: p.maxStreams }),
    ...(p.connectTimeoutMs !== undefined && { connectTimeoutMs: p.connectTimeoutMs }),
    ...(p.addressPollMs !== undefined && { addressPollMs: p.addressPollMs }),
    ...(p.listenBacklog !== undefined && { listenBacklog: p.listenBacklog }),
    ...(p.crypto !== undefined && { crypto: p.crypto }),
    ...options.endpointOptions,
    secretKey: stored.identity.secretKey,
    bind: config.bind,
    peers: config.peers.map((peer) => ({ eid: peer.eid, locators: peer.locators })),
    acceptPeer: (eid) => daemon?.acceptPeer(eid) ?? false,
    logger,
  });

  let metrics: DaemonMetrics | undefined;
  let metricsUrl: string | undefined;
  let controlServer: Server | undefined;
  let drillService: DrillService | undefined;
  try {
    if (config.drill.enabled)
      drillService = await startDrillService(endpoint, {
        logger: logger.child({ service: 'braid.drill' }),
        maxBytes: config.drill.maxBytes,
      });
    if (config.metrics.enabled) {
      metrics = new DaemonMetrics(
        {
          endpointStats: () => endpoint.stats(),
          sessions: async () => {
            const out = [];
            for (const s of await endpoint.sessions()) {
              const session = endpoint.session(s.id);
              if (!session) continue;
              try {
                out.push({ id: s.id, suspended: s.suspended, paths: await session.paths() });
              } catch {
                // Closed between the two calls.
              }
            }
            return out;
          },
        },
        { eid: endpoint.eid, version: BRAIDD_VERSION },
      );
      metricsUrl = await metrics.listen(config.metrics.listen);
    }
    const control = new ControlServer({
      endpoint,
      logger,
      metrics,
      software: `braidd ${BRAIDD_VERSION}`,
      streamWindowBytes: config.control.streamWindowBytes,
      statusExtras: () => ({
        pid: process.pid,
        socketPath: config.socketPath,
        ...(metricsUrl !== undefined && { metricsUrl }),
      }),
      configuredPeer: (eid) => daemon?.configuredPeer(eid),
      onPeerAdded: (eid) => daemon?.onPeerAdded(eid),
    });
    try {
      controlServer = await listenSocket(config.socketPath, (socket) => control.accept(socket), {
        connectionsMax: config.control.connectionsMax,
      });
    } catch (err) {
      if (err instanceof IpcSocketInUseError && err.pid !== undefined)
        throw new DaemonRunningError(
          `braidd already running at ${config.socketPath} (pid ${err.pid}); stop it first, or give this one another --socket`,
        );
      throw new ControlSocketError(
        `control socket ${config.socketPath}: ${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.replace(
          /\s+/g,
          ' ',
        ),
        { cause: err },
      );
    }
    const ino = (await stat(config.socketPath)).ino;
    daemon = new Daemon(
      config,
      options,
      logger,
      endpoint,
      metrics,
      metricsUrl,
      control,
      controlServer,
      ino,
      drillService,
    );
  } catch (err) {
    await drillService?.close();
    await endpoint.close();
    await metrics?.close();
    if (controlServer) await new Promise<void>((r) => controlServer!.close(() => r()));
    throw err;
  }
  logger.info(
    {
      eid: daemon.eid,
      locators: daemon.locators,
      socket: config.socketPath,
      metrics: metricsUrl,
      allow: Array.isArray(config.allow) ? `${config.allow.length} EIDs` : config.allow,
      peers: config.peers.length,
      config: config.source,
    },
    'braidd started',
  );
  return daemon;
}
