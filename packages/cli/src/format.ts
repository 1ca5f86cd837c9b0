/**
 * Everything the CLI and the demo print: human units, aligned tables, the JSON documents of
 * `--json`, and the per-path throughput computed from two snapshots of byte counters. Pure
 * functions of their arguments (no clock, no I/O), so each is unit-tested.
 */
import type { Writable } from 'node:stream';
import { MultiBar } from 'cli-progress';
import type { PathStats } from '@braid/protocol';
import type { NodeStatus, PeerEntry, PingResult, SessionSummary } from './client-api.js';

/** Bytes in SI units (`1.50 MB`): the unit of link rates, so sizes and rates read alike. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '—';
  const sign = bytes < 0 ? '-' : '';
  let value = Math.abs(bytes);
  if (value < 1000) return `${sign}${Math.round(value)} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let unit = -1;
  while (value >= 999.95 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${sign}${value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0)} ${units[unit]}`;
}

/** A rate in bytes per second (`12.3 MB/s`). */
export function formatRate(bytesPerSecond: number | undefined): string {
  if (bytesPerSecond === undefined || !Number.isFinite(bytesPerSecond)) return '—';
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** A short duration: `0.42 ms`, `12.3 ms`, `850 ms`, `12.3 s`, `3m20s`, `2h05m`. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const totalS = Math.floor(s);
  if (totalS < 3600) return `${Math.floor(totalS / 60)}m${pad2(totalS % 60)}s`;
  const totalM = Math.floor(totalS / 60);
  if (totalM < 24 * 60) return `${Math.floor(totalM / 60)}h${pad2(totalM % 60)}m`;
  return `${Math.floor(totalM / 1440)}d${pad2(Math.floor((totalM % 1440) / 60))}h`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** A ratio in [0, 1] as a percentage with one decimal (`2.5%`). */
export function formatPercent(ratio: number | undefined): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return '—';
  const pct = ratio * 100;
  return `${pct === 0 ? '0' : pct < 0.1 ? '<0.1' : pct.toFixed(1)}%`;
}

export type Align = 'left' | 'right';

export interface Column<Row> {
  header: string;
  align?: Align;
  value: (row: Row) => string;
}

/**
 * An aligned text table: a header line, then one line per row, columns separated by two spaces,
 * trailing spaces trimmed. Widths count code points, so `—` and `→` take one column.
 */
export function renderTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((c) => c.value(row)));
  const widths = columns.map((c, i) =>
    Math.max(width(c.header), ...cells.map((line) => width(line[i] ?? ''))),
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => {
        const gap = ' '.repeat(widths[i]! - width(v));
        return columns[i]!.align === 'right' ? gap + v : v + gap;
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map((values) => line(values))].join('\n');
}

function width(text: string): number {
  return [...text].length;
}

/** The single JSON document a `--json` command prints: two-space indented, newline-terminated. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, jsonReplacer, 2)}\n`;
}

/** `undefined` becomes `null` so every documented field is present; bytes become hex. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value === undefined) return null;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'bigint') return value.toString();
  return value;
}

// ---------------------------------------------------------------------------------------------
// Paths: snapshots, throughput from counter deltas, the table of `braid paths`.

/** One session's paths at one moment. */
export interface PathSnapshot {
  session: string;
  peer: string;
  /** Monotonic milliseconds when the snapshot was taken. */
  atMs: number;
  paths: PathStats[];
}

/** A path with the throughput measured between two snapshots (undefined on the first). */
export interface PathRow extends PathStats {
  session: string;
  peer: string;
  /** Bytes per second sent / received on the path since the previous snapshot. */
  txBytesPerSecond: number | undefined;
  rxBytesPerSecond: number | undefined;
}

/**
 * Rows for every path of `current`, with throughput from the byte-counter deltas against
 * `previous` (the same session and path id). A counter that went backwards (a path id reused
 * after the path was removed) or a zero interval gives no rate rather than a wrong one.
 */
export function pathRows(
  current: readonly PathSnapshot[],
  previous: readonly PathSnapshot[] = [],
): PathRow[] {
  const before = new Map<string, { atMs: number; path: PathStats }>();
  for (const snap of previous)
    for (const p of snap.paths) before.set(`${snap.session}/${p.id}`, { atMs: snap.atMs, path: p });
  const rows: PathRow[] = [];
  for (const snap of current) {
    for (const p of snap.paths) {
      const prev = before.get(`${snap.session}/${p.id}`);
      rows.push({
        ...p,
        session: snap.session,
        peer: snap.peer,
        txBytesPerSecond: prev && rate(p.bytesSent - prev.path.bytesSent, snap.atMs - prev.atMs),
        rxBytesPerSecond:
          prev && rate(p.bytesReceived - prev.path.bytesReceived, snap.atMs - prev.atMs),
      });
    }
  }
  return rows;
}

function rate(deltaBytes: number, deltaMs: number): number | undefined {
  if (!(deltaMs > 0) || deltaBytes < 0) return undefined;
  return (deltaBytes * 1000) / deltaMs;
}

/** `braid paths`: one line per path; `withRates` adds the throughput columns of `--watch`. */
export function renderPathTable(rows: readonly PathRow[], withRates: boolean): string {
  if (rows.length === 0) return 'no paths (no open session)';
  const columns: Column<PathRow>[] = [
    { header: 'SESSION', value: (r) => r.session },
    { header: 'PATH', align: 'right', value: (r) => String(r.id) },
    { header: 'LOCAL', value: (r) => r.local },
    { header: 'REMOTE', value: (r) => r.remote },
    { header: 'STATE', value: (r) => r.status + (r.standby && r.status !== 'standby' ? '*' : '') },
    { header: 'RTT', align: 'right', value: (r) => formatDuration(r.rttMs) },
    { header: 'LOSS', align: 'right', value: (r) => formatPercent(r.lossRate) },
    { header: 'CWND', align: 'right', value: (r) => formatBytes(r.cwndBytes) },
    { header: 'INFLIGHT', align: 'right', value: (r) => formatBytes(r.bytesInFlight) },
  ];
  if (withRates)
    columns.push(
      { header: 'TX/S', align: 'right', value: (r) => formatRate(r.txBytesPerSecond) },
      { header: 'RX/S', align: 'right', value: (r) => formatRate(r.rxBytesPerSecond) },
    );
  columns.push(
    { header: 'SENT', align: 'right', value: (r) => formatBytes(r.bytesSent) },
    { header: 'RECEIVED', align: 'right', value: (r) => formatBytes(r.bytesReceived) },
    { header: 'REASON', value: (r) => r.reason },
  );
  return renderTable(columns, rows);
}

/** The `--json` document of `braid paths` (and each line of `--watch --json`). */
export function pathsDocument(rows: readonly PathRow[], atMs?: number): unknown {
  const sessions = new Map<string, { id: string; peer: string; paths: unknown[] }>();
  for (const r of rows) {
    let s = sessions.get(r.session);
    if (!s) {
      s = { id: r.session, peer: r.peer, paths: [] };
      sessions.set(r.session, s);
    }
    const { session: _session, peer: _peer, ...path } = r;
    s.paths.push(path);
  }
  return atMs === undefined
    ? { sessions: [...sessions.values()] }
    : { atMs, sessions: [...sessions.values()] };
}

// ---------------------------------------------------------------------------------------------
// Watch mode: redraw a block of text in place on a terminal.

/** ANSI: move the cursor to the start of the line `lines` up, then erase to the end of screen. */
export function redrawPrefix(previousLines: number): string {
  return previousLines > 0 ? `\x1b[${previousLines}F\x1b[J` : '';
}

/** Lines a block occupies once printed with its trailing newline. */
export function lineCount(block: string): number {
  return block.length === 0 ? 0 : block.split('\n').length;
}

// ---------------------------------------------------------------------------------------------
// The other commands' tables.

/** `braid status`; a daemon's status also names its pid, socket and metrics URL. */
export function renderStatus(
  status: NodeStatus & { pid?: number; socketPath?: string; metricsUrl?: string },
): string {
  const rows: [string, string][] = [
    ['eid', status.eid],
    ['mode', status.mode],
    ['version', status.version],
    ['uptime', formatDuration(status.uptimeMs)],
    ['sessions', String(status.sessions)],
    ['locators', status.locators.length > 0 ? status.locators.join(', ') : '(none)'],
    ['services', status.services.length > 0 ? status.services.join(', ') : '(none)'],
  ];
  if (status.pid !== undefined) rows.push(['pid', String(status.pid)]);
  if (status.socketPath !== undefined) rows.push(['socket', status.socketPath]);
  if (status.metricsUrl !== undefined) rows.push(['metrics', status.metricsUrl]);
  const keyWidth = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(keyWidth)}  ${v}`).join('\n');
}

export function renderSessions(sessions: readonly SessionSummary[]): string {
  if (sessions.length === 0) return 'no sessions';
  return renderTable<SessionSummary>(
    [
      { header: 'SESSION', value: (s) => s.id },
      { header: 'PEER', value: (s) => s.peer },
      { header: 'ROLE', value: (s) => s.role },
      { header: 'STATE', value: (s) => (s.suspended ? `${s.state} (suspended)` : s.state) },
      { header: 'PATHS', align: 'right', value: (s) => `${s.pathsUp}/${s.paths}` },
      { header: 'RTT', align: 'right', value: (s) => formatDuration(s.stats.rttMs) },
      { header: 'SENT', align: 'right', value: (s) => formatBytes(s.stats.bytesSent) },
      { header: 'RECEIVED', align: 'right', value: (s) => formatBytes(s.stats.bytesReceived) },
      { header: 'LOST', align: 'right', value: (s) => String(s.stats.packetsLost) },
      { header: 'FAILOVERS', align: 'right', value: (s) => String(s.stats.failovers) },
    ],
    sessions,
  );
}

export function renderPeers(peers: readonly PeerEntry[]): string {
  if (peers.length === 0) return 'no peers';
  return renderTable<PeerEntry>(
    [
      { header: 'PEER', value: (p) => p.eid },
      { header: 'SOURCE', value: (p) => p.source },
      { header: 'CONNECTED', value: (p) => (p.connected ? 'yes' : 'no') },
      { header: 'LOCATORS', value: (p) => p.locators.join(', ') },
    ],
    peers,
  );
}

export function renderPing(results: readonly PingResult[]): string {
  if (results.length === 0) return 'no usable path to ping';
  return renderTable<PingResult>(
    [
      { header: 'PATH', align: 'right', value: (r) => String(r.pathId) },
      { header: 'LOCAL', value: (r) => r.local },
      { header: 'REMOTE', value: (r) => r.remote },
      {
        header: 'RTT',
        align: 'right',
        value: (r) => (r.rttMs === undefined ? 'timeout' : formatDuration(r.rttMs)),
      },
    ],
    results,
  );
}

/**
 * A cli-progress bar drawn on `out` (a terminal): the look `pnpm demo` and `braid drill` share,
 * with their own `format` line and bar width.
 */
export function terminalProgressBar(out: Writable, format: string, barsize: number): MultiBar {
  return new MultiBar({
    stream: out as NodeJS.WritableStream,
    format,
    barsize,
    hideCursor: true,
    clearOnComplete: false,
    linewrap: false,
    fps: 10,
    gracefulExit: false,
    barCompleteChar: '█',
    barIncompleteChar: '░',
  });
}
