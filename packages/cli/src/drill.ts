/**
 * `braid drill PEER`: the failover drill (drill-run.ts) as a command — options, the progress
 * display, the summary or the `--json` document, the `--report` page, and the exit status
 * (0 only when the fault was induced and every byte arrived, verified).
 */
import { access, constants, rename, writeFile } from 'node:fs/promises';
import { Option } from 'commander';
import { dirname, resolve } from 'node:path';
import { parseEid, parseIntOption, parsePathId } from './args.js';
import type { CommandContext } from './context.js';
import {
  DRILL_BYTES_MAX,
  DRILL_FAULTS,
  DRILL_FAULT_AT_DEFAULT_S,
  DRILL_FAULT_FOR_DEFAULT_S,
  DRILL_FLAPS_DEFAULT,
  DRILL_FLAPS_MAX,
  DRILL_RATE_DEFAULT,
  DRILL_RATE_MAX,
  DRILL_SECONDS_DEFAULT,
  DRILL_SECONDS_MAX,
  parseByteSize,
  parseSeconds,
  planDrill,
  type DrillCommandOptions,
} from './drill-args.js';
import { DrillDisplay } from './drill-display.js';
import { DrillFailedError, DrillInterruptedError, DrillReportError } from './drill-errors.js';
import { renderDrillHtml, renderDrillText } from './drill-report.js';
import { openDrillSession, runDrill, type DrillReport } from './drill-run.js';
import { formatBytes, formatDuration, formatRate, toJson } from './format.js';

export function registerDrillCommand(ctx: CommandContext): void {
  const { io } = ctx;
  ctx
    .subcommand('drill')
    .description(
      "failover drill: a measured transfer to the peer's drill service, a fault on one path, and detection, stall, re-sent and lost bytes, recovery",
    )
    .argument('<peer>', "the peer's EID (braid1…)", (v) => parseEid(v, 'peer EID'))
    .addOption(
      new Option(
        '--fault <kind>',
        'blackhole (one path sends nothing), down (every path from its local address), flap (down/up --flaps times)',
      )
        .choices(DRILL_FAULTS)
        .default('blackhole'),
    )
    .option(
      '--path <id>',
      'the path to fault (default: the one carrying the most data at the fault)',
      parsePathId,
    )
    .option(
      '--bytes <n>',
      'send exactly N bytes (e.g. 64M, 1GiB) instead of for --seconds',
      parseByteSize('--bytes', 1, DRILL_BYTES_MAX),
    )
    .addOption(
      new Option(
        '--seconds <s>',
        `send for S seconds (default: ${DRILL_SECONDS_DEFAULT})`,
      ).argParser(parseSeconds('--seconds', 1, DRILL_SECONDS_MAX)),
    )
    .addOption(
      new Option('--rate <r>', 'pace the transfer at R bytes/s (e.g. 10M); 0: as fast as it goes')
        .argParser(parseByteSize('--rate', 0, DRILL_RATE_MAX, true))
        .default(DRILL_RATE_DEFAULT, formatRate(DRILL_RATE_DEFAULT)),
    )
    .addOption(
      new Option('--fault-at <s>', 'seconds from the first byte to the fault')
        .argParser(parseSeconds('--fault-at', 0, DRILL_SECONDS_MAX))
        .default(DRILL_FAULT_AT_DEFAULT_S * 1000, String(DRILL_FAULT_AT_DEFAULT_S)),
    )
    .addOption(
      new Option('--fault-for <s>', 'seconds until the path is restored')
        .argParser(parseSeconds('--fault-for', 0, DRILL_SECONDS_MAX))
        .default(DRILL_FAULT_FOR_DEFAULT_S * 1000, String(DRILL_FAULT_FOR_DEFAULT_S)),
    )
    .addOption(
      new Option('--flaps <n>', 'down/up cycles of --fault flap within --fault-for')
        .argParser(parseIntOption('--flaps', 1, DRILL_FLAPS_MAX))
        .default(DRILL_FLAPS_DEFAULT),
    )
    .option(
      '--report <file>',
      'also write a self-contained HTML page: throughput per path and the figures',
    )
    .addOption(ctx.jsonOption())
    .action(
      async (peer: string, opts: DrillCommandOptions & { report?: string; json?: boolean }) => {
        const plan = planDrill(opts);
        const reportPath = opts.report === undefined ? undefined : resolve(opts.report);
        if (reportPath !== undefined) await checkWritable(reportPath);
        // With --json stdout carries only the document: progress goes to a terminal on stderr.
        const stderr = io.stderr as typeof io.stderr & { isTTY?: boolean };
        const display = new DrillDisplay(
          opts.json ? (stderr.isTTY === true ? stderr : undefined) : io.stdout,
        );
        const report = await ctx.withClient(async (client) => {
          const { session, paths } = await openDrillSession(client, peer, io.signal);
          const usable = paths.filter((p) => p.status === 'active' || p.status === 'standby');
          display.line(
            `drill to ${peer}: session ${session.id}, ${usable.length} usable paths (${usable
              .map((p) => `${p.id}: ${p.local} → ${p.remote}`)
              .join('; ')})`,
          );
          display.line(
            `${plan.bytes !== undefined ? `sending ${formatBytes(plan.bytes)}` : `sending for ${formatDuration(plan.durationMs)}`}${
              plan.rateBytesPerSecond > 0
                ? ` at ${formatRate(plan.rateBytesPerSecond)}`
                : ' unpaced'
            }; ${plan.fault} ${plan.pathId === undefined ? 'the busiest path' : `path ${plan.pathId}`} at +${formatDuration(plan.faultAtMs)} for ${formatDuration(plan.faultForMs)}`,
          );
          try {
            return await runDrill(session, plan, display, io.signal);
          } catch (error) {
            if (io.signal?.aborted)
              throw new DrillInterruptedError(
                'interrupted: the drill stopped before it finished (any path it had taken down was let up)',
                { cause: error },
              );
            throw error;
          } finally {
            display.stop();
          }
        });
        if (reportPath !== undefined) await writeReport(reportPath, renderDrillHtml(report));
        if (opts.json) ctx.out(toJson(report));
        else {
          ctx.out(renderDrillText(report));
          if (reportPath !== undefined) ctx.out(`report written to ${reportPath}`);
        }
        const failure = failureOf(report);
        if (failure) throw new DrillFailedError(failure);
      },
    );
}

/** Why the drill failed, or undefined when it passed. */
function failureOf(r: DrillReport): string | undefined {
  if (!r.verified || r.lostBytes !== 0)
    return `the drill lost or altered data: sent ${r.transfer.bytesSent} bytes, the peer received ${r.transfer.bytesReceived} (SHA-256 ${
      r.transfer.sha256Sent === r.transfer.sha256Received ? 'equal' : 'different'
    })`;
  if (!r.fault.induced)
    return 'no fault was induced (the transfer ended before --fault-at): nothing was drilled; send longer (--seconds, --bytes) or fault earlier';
  return undefined;
}

/** Fails before the drill, not after it, when the report cannot be written. */
async function checkWritable(path: string): Promise<void> {
  try {
    await access(dirname(path), constants.W_OK);
  } catch (error) {
    throw new DrillReportError(
      `cannot write the report ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)} on its directory`,
      { cause: error },
    );
  }
}

/** Writes the page whole or not at all (a temporary file renamed over the target). */
async function writeReport(path: string, html: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, html, { mode: 0o644 });
    await rename(tmp, path);
  } catch (error) {
    throw new DrillReportError(
      `cannot write the report ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      { cause: error },
    );
  }
}
