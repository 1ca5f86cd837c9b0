/**
 * braidd's configuration: a JSON file validated with zod. Every field is optional (the defaults
 * make a working daemon); unknown fields are errors, so a typo never passes silently. Errors name
 * the field path and what is wrong, one line each.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseLocator } from '@braid/endpoint';
import { defaultSocketPath, defaultStateDir } from '@braid/ipc';
import { Eid } from '@braid/protocol';
import { z } from 'zod';
import { DRILL_MAX_BYTES_DEFAULT } from './drill-service.js';
import { ConfigError } from './errors.js';

/** UDP port of `bind: { all: true }` when none is given: peers configure it, so it is fixed. */
export const DEFAULT_PORT = 7420;
/** Metrics listener when enabled without `listen`. */
export const DEFAULT_METRICS_LISTEN = '127.0.0.1:9477';
/** Largest config file read. */
export const CONFIG_BYTES_MAX = 1024 * 1024;
/** Peers in the config at most (the endpoint's directory holds 4096 including learned ones). */
export const CONFIG_PEERS_MAX = 1024;

const eid = z.string().superRefine((text, ctx) => {
  try {
    Eid.parse(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a valid EID: ${(err as Error).message}` });
  }
});

const locator = z.string().superRefine((text, ctx) => {
  try {
    parseLocator(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

const port = z.number().int().min(0).max(65_535);
const ms = z.number().int().nonnegative();
const positiveMs = z.number().int().positive();

const protocolSchema = z.strictObject({
  /** How bulk streams use the paths. */
  scheduler: z.enum(['aggregate', 'active-backup']).optional(),
  congestion: z.enum(['cubic', 'newreno']).optional(),
  pathProbeIntervalMs: ms.optional(),
  pathDownAfterMs: positiveMs.optional(),
  pathRecoveryProbeMaxMs: positiveMs.optional(),
  idleTimeoutMs: positiveMs.optional(),
  keepaliveIntervalMs: ms.optional(),
  suspendTimeoutMs: ms.optional(),
  handshakeTimeoutMs: positiveMs.optional(),
  maxPaths: z.number().int().min(1).max(64).optional(),
  maxDatagramBytes: z.number().int().min(1200).max(65_527).optional(),
  streamWindowBytes: z.number().int().positive().optional(),
  connectionWindowBytes: z.number().int().positive().optional(),
  maxStreams: z.number().int().positive().optional(),
  /** `openSession` gives up after this long. */
  connectTimeoutMs: positiveMs.optional(),
  /** How often the interface list is read for addresses that come and go. */
  addressPollMs: positiveMs.optional(),
  /** Streams accepted for a service and not yet taken, per service. */
  listenBacklog: z.number().int().positive().max(4096).optional(),
  /** Crypto backend. */
  crypto: z.enum(['auto', 'libsodium', 'sodium-native']).optional(),
});

export const configSchema = z.strictObject({
  /** Directory of the identity key and other state. */
  stateDir: z.string().min(1).optional(),
  /** The identity key file. Default `<stateDir>/identity.key`. */
  identityKeyPath: z.string().min(1).optional(),
  /** The control socket. Default: see `defaultSocketPath`. */
  socketPath: z.string().min(1).optional(),
  /** UDP locators to bind, or one socket per local address on `port`. */
  bind: z
    .union([
      z.array(locator).min(1).max(64),
      z.strictObject({
        all: z.literal(true),
        port: port.optional(),
        loopback: z.boolean().optional(),
        linkLocal: z.boolean().optional(),
      }),
    ])
    .optional(),
  peers: z
    .array(
      z.strictObject({
        eid,
        locators: z.array(locator).max(16).default([]),
        name: z.string().min(1).max(64).optional(),
      }),
    )
    .max(CONFIG_PEERS_MAX)
    .optional(),
  /**
   * Who may open sessions to us: `configured` (the peers above and those added through the
   * API), `open` (anyone who knows our EID), or a list of EIDs (in addition to the peers).
   */
  allow: z.union([z.enum(['configured', 'open']), z.array(eid).max(CONFIG_PEERS_MAX)]).optional(),
  metrics: z
    .strictObject({
      enabled: z.boolean().optional(),
      /** `host:port`; a loopback address unless `allowNonLoopback`. */
      listen: locator.optional(),
      allowNonLoopback: z.boolean().optional(),
    })
    .optional(),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
      /** `json`, `pretty`, or `auto` (pretty when stdout is a terminal). */
      format: z.enum(['json', 'pretty', 'auto']).optional(),
    })
    .optional(),
  protocol: protocolSchema.optional(),
  control: z
    .strictObject({
      /** Control clients connected at once. */
      connectionsMax: z.number().int().positive().max(1024).optional(),
      /** Receive window per IPC stream. */
      streamWindowBytes: z
        .number()
        .int()
        .min(4096)
        .max(16 * 1024 * 1024)
        .optional(),
    })
    .optional(),
  /** SIGTERM: sessions get this long to close gracefully before they are closed at once. */
  shutdownTimeoutMs: positiveMs.max(60_000).optional(),
  /** The built-in drill service (`braid.drill`), the far end of `braid drill`. */
  drill: z
    .strictObject({
      enabled: z.boolean().optional(),
      /** Bytes one drill may send (counted and hashed, never stored). */
      maxBytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
    })
    .optional(),
});

export type ConfigFile = z.infer<typeof configSchema>;

export interface PeerSetting {
  eid: string;
  locators: string[];
  name?: string;
}

/** The configuration with every default filled in and paths made absolute. */
export interface DaemonConfig {
  stateDir: string;
  identityKeyPath: string;
  socketPath: string;
  bind: string[] | { all: true; port: number; loopback?: boolean; linkLocal?: boolean };
  peers: PeerSetting[];
  allow: 'configured' | 'open' | string[];
  metrics: { enabled: boolean; listen: string; allowNonLoopback: boolean };
  log: {
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
    format: 'json' | 'pretty' | 'auto';
  };
  protocol: z.infer<typeof protocolSchema>;
  control: { connectionsMax: number; streamWindowBytes: number };
  shutdownTimeoutMs: number;
  drill: { enabled: boolean; maxBytes: number };
  /** The file it came from, if any. */
  source: string | undefined;
}

function issuePath(path: PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && (issue as { input?: unknown }).input === undefined)
    return `missing, expected ${issue.expected}`;
  return issue.message;
}

/** Validates a parsed config object; `source` names the file in messages. */
export function parseConfig(
  value: unknown,
  options: { source?: string; env?: Record<string, string | undefined> } = {},
): DaemonConfig {
  const where = options.source ? `config ${options.source}` : 'config';
  const result = configSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${where}: ${issuePath(issue.path)}: ${describeIssue(issue)}`,
    );
    throw new ConfigError(problems.join('\n'), problems);
  }
  const c = result.data;
  const env = options.env ?? process.env;
  const base = options.source ? dirname(resolve(options.source)) : process.cwd();
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const stateDir = abs(c.stateDir ?? defaultStateDir(env));
  const metricsListen = c.metrics?.listen ?? DEFAULT_METRICS_LISTEN;
  const allowNonLoopback = c.metrics?.allowNonLoopback ?? false;
  if ((c.metrics?.enabled ?? false) && !allowNonLoopback && !isLoopback(metricsListen)) {
    const problem = `${where}: metrics.listen: ${metricsListen} is not a loopback address; metrics carry peer EIDs and addresses, so set metrics.allowNonLoopback to true to expose them`;
    throw new ConfigError(problem, [problem]);
  }
  return {
    stateDir,
    identityKeyPath: abs(c.identityKeyPath ?? resolve(stateDir, 'identity.key')),
    socketPath: abs(c.socketPath ?? defaultSocketPath(env, stateDir)),
    bind: Array.isArray(c.bind)
      ? c.bind
      : { ...(c.bind ?? {}), all: true, port: c.bind?.port ?? DEFAULT_PORT },
    peers: (c.peers ?? []).map((p) => ({
      eid: Eid.parse(p.eid).toString(),
      locators: p.locators,
      ...(p.name !== undefined ? { name: p.name } : {}),
    })),
    allow: Array.isArray(c.allow)
      ? c.allow.map((e) => Eid.parse(e).toString())
      : (c.allow ?? 'configured'),
    metrics: { enabled: c.metrics?.enabled ?? false, listen: metricsListen, allowNonLoopback },
    log: { level: c.log?.level ?? 'info', format: c.log?.format ?? 'auto' },
    protocol: c.protocol ?? {},
    control: {
      connectionsMax: c.control?.connectionsMax ?? 64,
      streamWindowBytes: c.control?.streamWindowBytes ?? 256 * 1024,
    },
    shutdownTimeoutMs: c.shutdownTimeoutMs ?? 5_000,
    drill: {
      enabled: c.drill?.enabled ?? true,
      maxBytes: c.drill?.maxBytes ?? DRILL_MAX_BYTES_DEFAULT,
    },
    source: options.source,
  };
}

/** Reads a config file and parses its JSON (not validated yet: see {@link parseConfig}). */
export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > CONFIG_BYTES_MAX)
      throw new ConfigError(
        `config ${path}: ${bytes.length} bytes is more than a config file may be (${CONFIG_BYTES_MAX})`,
      );
    text = bytes.toString('utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT'
        ? `config ${path}: no such file (omit --config to run with the defaults)`
        : `config ${path}: cannot read it (${code ?? (err as Error).message})`,
      [],
      { cause: err },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ConfigError(`config ${path}: not valid JSON: ${(err as Error).message}`, [], {
      cause: err,
    });
  }
}

/** Reads and validates a config file. */
export async function loadConfig(
  path: string,
  options: { env?: Record<string, string | undefined> } = {},
): Promise<DaemonConfig> {
  return parseConfig(await readConfigFile(path), { source: path, env: options.env });
}

export function isLoopback(locatorText: string): boolean {
  const { host } = parseLocator(locatorText);
  return host === '::1' || /^127\./.test(host);
}

/** What changed between two configs that a reload (SIGHUP) cannot apply. */
export function unreloadableChanges(before: DaemonConfig, after: DaemonConfig): string[] {
  const fields: (keyof DaemonConfig)[] = [
    'stateDir',
    'identityKeyPath',
    'socketPath',
    'bind',
    'metrics',
    'protocol',
    'control',
    'drill',
  ];
  const changed: string[] = fields.filter(
    (f) => JSON.stringify(before[f]) !== JSON.stringify(after[f]),
  );
  if (before.log.format !== after.log.format) changed.push('log.format');
  return changed;
}
