/**
 * The main demo (`pnpm demo`): a file sent from one Braid host to another over a stream, the
 * path carrying it blackholed midway, the failover shown as it happens, and a hash check and
 * a short report at the end. `runDemo` works on any two `BraidClient`s; `demo-daemons.ts`
 * provides two real daemons on loopback and `demoMain` puts it all together.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MultiBar } from 'cli-progress';
import type { PathStats } from '@braid/protocol';
import type { BraidClient, BraidSession, BraidStream } from './client-api.js';
import {
  formatBytes,
  formatDuration,
  formatRate,
  renderTable,
  terminalProgressBar,
} from './format.js';
import { StallMeter } from './stall.js';

/** 64 MiB: long enough to watch at the default rate, small enough for any disk. */
export const DEMO_BYTES_DEFAULT = 64 * 1024 * 1024;
/**
 * 6 MB/s: loopback would carry the file in a second or two, too fast to see anything, so the
 * sender paces its writes to last ~11 s. `--rate 0` sends as fast as Braid goes.
 */
export const DEMO_RATE_DEFAULT = 6_000_000;
/** The service the receiver registers. */
export const DEMO_SERVICE = 'demo-file';
/** Pacing granularity: one slice per ~5 ms at the default rate, finer than a stall bucket. */
const SLICE_BYTES = 32 * 1024;
/** The stall after the blackhole is measured over this long from it. */
export const FAILOVER_WINDOW_MS = 2000;
/** How often the progress line and the per-path rates are refreshed. */
const SAMPLE_INTERVAL_MS = 250;
/** Plain (non-TTY) progress lines: one per this many ms. */
const PLAIN_LINE_INTERVAL_MS = 1000;
/** How long to wait for the session's second path to be validated before sending. */
const PATHS_READY_TIMEOUT_MS = 15_000;
/** Most event lines printed (path changes, failovers); later ones are counted, not shown. */
const EVENT_LINES_MAX = 200;
/** Bytes per write when generating the file. */
const GENERATE_CHUNK_BYTES = 1024 * 1024;

export interface DemoOptions {
  /** Size of the generated file. Default {@link DEMO_BYTES_DEFAULT}. */
  bytes?: number;
  /** Sender's pacing in bytes/s; 0 = unpaced. Default {@link DEMO_RATE_DEFAULT}. */
  rateBytesPerSecond?: number;
  /** Fraction of the file delivered when the busy path is blackholed. Default 0.5. */
  blackholeAt?: number;
  /** Where the generated and received files go (a temporary directory). */
  workDir: string;
  out: Writable & { isTTY?: boolean };
  /** Print nothing while running; the caller prints the returned report as JSON. */
  quiet?: boolean;
  signal?: AbortSignal;
}

export interface DemoHosts {
  sender: BraidClient;
  receiver: BraidClient;
}

export interface DemoFailover {
  atMs: number;
  side: 'sender' | 'receiver';
  from: number;
  to: number;
  reason: string;
  detectMs: number;
}

export interface DemoPathReport {
  id: number;
  local: string;
  remote: string;
  status: string;
  /** Stream bytes first sent on the path (sender) — what it carried of the file. */
  streamBytesSent: number;
  bytesSent: number;
  bytesReceived: number;
  reinjectedBytes: number;
}

export interface DemoReport {
  verified: boolean;
  bytes: number;
  bytesReceived: number;
  sha256Sent: string;
  sha256Received: string;
  durationMs: number;
  goodputBytesPerSecond: number;
  rateLimitBytesPerSecond: number;
  /** Longest gap in delivered bytes (10 ms buckets), and when it began (ms since the start). */
  stallMs: number;
  stallAtMs: number | null;
  /** Longest gap from the blackhole to {@link FAILOVER_WINDOW_MS} after it (null: no blackhole). */
  failoverStallMs: number | null;
  blackholed: { pathId: number; local: string; remote: string; atMs: number } | null;
  failovers: DemoFailover[];
  /** Paths that turned suspect (no acknowledgement for a probe timeout) and then answered. */
  falseAlarms: { sender: number; receiver: number };
  senderPaths: DemoPathReport[];
  receiverPaths: DemoPathReport[];
}

/** Sends a generated file from `hosts.sender` to `hosts.receiver` with a failover midway. */
export async function runDemo(hosts: DemoHosts, options: DemoOptions): Promise<DemoReport> {
  const bytes = options.bytes ?? DEMO_BYTES_DEFAULT;
  const rate = options.rateBytesPerSecond ?? DEMO_RATE_DEFAULT;
  const blackholeAt = options.blackholeAt ?? 0.5;
  const { signal } = options;
  const t0 = performance.now();
  const since = () => performance.now() - t0;
  const display = new Display(options.out, options.quiet ?? false, since);

  const sourcePath = join(options.workDir, 'demo-file.bin');
  const receivedPath = join(options.workDir, 'demo-file.received');
  display.line(`generating ${formatBytes(bytes)} of random data in ${sourcePath}`);
  const sha256Sent = await generateFile(sourcePath, bytes, signal);

  const failovers: DemoFailover[] = [];
  const falseAlarms = { sender: 0, receiver: 0 };
  const watchSession = (session: BraidSession, side: 'sender' | 'receiver') => {
    session.on('path', (e) => {
      // A path that went suspect and answered again is counted, not printed: on a busy
      // machine these come in bursts and would bury the failover. `added`/`validated` are
      // summed up by the table printed once the session is up.
      if (e.change === 'suspect' || e.change === 'added' || e.change === 'validated') return;
      if (e.change === 'up') {
        falseAlarms[side]++;
        return;
      }
      display.event(
        side,
        `path ${e.pathId} ${e.change}${e.reason ? ` (${e.reason})` : ''}  ${e.local} → ${e.remote}`,
      );
    });
    session.on('failover', (e) => {
      failovers.push({ atMs: Math.round(since()), side, ...e });
      display.event(
        side,
        `FAILOVER path ${e.from} → path ${e.to}: ${e.reason}; detected in ${formatDuration(e.detectMs)}`,
      );
    });
  };
  let receiverSession: BraidSession | undefined;
  const onSession = (s: BraidSession) => {
    if (s.peer !== hosts.sender.eid || receiverSession) return;
    receiverSession = s;
    watchSession(s, 'receiver');
  };
  hosts.receiver.on('session', onSession);

  const listener = await hosts.receiver.listen(DEMO_SERVICE, { signal });
  try {
    display.line(`receiver ${hosts.receiver.eid} listens on service "${DEMO_SERVICE}"`);
    display.line(`sender   ${hosts.sender.eid} opens a session to the receiver's EID`);
    const session = await hosts.sender.openSession(hosts.receiver.eid, { signal });
    watchSession(session, 'sender');
    const ready = await waitForPaths(session, 2, signal);
    display.line(
      `session ${session.id} up with ${ready.length} paths:\n${indent(renderSetupPaths(ready))}`,
    );

    // The receiver: the first stream for the service, into a file, hashed and timed as it goes.
    const meter = new StallMeter();
    const failoverMeter = new StallMeter();
    let blackholeAtMs: number | undefined;
    let received = 0;
    const receiverHash = createHash('sha256');
    const receiving = (async () => {
      const iterator = listener[Symbol.asyncIterator]();
      const next = await iterator.next();
      if (next.done) throw new Error('the receiver stopped listening before the stream came');
      const stream: BraidStream = next.value;
      if (!receiverSession) onSession(stream.session);
      stream.end(); // the receiver sends nothing back: its half is done
      await pipeline(
        stream,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            const at = since();
            meter.record(at, chunk.length);
            if (blackholeAtMs !== undefined && at <= blackholeAtMs + FAILOVER_WINDOW_MS)
              failoverMeter.record(at, chunk.length);
            received += chunk.length;
            receiverHash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(receivedPath),
        { signal },
      );
    })();

    const stream = await session.openStream(DEMO_SERVICE, { signal });
    display.line(
      `sending over stream ${stream.streamId}${rate > 0 ? `, paced at ${formatRate(rate)}` : ''}; the busiest path is blackholed at ${Math.round(blackholeAt * 100)}%`,
    );
    const startMs = since();
    const sending = pipeline(
      createReadStream(sourcePath, { highWaterMark: GENERATE_CHUNK_BYTES }),
      paced(rate, signal),
      stream,
      { signal },
    );

    // Watch: the per-path rates from the sender's counters, the bar, the blackhole midway.
    let blackholed: DemoReport['blackholed'] = null;
    let previous: { atMs: number; paths: PathStats[]; received: number } | undefined;
    display.startProgress(bytes);
    let finished = false;
    const done = Promise.all([sending, receiving]).finally(() => {
      finished = true;
    });
    done.catch(() => undefined); // raced below; the error surfaces at `await done`
    while (!finished) {
      await Promise.race([sleep(SAMPLE_INTERVAL_MS, undefined, { signal }), done]);
      const now = since();
      const paths = await session.paths({ signal });
      const rates = previous ? perPathRates(previous.paths, paths, now - previous.atMs) : new Map();
      const deliveredRate = previous
        ? ((received - previous.received) * 1000) / Math.max(1, now - previous.atMs)
        : undefined;
      display.progress(received, deliveredRate, describePaths(paths, rates));
      if (!blackholed && received >= blackholeAt * bytes && !finished) {
        const busiest = busiestPath(paths, rates);
        if (busiest) {
          blackholed = {
            pathId: busiest.id,
            local: busiest.local,
            remote: busiest.remote,
            atMs: Math.round(now),
          };
          blackholeAtMs = now;
          failoverMeter.mark(now);
          display.event(
            'sender',
            `BLACKHOLE path ${busiest.id} (${busiest.local} → ${busiest.remote}), the busiest, at ${formatBytes(received)}`,
          );
          await session.setPathDown(busiest.id, true, { signal });
        }
      }
      previous = { atMs: now, paths, received };
    }
    await done;
    const durationMs = since() - startMs;
    display.stopProgress(received);

    const sha256Received = receiverHash.digest('hex');
    const senderPaths = (await session.paths({ signal })).map(pathReport);
    const receiverPaths = receiverSession
      ? (await receiverSession.paths({ signal })).map(pathReport)
      : [];
    const report: DemoReport = {
      verified: sha256Received === sha256Sent && received === bytes,
      bytes,
      bytesReceived: received,
      sha256Sent,
      sha256Received,
      durationMs: Math.round(durationMs),
      goodputBytesPerSecond: Math.round((received * 1000) / Math.max(1, durationMs)),
      rateLimitBytesPerSecond: rate,
      stallMs: meter.stallMs,
      stallAtMs: meter.stallFromMs === undefined ? null : Math.round(meter.stallFromMs),
      failoverStallMs: blackholeAtMs === undefined ? null : failoverMeter.stallMs,
      blackholed,
      failovers,
      falseAlarms,
      senderPaths,
      receiverPaths,
    };
    if (blackholed) await session.setPathDown(blackholed.pathId, false, { signal });
    return report;
  } finally {
    hosts.receiver.off('session', onSession);
    await listener.close().catch(() => undefined);
    display.stopProgress(undefined);
  }
}

/** The human report printed at the end of the demo. */
export function renderReport(report: DemoReport): string {
  const lines: string[] = [];
  lines.push(`SHA-256 sent      ${report.sha256Sent}`);
  lines.push(`SHA-256 received  ${report.sha256Received}`);
  lines.push(
    report.verified
      ? 'VERIFIED: the receiver got every byte, in order, exactly once'
      : `MISMATCH: received ${report.bytesReceived} of ${report.bytes} bytes, hash ${
          report.sha256Received === report.sha256Sent ? 'equal' : 'different'
        }`,
  );
  lines.push('');
  lines.push(
    `transfer   ${formatBytes(report.bytesReceived)} in ${formatDuration(report.durationMs)} (${formatRate(
      report.goodputBytesPerSecond,
    )}${report.rateLimitBytesPerSecond > 0 ? `, paced at ${formatRate(report.rateLimitBytesPerSecond)}` : ''})`,
  );
  lines.push(
    `stall      ${formatDuration(report.stallMs)} (longest gap in delivered bytes, 10 ms buckets${
      report.stallAtMs === null ? '' : `, at +${formatDuration(report.stallAtMs)}`
    })`,
  );
  if (report.failoverStallMs !== null)
    lines.push(
      `           ${formatDuration(report.failoverStallMs)} in the ${formatDuration(FAILOVER_WINDOW_MS)} after the blackhole`,
    );
  if (report.blackholed)
    lines.push(
      `blackhole  path ${report.blackholed.pathId} (${report.blackholed.local} → ${report.blackholed.remote}) at +${formatDuration(report.blackholed.atMs)}`,
    );
  for (const f of report.failovers)
    lines.push(
      `failover   ${f.side}: path ${f.from} → path ${f.to} (${f.reason}), detected in ${formatDuration(f.detectMs)}`,
    );
  const alarms = report.falseAlarms.sender + report.falseAlarms.receiver;
  if (alarms > 0)
    lines.push(
      `suspect    ${alarms} time${alarms === 1 ? '' : 's'} a path went unacknowledged for a probe timeout and then answered (sender ${report.falseAlarms.sender}, receiver ${report.falseAlarms.receiver}); its data was re-sent on another path meanwhile`,
    );
  if (report.blackholed && report.failovers.length === 0)
    lines.push('failover   none reported (the other paths were already carrying the data)');
  lines.push('');
  lines.push("sender's paths (what each carried of the file):");
  lines.push(
    indent(
      renderTable<DemoPathReport>(
        [
          { header: 'PATH', align: 'right', value: (p) => String(p.id) },
          { header: 'LOCAL', value: (p) => p.local },
          { header: 'REMOTE', value: (p) => p.remote },
          { header: 'STATE', value: (p) => p.status },
          { header: 'FILE BYTES', align: 'right', value: (p) => formatBytes(p.streamBytesSent) },
          { header: 'SHARE', align: 'right', value: (p) => share(p.streamBytesSent, report) },
          { header: 'REINJECTED', align: 'right', value: (p) => formatBytes(p.reinjectedBytes) },
          { header: 'WIRE SENT', align: 'right', value: (p) => formatBytes(p.bytesSent) },
          { header: 'WIRE RECEIVED', align: 'right', value: (p) => formatBytes(p.bytesReceived) },
        ],
        report.senderPaths,
      ),
    ),
  );
  return lines.join('\n');
}

function share(part: number, report: DemoReport): string {
  const total = report.senderPaths.reduce((sum, p) => sum + p.streamBytesSent, 0);
  return total > 0 ? `${((part / total) * 100).toFixed(1)}%` : '—';
}

function pathReport(p: PathStats): DemoPathReport {
  return {
    id: p.id,
    local: p.local,
    remote: p.remote,
    status: p.status,
    streamBytesSent: p.streamBytesSent,
    bytesSent: p.bytesSent,
    bytesReceived: p.bytesReceived,
    reinjectedBytes: p.reinjectedBytes,
  };
}

function renderSetupPaths(paths: readonly PathStats[]): string {
  return renderTable<PathStats>(
    [
      { header: 'PATH', align: 'right', value: (p) => String(p.id) },
      { header: 'LOCAL', value: (p) => p.local },
      { header: 'REMOTE', value: (p) => p.remote },
      { header: 'STATE', value: (p) => p.status },
      { header: 'RTT', align: 'right', value: (p) => formatDuration(p.rttMs) },
    ],
    paths,
  );
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

/** Writes `bytes` of random data to `path`, returning its SHA-256. */
async function generateFile(path: string, bytes: number, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  const file = await open(path, 'w');
  try {
    const chunk = Buffer.alloc(Math.min(GENERATE_CHUNK_BYTES, Math.max(1, bytes)));
    for (let written = 0; written < bytes;) {
      signal?.throwIfAborted();
      const n = Math.min(chunk.length, bytes - written);
      const piece = chunk.subarray(0, n);
      randomFillSync(piece);
      hash.update(piece);
      await file.write(piece);
      written += n;
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

/**
 * A pipeline stage that releases the file in {@link SLICE_BYTES} slices at `rate` bytes/s on
 * average (each slice waits for its due time from the start); 0 passes everything at once.
 */
function paced(rate: number, signal?: AbortSignal) {
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    const start = performance.now();
    let released = 0;
    for await (const chunk of source) {
      for (let offset = 0; offset < chunk.length; offset += SLICE_BYTES) {
        const slice = chunk.subarray(offset, offset + SLICE_BYTES);
        if (rate > 0) {
          const waitMs = start + (released * 1000) / rate - performance.now();
          if (waitMs >= 1) await sleep(waitMs, undefined, { signal });
        }
        released += slice.length;
        yield slice;
      }
    }
  };
}

/** Waits (bounded) until `count` paths carry data, returning the session's paths. */
async function waitForPaths(
  session: BraidSession,
  count: number,
  signal?: AbortSignal,
): Promise<PathStats[]> {
  const deadline = performance.now() + PATHS_READY_TIMEOUT_MS;
  for (;;) {
    const paths = await session.paths({ signal });
    if (paths.filter((p) => p.status === 'active').length >= count) return paths;
    if (performance.now() > deadline)
      throw new Error(
        `only ${paths.filter((p) => p.status === 'active').length} of the session's ${paths.length} paths were validated within ${PATHS_READY_TIMEOUT_MS} ms; a failover needs two`,
      );
    await sleep(50, undefined, { signal });
  }
}

/** Stream bytes per second each path sent between two samples. */
function perPathRates(
  before: readonly PathStats[],
  after: readonly PathStats[],
  intervalMs: number,
): Map<number, number> {
  const rates = new Map<number, number>();
  for (const p of after) {
    const prev = before.find((q) => q.id === p.id);
    if (prev && intervalMs > 0)
      rates.set(p.id, (Math.max(0, p.streamBytesSent - prev.streamBytesSent) * 1000) / intervalMs);
  }
  return rates;
}

/**
 * The path carrying the file right now: the active one with the most bytes in flight (the
 * sampled rate covers the last second, in which the data may already have moved off a path, as
 * a false suspicion under load can do), then the most file data lately, then in total.
 */
function busiestPath(
  paths: readonly PathStats[],
  rates: Map<number, number>,
): PathStats | undefined {
  const candidates = paths.filter((p) => p.status === 'active');
  const key = (p: PathStats) => [p.bytesInFlight, rates.get(p.id) ?? 0, p.streamBytesSent];
  return candidates.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return kb[0]! - ka[0]! || kb[1]! - ka[1]! || kb[2]! - ka[2]!;
  })[0];
}

/** `#1 5.9 MB/s  #2 idle  #3 DOWN` — which paths carry the file right now. */
function describePaths(paths: readonly PathStats[], rates: Map<number, number>): string {
  return paths
    .map((p) => {
      if (p.status === 'down') return `#${p.id} DOWN`;
      if (p.status === 'suspect') return `#${p.id} suspect`;
      if (p.status === 'validating') return `#${p.id} validating`;
      const r = rates.get(p.id);
      return `#${p.id} ${r === undefined ? '…' : r < 1000 ? 'idle' : formatRate(r)}`;
    })
    .join('  ');
}

/**
 * Output of the demo: on a terminal, a cli-progress bar with log lines printed above it; elsewhere
 * (CI, a pipe), plain lines only — one progress line a second, never a redraw.
 */
class Display {
  private bar: MultiBar | undefined;
  private barHandle: ReturnType<MultiBar['create']> | undefined;
  private lastPlainMs = -Infinity;
  private eventLines = 0;
  private eventsHidden = 0;
  private total = 0;

  constructor(
    private readonly out: Writable & { isTTY?: boolean },
    private readonly quiet: boolean,
    private readonly since: () => number,
  ) {}

  line(text: string): void {
    if (this.quiet) return;
    if (this.bar) this.bar.log(`${text}\n`);
    else this.out.write(`${text}\n`);
  }

  event(side: string, text: string): void {
    if (this.eventLines >= EVENT_LINES_MAX) {
      this.eventsHidden++;
      return;
    }
    this.eventLines++;
    this.line(`+${(this.since() / 1000).toFixed(3).padStart(7)} s  [${side.padEnd(8)}] ${text}`);
  }

  startProgress(total: number): void {
    this.total = total;
    if (this.quiet || this.out.isTTY !== true) return;
    this.bar = terminalProgressBar(
      this.out,
      ' {bar} {percentage}% | {done} of {size} | {rate} | paths: {paths}',
      30,
    );
    this.barHandle = this.bar.create(total, 0, {
      done: formatBytes(0),
      size: formatBytes(total),
      rate: '…',
      paths: '',
    });
  }

  progress(done: number, rate: number | undefined, paths: string): void {
    if (this.quiet) return;
    if (this.barHandle) {
      this.barHandle.update(done, {
        done: formatBytes(done),
        size: formatBytes(this.total),
        rate: formatRate(rate),
        paths,
      });
      return;
    }
    const now = this.since();
    if (now - this.lastPlainMs < PLAIN_LINE_INTERVAL_MS) return;
    this.lastPlainMs = now;
    const pct = this.total > 0 ? Math.floor((done / this.total) * 100) : 100;
    this.out.write(
      `+${(now / 1000).toFixed(3).padStart(7)} s  progress ${String(pct).padStart(3)}%  ${formatBytes(done)} of ${formatBytes(this.total)}  ${formatRate(rate)}  paths: ${paths}\n`,
    );
  }

  stopProgress(done: number | undefined): void {
    if (this.bar) {
      if (done !== undefined) this.barHandle?.update(done, { done: formatBytes(done) });
      this.bar.stop();
      this.bar = undefined;
      this.barHandle = undefined;
    }
    if (this.eventsHidden > 0 && !this.quiet) {
      this.out.write(`(${this.eventsHidden} more events not shown)\n`);
      this.eventsHidden = 0;
    }
  }
}
