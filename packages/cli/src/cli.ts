/**
 * The `braid` command: commander definitions and each command's action. `runCli(argv, io)`
 * runs one command line against the given stdio and returns the exit status (0 ok, 1 runtime
 * error, 2 usage error); `main.ts` wires it to the process.
 */
import { Command, CommanderError, Option } from 'commander';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnknownPathError, UnknownSessionError } from '@braid/protocol';
import { parseEid, parseIntOption, parseLocator, parsePathId, parseService } from './args.js';
import { createRequire } from 'node:module';
import type { CommandContext } from './context.js';
import { settlePaths } from './settle.js';
import { registerDrillCommand } from './drill.js';
import { registerForwardCommands } from './forward.js';
import {
  connect,
  defaultSocketPath,
  type BraidClient,
  type BraidSession,
  type BraidStream,
} from './client-api.js';

/** This package's version (`braid --version`). */
export const CLI_VERSION = (
  createRequire(import.meta.url)('../package.json') as { version: string }
).version;
import {
  describeError,
  EXIT_OK,
  EXIT_USAGE,
  exitCodeOf,
  PingTimeoutError,
  UsageError,
} from './errors.js';
import {
  lineCount,
  pathRows,
  pathsDocument,
  redrawPrefix,
  renderPathTable,
  renderPeers,
  renderPing,
  renderSessions,
  renderStatus,
  toJson,
  type PathSnapshot,
} from './format.js';

/** The streams and environment a command line runs against. */
export interface CliIo {
  stdin: Readable;
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
  env: Record<string, string | undefined>;
  /** Aborts long-running commands (`paths --watch`, `cat`): SIGINT in `main.ts`. */
  signal?: AbortSignal;
  /** Gives the process's signals back (`braid daemon`: braidd handles SIGINT itself). */
  releaseSignals?: () => void;
}

/** Longest `--watch` interval and most `--count` refreshes accepted. */
const WATCH_INTERVAL_MS_MAX = 3_600_000;
const WATCH_COUNT_MAX = 1_000_000;
/** Most ping rounds one command sends. */
const PING_COUNT_MAX = 10_000;
/** How long `ping` waits for a new session's paths to validate before the first round. */
const PING_SETTLE_MS = 2_000;
/** Polls (50 ms apart) without a new path before `ping` counts the paths as settled. */
const PING_SETTLE_QUIET_POLLS = 4;

interface GlobalOptions {
  socket?: string;
}

interface JsonOption {
  json?: boolean;
}

/** Runs one command line (`argv` without the node and script entries). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let status = EXIT_OK;
  const program = buildProgram(io, (code) => {
    status = code;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return status;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version print and exit 0; every other commander error is a bad command line,
      // already printed by commander (with the usage hint).
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.help' ||
        error.code === 'commander.version'
      )
        return EXIT_OK;
      return EXIT_USAGE;
    }
    io.stderr.write(`braid: ${describeError(error)}\n`);
    if (exitCodeOf(error) === EXIT_USAGE) io.stderr.write('(run `braid --help` for usage)\n');
    return exitCodeOf(error);
  }
}

/**
 * The commander program. `setExitStatus` lets a command end with a status other than 0 without
 * an error (`braid daemon` passes braidd's on).
 */
export function buildProgram(io: CliIo, setExitStatus: (code: number) => void = () => {}): Command {
  const out = (text: string) => io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  const program = new Command('braid')
    .description(
      'Operate braidd: identity, peers, sessions, paths, ping, cat, forwarding and failover drills.',
    )
    .version(CLI_VERSION, '-V, --version')
    .option(
      '--socket <path>',
      "the daemon's control socket (default: $BRAID_SOCKET, else braidd's default)",
    )
    .showHelpAfterError('(run `braid --help` for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();

  const socketPath = () => {
    const opts = program.opts<GlobalOptions>();
    return opts.socket ?? io.env.BRAID_SOCKET ?? defaultSocketPath(io.env);
  };

  /** Connects to the daemon, runs `fn`, and always disconnects. */
  const withClient = async <T>(fn: (client: BraidClient) => Promise<T>): Promise<T> => {
    const client = await connect({ socketPath: socketPath(), signal: io.signal, env: io.env });
    try {
      return await fn(client);
    } finally {
      await client.close().catch(() => undefined);
    }
  };

  const jsonOption = () => new Option('--json', 'print one JSON document instead of a table');
  const subcommand = (name: string) =>
    program
      .command(name)
      .exitOverride()
      .configureOutput({
        writeOut: (s) => io.stdout.write(s),
        writeErr: (s) => io.stderr.write(s),
      });

  subcommand('init')
    .description(
      "create a config and an identity key in DIR (default: braidd's state directory), print the EID",
    )
    .argument('[dir]', 'state directory')
    .option(
      '--bind <locators...>',
      'UDP locators to bind, ADDRESS:PORT (default: every local address on port 7420)',
    )
    .option(
      '--open',
      'accept sessions from any peer that knows the EID (default: configured peers only)',
    )
    .option('--force', 'rewrite an existing config (an existing identity key is always kept)')
    .addOption(jsonOption())
    .action(
      async (
        dir: string | undefined,
        opts: { bind?: string[]; open?: boolean; force?: boolean } & JsonOption,
      ) => {
        // The daemon package (config schema, key store) loads only for the commands that need it.
        const { initNode } = await import('./init.js');
        const result = await initNode({
          dir,
          env: io.env,
          bind: opts.bind?.map((l) => parseLocator(l, true)),
          open: opts.open ?? false,
          force: opts.force ?? false,
        });
        if (opts.json) {
          out(toJson(result));
          return;
        }
        const lines = [
          `${result.identityCreated ? 'created' : 'kept   '} identity key ${result.identityKeyPath}`,
          `${result.configWritten ? 'wrote  ' : 'kept   '} config       ${result.configPath}`,
          `control socket       ${result.socketPath}`,
          '',
          `EID ${result.eid}`,
          '',
          `start it:  braid daemon --config ${result.configPath}`,
        ];
        if (result.socketPath !== defaultSocketPath(io.env))
          lines.push(
            `then:      export BRAID_SOCKET=${result.socketPath}   (or pass --socket to braid)`,
          );
        out(lines.join('\n'));
      },
    );

  subcommand('daemon')
    .description('run braidd in the foreground; options go to braidd (`braid daemon --help`)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[braidd-options...]', 'options for braidd, e.g. --config FILE')
    .action(async (args: string[]) => {
      const sock = program.opts<GlobalOptions>().socket;
      const extra = sock !== undefined && !args.includes('--socket') ? ['--socket', sock] : [];
      io.releaseSignals?.();
      const { runBraidd } = await import('@braid/daemon');
      setExitStatus(
        await runBraidd([...extra, ...args], {
          stdout: io.stdout,
          stderr: io.stderr,
          env: io.env,
        }),
      );
    });

  subcommand('id')
    .description(
      "print this node's EID: from the running braidd, else from the identity key on disk",
    )
    .option(
      '--config <file>',
      'read the identity key named by this braidd config (no daemon needed)',
    )
    .addOption(jsonOption())
    .action(async (opts: { config?: string } & JsonOption) => {
      const { readNodeEid } = await import('./init.js');
      const eid =
        opts.config !== undefined
          ? await readNodeEid({ configPath: opts.config, env: io.env })
          : await withClient(async (c) => (await c.status({ signal: io.signal })).eid).catch(
              async (error: unknown) => {
                // No daemon: the default identity key, if there is one, still names this node.
                if ((error as { code?: unknown }).code !== 'ERR_BRAID_DAEMON_NOT_RUNNING')
                  throw error;
                return readNodeEid({ env: io.env }).catch(() => {
                  throw error;
                });
              },
            );
      out(opts.json ? toJson({ eid }) : eid);
    });

  subcommand('status')
    .description("the daemon's identity, locators, sessions and services")
    .addOption(jsonOption())
    .action(async (opts: JsonOption) => {
      const status = await withClient((c) => c.status({ signal: io.signal }));
      out(opts.json ? toJson(status) : renderStatus(status));
    });

  const peers = subcommand('peers')
    .description('list known peers (`peers add` to add one)')
    .addOption(jsonOption())
    .action(async (opts: JsonOption) => {
      const list = await withClient((c) => c.peers({ signal: io.signal }));
      out(opts.json ? toJson({ peers: list }) : renderPeers(list));
    });
  peers
    .command('add')
    .exitOverride()
    .description("add a peer's EID and the locators it can be reached at")
    .argument('<eid>', "the peer's EID (braid1…)", (v) => parseEid(v, 'peer EID'))
    .argument('<locators...>', 'ADDRESS:PORT locators', (v, acc: string[] = []) => [
      ...acc,
      parseLocator(v),
    ])
    .addOption(jsonOption())
    .action(async (eid: string, locators: string[], opts: JsonOption) => {
      await withClient((c) => c.addPeer(eid, locators, { signal: io.signal }));
      out(opts.json ? toJson({ eid, locators }) : `added peer ${eid} at ${locators.join(', ')}`);
    });

  subcommand('sessions')
    .description('list open sessions')
    .addOption(jsonOption())
    .action(async (opts: JsonOption) => {
      const list = await withClient((c) => c.sessions({ signal: io.signal }));
      out(opts.json ? toJson({ sessions: list }) : renderSessions(list));
    });

  subcommand('paths')
    .description("each path's state, RTT, loss, window and bytes (all sessions, or one)")
    .argument('[session]', 'a session id, or the peer EID of an open session')
    .option('-w, --watch', 'redraw the table every interval with per-path throughput')
    .option(
      '-i, --interval <ms>',
      'refresh interval of --watch',
      parseIntOption('--interval', 50, WATCH_INTERVAL_MS_MAX),
      1000,
    )
    .option(
      '-n, --count <n>',
      'stop --watch after N refreshes (default: until Ctrl-C)',
      parseIntOption('--count', 1, WATCH_COUNT_MAX),
    )
    .addOption(jsonOption())
    .action(
      async (
        ref: string | undefined,
        opts: { watch?: boolean; interval: number; count?: number } & JsonOption,
      ) => {
        await withClient(async (client) => {
          const snapshot = async (): Promise<PathSnapshot[]> => {
            const sessions = ref === undefined ? await client.sessions({ signal: io.signal }) : [];
            const targets =
              ref === undefined
                ? sessions.map((s) => sessionHandle(client, s.id))
                : [await resolveSession(client, ref, io.signal)];
            const snaps: PathSnapshot[] = [];
            for (const s of targets) {
              const paths = await s.paths({ signal: io.signal });
              snaps.push({ session: s.id, peer: s.peer, atMs: performance.now(), paths });
            }
            return snaps;
          };
          if (!opts.watch) {
            const rows = pathRows(await snapshot());
            out(opts.json ? toJson(pathsDocument(rows)) : renderPathTable(rows, false));
            return;
          }
          await watchPaths(io, snapshot, opts.interval, opts.count, opts.json ?? false);
        });
      },
    );

  const path = subcommand('path').description(
    'take a path down administratively (a blackhole, to test failover) or bring it back',
  );
  for (const [verb, down] of [
    ['down', true],
    ['up', false],
  ] as const) {
    path
      .command(verb)
      .exitOverride()
      .description(
        down
          ? 'blackhole a path: nothing is sent on it until `path up`'
          : 'restore a path taken down: it is probed and rejoins once it answers',
      )
      .argument('<session>', 'a session id, or the peer EID of an open session')
      .argument('<pathId>', 'the path id (PATH column of `braid paths`)', parsePathId)
      .addOption(jsonOption())
      .action(async (ref: string, pathId: number, opts: JsonOption) => {
        const done = await withClient(async (client) => {
          const session = await resolveSession(client, ref, io.signal);
          const paths = await session.paths({ signal: io.signal });
          if (!paths.some((p) => p.id === pathId))
            throw new UnknownPathError(
              `session ${session.id} has no path ${pathId}; its paths are ${
                paths.map((p) => p.id).join(', ') || '(none)'
              }`,
            );
          await session.setPathDown(pathId, down, { signal: io.signal });
          return { session: session.id, pathId, down };
        });
        out(
          opts.json
            ? toJson(done)
            : `path ${pathId} of session ${done.session} ${down ? 'taken down' : 'let up'}`,
        );
      });
  }

  subcommand('ping')
    .description('round-trip time to a peer on each of its paths')
    .argument('<peer>', "the peer's EID (braid1…)", (v) => parseEid(v, 'peer EID'))
    .option('-c, --count <n>', 'rounds to send', parseIntOption('--count', 1, PING_COUNT_MAX), 1)
    .option(
      '--timeout <ms>',
      'how long to wait for each round',
      parseIntOption('--timeout', 1, 600_000),
      2000,
    )
    .option(
      '-i, --interval <ms>',
      'pause between rounds',
      parseIntOption('--interval', 0, 600_000),
      1000,
    )
    .addOption(jsonOption())
    .action(
      async (
        peer: string,
        opts: { count: number; timeout: number; interval: number } & JsonOption,
      ) => {
        await withClient(async (client) => {
          const session = await client.openSession(peer, { signal: io.signal });
          // Right after the session opened, the other paths are still validating: wait for them,
          // so the ping measures every path the two hosts have, not only the first.
          await settlePaths(session, {
            signal: io.signal,
            maxWaitMs: PING_SETTLE_MS,
            quietPolls: PING_SETTLE_QUIET_POLLS,
          });
          const results = [];
          for (let seq = 1; seq <= opts.count; seq++) {
            if (seq > 1) await sleep(opts.interval, undefined, { signal: io.signal });
            const round = await session.ping({ signal: io.signal, timeoutMs: opts.timeout });
            if (!opts.json) out(`${opts.count > 1 ? `round ${seq}\n` : ''}${renderPing(round)}`);
            results.push(...round.map((r) => ({ seq, ...r })));
          }
          if (opts.json) out(toJson({ peer, session: session.id, results }));
          if (results.length === 0 || results.every((r) => r.rttMs === undefined))
            throw new PingTimeoutError(
              results.length === 0
                ? `session ${session.id} to ${peer} has no usable path`
                : `no path to ${peer} answered within ${opts.timeout} ms`,
            );
        });
      },
    );

  subcommand('cat')
    .description(
      "netcat over Braid: stdin to a peer's service and its reply to stdout; or, with --listen SERVICE, serve the first stream that arrives",
    )
    .argument('[peer]', "the peer's EID (braid1…)")
    .argument('[service]', 'the service name on the peer')
    .option('-l, --listen <service>', 'serve SERVICE: the first incoming stream gets stdin/stdout')
    .action(
      async (
        peerText: string | undefined,
        serviceText: string | undefined,
        opts: { listen?: string },
      ) => {
        if (opts.listen !== undefined) {
          if (peerText !== undefined)
            throw new UsageError('`cat --listen SERVICE` takes no peer or service argument');
          const service = parseService(opts.listen);
          await withClient(async (client) => {
            const listener = await client.listen(service, { signal: io.signal });
            try {
              io.stderr.write(`listening on service ${service} as ${client.eid}\n`);
              const stream = await firstStream(listener, io.signal);
              io.stderr.write(`stream from ${stream.session.peer}\n`);
              await listener.close().catch(() => undefined);
              await splice(io, stream);
            } finally {
              await listener.close().catch(() => undefined);
            }
          });
          return;
        }
        if (peerText === undefined || serviceText === undefined)
          throw new UsageError('`cat` needs PEER and SERVICE (or --listen SERVICE)');
        const peer = parseEid(peerText, 'peer EID');
        const service = parseService(serviceText);
        await withClient(async (client) => {
          const session = await client.openSession(peer, { signal: io.signal });
          const stream = await session.openStream(service, { signal: io.signal });
          await splice(io, stream);
        });
      },
    );

  const context: CommandContext = { io, subcommand, jsonOption, out, withClient, socketPath };
  registerForwardCommands(context);
  registerDrillCommand(context);

  return program;
}

/** The session handle for an id the daemon listed. */
function sessionHandle(client: BraidClient, id: string): BraidSession {
  const s = client.session(id);
  if (!s) throw new UnknownSessionError(`session ${id} closed`);
  return s;
}

/** A session named by id, or by its peer's EID. */
async function resolveSession(
  client: BraidClient,
  ref: string,
  signal: AbortSignal | undefined,
): Promise<BraidSession> {
  const sessions = await client.sessions({ signal });
  let found = sessions.find((s) => s.id === ref);
  if (!found && ref.toLowerCase().startsWith('braid1')) {
    const eid = parseEid(ref, 'session or peer EID');
    found = sessions.find((s) => s.peer === eid);
  }
  if (!found) {
    const known = sessions.map((s) => `${s.id} (${s.peer})`).join(', ');
    throw new UnknownSessionError(
      `no session "${ref}"; ${known ? `open sessions: ${known}` : 'no session is open'} (see \`braid sessions\`)`,
    );
  }
  return sessionHandle(client, found.id);
}

async function watchPaths(
  io: CliIo,
  snapshot: () => Promise<PathSnapshot[]>,
  intervalMs: number,
  count: number | undefined,
  json: boolean,
): Promise<void> {
  const tty = io.stdout.isTTY === true && !json;
  let previous: PathSnapshot[] = [];
  let printedLines = 0;
  const limit = count ?? Number.POSITIVE_INFINITY;
  for (let i = 0; i < limit && !io.signal?.aborted; i++) {
    if (i > 0) {
      try {
        await sleep(intervalMs, undefined, { signal: io.signal });
      } catch {
        break; // Ctrl-C: stop quietly with the last table on screen
      }
    }
    const current = await snapshot();
    const rows = pathRows(current, previous);
    previous = current;
    if (json) {
      io.stdout.write(`${JSON.stringify(pathsDocument(rows, Date.now()))}\n`);
      continue;
    }
    const block = `${new Date().toISOString()}  (every ${intervalMs} ms, Ctrl-C to stop)\n${renderPathTable(rows, true)}\n`;
    if (tty) {
      io.stdout.write(redrawPrefix(printedLines) + block);
      printedLines = lineCount(block.slice(0, -1));
    } else io.stdout.write(`${block}\n`);
  }
}

async function firstStream(
  listener: AsyncIterable<BraidStream>,
  signal: AbortSignal | undefined,
): Promise<BraidStream> {
  signal?.throwIfAborted();
  const iterator = listener[Symbol.asyncIterator]();
  const aborted = new Promise<never>((_, reject) =>
    signal?.addEventListener('abort', () => reject(signal.reason), { once: true }),
  );
  const next = await Promise.race([iterator.next(), aborted]);
  if (next.done) throw new Error('the service listener closed before a stream arrived');
  return next.value;
}

/**
 * stdin → stream (half-closed at stdin's end), stream → stdout; resolves when the peer has
 * ended its half and our half is finished. Backpressure both ways comes from `pipe`.
 */
async function splice(io: CliIo, stream: BraidStream): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let readDone = false;
    let writeDone = false;
    const check = () => {
      if (readDone && writeDone) resolve();
    };
    const fail = (error: unknown) => {
      io.stdin.unpipe(stream);
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    stream.on('error', fail);
    io.stdout.on('error', fail);
    stream.on('end', () => {
      readDone = true;
      check();
    });
    stream.on('finish', () => {
      writeDone = true;
      check();
    });
    io.signal?.addEventListener('abort', () => {
      stream.destroy();
      resolve();
    });
    stream.pipe(io.stdout, { end: false });
    io.stdin.pipe(stream);
  });
}
