/**
 * What `braid drill` shows while it runs: on a terminal, a cli-progress bar (elapsed or bytes,
 * send rate, each path's rate and state, the phase) with the events printed above it; elsewhere
 * (CI, a pipe) plain lines only, one progress line a second and one line per event.
 */
import type { Writable } from 'node:stream';
import type { MultiBar } from 'cli-progress';
import { formatBytes, formatRate, terminalProgressBar } from './format.js';
import type { DrillObserver, DrillProgress } from './drill-run.js';

/** Plain progress lines: one per this many ms. */
const PLAIN_LINE_INTERVAL_MS = 1000;
/** Most event lines printed; later ones are counted. */
const EVENT_LINES_MAX = 200;

export class DrillDisplay implements DrillObserver {
  private bar: MultiBar | undefined;
  private barHandle: ReturnType<MultiBar['create']> | undefined;
  private lastPlainMs = -Infinity;
  private eventLines = 0;
  private eventsHidden = 0;

  /** `out` undefined: show nothing (`--json` with no terminal to show it on). */
  constructor(private readonly out: (Writable & { isTTY?: boolean }) | undefined) {}

  line(text: string): void {
    if (!this.out) return;
    if (this.bar) this.bar.log(`${text}\n`);
    else this.out.write(`${text}\n`);
  }

  event(atMs: number, text: string): void {
    if (this.eventLines >= EVENT_LINES_MAX) {
      this.eventsHidden++;
      return;
    }
    this.eventLines++;
    this.line(`${stamp(atMs)}  ${text}`);
  }

  progress(p: DrillProgress): void {
    if (!this.out) return;
    const total = p.bytesTotal ?? p.durationMs ?? 1;
    const value = Math.min(total, p.bytesTotal !== undefined ? p.bytesSent : p.atMs);
    const fields = {
      sent: formatBytes(p.bytesSent),
      rate: formatRate(p.sendRateBytesPerSecond),
      phase: p.phase,
      paths: describePaths(p),
    };
    if (this.out.isTTY === true) {
      if (!this.bar) {
        this.bar = terminalProgressBar(
          this.out,
          ' {bar} {percentage}% | {sent} | {rate} | {phase} | {paths}',
          24,
        );
        this.barHandle = this.bar.create(total, value, fields);
      } else this.barHandle?.update(value, fields);
      return;
    }
    if (p.atMs - this.lastPlainMs < PLAIN_LINE_INTERVAL_MS) return;
    this.lastPlainMs = p.atMs;
    const pct = Math.floor((value / total) * 100);
    this.out.write(
      `${stamp(p.atMs)}  ${String(pct).padStart(3)}%  sent ${fields.sent}  ${fields.rate}  ${p.phase}  paths: ${fields.paths}\n`,
    );
  }

  stop(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = undefined;
      this.barHandle = undefined;
    }
    if (this.eventsHidden > 0 && this.out) {
      this.out.write(`(${this.eventsHidden} more events not shown)\n`);
      this.eventsHidden = 0;
    }
  }
}

function stamp(atMs: number): string {
  return `+${(atMs / 1000).toFixed(3).padStart(7)} s`;
}

/** `#0 2.1 MB/s  #1 DOWN*  #2 idle` (`*`: faulted by the drill). */
function describePaths(p: DrillProgress): string {
  return p.paths
    .map((q) => {
      const mark = q.faulted ? '*' : '';
      if (q.status !== 'active' && q.status !== 'standby')
        return `#${q.id}${mark} ${q.status.toUpperCase()}`;
      const r = q.txBytesPerSecond;
      return `#${q.id}${mark} ${r === undefined ? '…' : r < 1000 ? 'idle' : formatRate(r)}`;
    })
    .join('  ');
}
