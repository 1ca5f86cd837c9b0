/**
 * `braidd` the program: parses the command line, starts the daemon, and runs until SIGTERM or
 * SIGINT (graceful stop, exit 0); SIGHUP reloads the config. Startup errors are printed as one
 * line each (`braidd: …`) with a non-zero exit: 2 for bad usage, 1 otherwise.
 */
import { parseArgs } from 'node:util';
import type { DestinationStream } from 'pino';
import type { ConfigFile } from './config.js';
import { BRAIDD_VERSION, startDaemon, type Daemon, type StartDaemonOptions } from './daemon.js';
import { UsageError } from './errors.js';

export const BRAIDD_USAGE = `Usage: braidd [options]

Runs the Braid daemon: identity, UDP sockets, sessions, the control socket for apps and the
braid CLI, metrics and logs. Every option is optional; without --config the defaults apply.

Options:
  --config FILE        JSON config file (see docs/daemon.md)
  --socket PATH        control socket path (overrides the config)
  --state-dir DIR      state directory: identity key, default socket (overrides the config)
  --bind LOCATOR       UDP locator to bind, host:port; repeat for several (overrides the config)
  --allow MODE         configured | open (overrides the config)
  --log-level LEVEL    trace | debug | info | warn | error | fatal | silent
  --log-format FORMAT  json | pretty | auto (pretty on a terminal; the default)
  --metrics LOCATOR    serve Prometheus metrics on host:port (loopback unless the config allows)
  -h, --help           print this help
  -v, --version        print the version

Signals: SIGTERM or SIGINT stop gracefully; SIGHUP reloads the config.`;

export interface RunBraiddOptions {
  /** Where usage and error lines go. Default process.stderr. */
  stderr?: { write(text: string): unknown };
  stdout?: { write(text: string): unknown };
  /** Environment for default paths. Default process.env. */
  env?: Record<string, string | undefined>;
  /** Where signals come from. Default `process`. */
  signals?: NodeJS.EventEmitter;
  /** Where logs go (tests). Default stdout. */
  logDestination?: DestinationStream;
  /** Called once the daemon runs (tests, the CLI's `braid daemon`). */
  onStarted?: (daemon: Daemon) => void;
}

/** Parses braidd's argv into daemon options; throws {@link UsageError}. */
export function parseBraiddArgs(argv: string[]): StartDaemonOptions & {
  help?: boolean;
  version?: boolean;
} {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        socket: { type: 'string' },
        'state-dir': { type: 'string' },
        bind: { type: 'string', multiple: true },
        allow: { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        metrics: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see braidd --help)`);
  }
  const overrides: Record<string, unknown> = {};
  if (values.socket !== undefined) overrides.socketPath = values.socket;
  if (values['state-dir'] !== undefined) overrides.stateDir = values['state-dir'];
  if (values.bind !== undefined) overrides.bind = values.bind;
  if (values.allow !== undefined) overrides.allow = values.allow;
  const log: Record<string, unknown> = {};
  if (values['log-level'] !== undefined) log.level = values['log-level'];
  if (values['log-format'] !== undefined) log.format = values['log-format'];
  if (Object.keys(log).length > 0) overrides.log = log;
  if (values.metrics !== undefined) overrides.metrics = { enabled: true, listen: values.metrics };
  return {
    ...(values.config !== undefined && { configPath: values.config }),
    overrides: overrides as ConfigFile,
    ...(values.help && { help: true }),
    ...(values.version && { version: true }),
  };
}

/**
 * Runs braidd until it is stopped; resolves with the exit code. Wire it to a bin with
 * `runBraidd(process.argv.slice(2)).then((code) => { process.exitCode = code; })`.
 */
export async function runBraidd(argv: string[], options: RunBraiddOptions = {}): Promise<number> {
  const stderr = options.stderr ?? process.stderr;
  const stdout = options.stdout ?? process.stdout;
  const signals = options.signals ?? process;
  let parsed;
  try {
    parsed = parseBraiddArgs(argv);
  } catch (err) {
    stderr.write(`braidd: ${(err as Error).message}\n`);
    return 2;
  }
  if (parsed.help) {
    stdout.write(`${BRAIDD_USAGE}\n`);
    return 0;
  }
  if (parsed.version) {
    stdout.write(`braidd ${BRAIDD_VERSION}\n`);
    return 0;
  }
  let daemon: Daemon;
  try {
    daemon = await startDaemon({
      ...parsed,
      ...(options.env && { env: options.env }),
      ...(options.logDestination && { logDestination: options.logDestination }),
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    for (const line of (err as Error).message.split('\n')) stderr.write(`braidd: ${line}\n`);
    return code === 'ERR_BRAID_USAGE' ? 2 : 1;
  }
  options.onStarted?.(daemon);
  const stop = (signal: string) => {
    daemon.logger.info({ signal }, `${signal}: stopping`);
    void daemon.close();
  };
  const onTerm = () => stop('SIGTERM');
  const onInt = () => stop('SIGINT');
  const onHup = () => {
    daemon.logger.info({ signal: 'SIGHUP' }, 'SIGHUP: reloading the config');
    // A refused reload was logged line by line; the daemon keeps running unchanged.
    daemon.reload().catch(() => undefined);
  };
  signals.on('SIGTERM', onTerm);
  signals.on('SIGINT', onInt);
  signals.on('SIGHUP', onHup);
  await daemon.closed;
  signals.off('SIGTERM', onTerm);
  signals.off('SIGINT', onInt);
  signals.off('SIGHUP', onHup);
  return 0;
}
