/**
 * `pnpm demo` (scripts/demo.ts): parses the options, starts two braidd processes on loopback in
 * a temporary directory, runs the transfer with its failover, prints the report, and removes
 * everything it made — on success, on error and on SIGINT alike. Exit status 0 only when the
 * received file's SHA-256 matches; 1 otherwise; 2 for bad options; 130 when interrupted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { Command, CommanderError, Option } from 'commander';
import { parseIntOption } from './args.js';
import {
  DEMO_BYTES_DEFAULT,
  DEMO_RATE_DEFAULT,
  renderReport,
  runDemo,
  type DemoReport,
} from './demo.js';
import {
  DEMO_RECEIVER_BIND,
  DEMO_SENDER_BIND,
  logTail,
  startDaemons,
  type DemoDaemons,
} from './demo-hosts.js';
import { describeError, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, UsageError } from './errors.js';
import { formatBytes, formatRate, toJson } from './format.js';

/** Largest file the demo generates (it is written to a temporary directory twice). */
export const DEMO_BYTES_MAX = 4 * 1024 * 1024 * 1024;

export interface DemoIo {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable;
  signal?: AbortSignal;
}

interface DemoCliOptions {
  bytes: number;
  rate: number;
  blackholeAt: number;
  scheduler: 'aggregate' | 'active-backup';
  json?: boolean;
}

function fraction(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n >= 1)
    throw new UsageError(`bad --blackhole-at "${text}": expected a fraction between 0 and 1`);
  return n;
}

function megabytesPerSecond(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 100_000)
    throw new UsageError(`bad --rate "${text}": expected MB/s in [0, 100000] (0: unpaced)`);
  return Math.round(n * 1_000_000);
}

/** Runs the demo with `argv` (without node and the script); returns the exit status. */
export async function demoMain(argv: readonly string[], io: DemoIo): Promise<number> {
  const program = new Command('pnpm demo --')
    .description(
      'Two braidd daemons on loopback; a file sent from one to the other through the SDK; the busy path blackholed midway; a hash check and a report.',
    )
    .option(
      '--bytes <n>',
      `size of the generated file (default ${DEMO_BYTES_DEFAULT}, 64 MiB)`,
      parseIntOption('--bytes', 1, DEMO_BYTES_MAX),
      DEMO_BYTES_DEFAULT,
    )
    .option(
      '--rate <MBps>',
      `pace the sender at this many MB/s, 0 for as fast as it goes (default ${DEMO_RATE_DEFAULT / 1e6})`,
      megabytesPerSecond,
      DEMO_RATE_DEFAULT,
    )
    .option('--blackhole-at <fraction>', 'how much of the file is delivered first', fraction, 0.5)
    .addOption(
      new Option('--scheduler <name>', 'how the session uses its paths')
        .choices(['active-backup', 'aggregate'])
        .default('active-backup'),
    )
    .option('--json', 'print the report as one JSON document, nothing else')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  let opts: DemoCliOptions;
  try {
    program.parse([...argv], { from: 'user' });
    opts = program.opts<DemoCliOptions>();
  } catch (error) {
    if (error instanceof CommanderError)
      return error.code === 'commander.helpDisplayed' ? EXIT_OK : EXIT_USAGE;
    io.stderr.write(`demo: ${describeError(error)}\n`);
    return EXIT_USAGE;
  }

  const say = (text: string) => {
    if (!opts.json) io.stdout.write(`${text}\n`);
  };
  const workDir = await mkdtemp(join(tmpdir(), 'braid-demo-'));
  let hosts: DemoDaemons | undefined;
  try {
    say('Braid demo: two braidd daemons on loopback, one file, a path blackholed midway.');
    hosts = await startDaemons(
      workDir,
      [
        {
          name: 'sender',
          bind: DEMO_SENDER_BIND,
          config: { protocol: { scheduler: opts.scheduler } },
        },
        {
          name: 'receiver',
          bind: DEMO_RECEIVER_BIND,
          config: { protocol: { scheduler: opts.scheduler } },
        },
      ],
      io.signal,
    );
    const [sender, receiver] = hosts.daemons as [
      DemoDaemons['daemons'][number],
      DemoDaemons['daemons'][number],
    ];
    for (const d of [sender, receiver])
      say(`  ${d.name.padEnd(8)} braidd pid ${d.pid}  ${d.eid}  UDP ${d.locators.join(', ')}`);
    say(
      `  state, sockets and logs in ${workDir} (removed at the end); scheduler ${opts.scheduler}`,
    );
    say(
      `  Linux routes all of 127.0.0.0/8 to loopback, so each daemon has two addresses of its own and the session one path per (local, remote) pair.`,
    );
    say(
      `  the file: ${formatBytes(opts.bytes)} of random bytes${opts.rate > 0 ? `, sent at ${formatRate(opts.rate)} so the failover can be watched (--rate 0: unpaced)` : ''}`,
    );
    say('');
    const report: DemoReport = await runDemo(
      { sender: sender.client, receiver: receiver.client },
      {
        bytes: opts.bytes,
        rateBytesPerSecond: opts.rate,
        blackholeAt: opts.blackholeAt,
        workDir,
        out: io.stdout,
        quiet: opts.json ?? false,
        ...(io.signal && { signal: io.signal }),
      },
    );
    if (opts.json) io.stdout.write(toJson(report));
    else say(`\n${renderReport(report)}`);
    return report.verified ? EXIT_OK : EXIT_RUNTIME;
  } catch (error) {
    if (io.signal?.aborted) {
      io.stderr.write('demo: interrupted; stopping the daemons and removing the files\n');
      return 130;
    }
    io.stderr.write(`demo: ${describeError(error)}\n`);
    for (const d of hosts?.daemons ?? [])
      io.stderr.write(`--- ${d.name} braidd log (last lines) ---\n${await logTail(d.logPath)}\n`);
    return EXIT_RUNTIME;
  } finally {
    await hosts?.close();
    await rm(workDir, { recursive: true, force: true });
  }
}
