/**
 * The drill's results for people: the summary printed at the end, and the self-contained HTML
 * page of `--report` (inline CSS, SVG and a few lines of JS; no network, nothing to fetch). The
 * page marks what a test or a script reads with stable ids and data attributes: each figure is
 * `#fig-<field>` with `data-field` and `data-value` (the JSON value), the chart is
 * `#throughput-chart` with one `polyline.series[data-path-id]` per path and `line.marker`s
 * (`data-marker="fault" | "restore"`), and the whole JSON document is in `#drill-data`.
 */
import { formatBytes, formatDuration, formatRate, renderTable } from './format.js';
import type { DrillPathReport, DrillReport } from './drill-run.js';

/** The figures of the report, in the order shown, with how each reads. */
const FIGURES: {
  field: keyof DrillReport;
  label: string;
  unit: 'ms' | 'bytes' | 'bool';
  note: (r: DrillReport) => string;
}[] = [
  {
    field: 'verified',
    label: 'Verified',
    unit: 'bool',
    note: () => 'same byte count and SHA-256 at the peer as sent',
  },
  {
    field: 'detectMs',
    label: 'Detection',
    unit: 'ms',
    note: (r) => {
      const f = firstFailover(r);
      return f
        ? `fault → failover off path ${f.from} to path ${f.to}`
        : 'no failover off the faulted path was reported';
    },
  },
  {
    field: 'stallMs',
    label: 'Stall',
    unit: 'ms',
    note: (r) =>
      `longest gap in delivery at the peer (10 ms buckets)${
        r.stallAtMs === null ? '' : `, at +${formatDuration(r.stallAtMs)}`
      }`,
  },
  {
    field: 'faultStallMs',
    label: 'Stall at the fault',
    unit: 'ms',
    note: () => 'longest gap beginning between the fault and 1 s after the restore',
  },
  {
    field: 'resentBytes',
    label: 'Re-sent',
    unit: 'bytes',
    note: () => 'stream bytes retransmitted during the drill',
  },
  {
    field: 'reinjectedBytes',
    label: 'Moved off the path',
    unit: 'bytes',
    note: () =>
      'in-flight stream bytes of the faulted path re-queued on the others when it went down',
  },
  {
    field: 'lostBytes',
    label: 'Lost',
    unit: 'bytes',
    note: () => 'sent − received as the peer counted it; must be 0',
  },
  {
    field: 'recoveredMs',
    label: 'Recovery',
    unit: 'ms',
    note: () => 'restore → the path usable and carrying traffic both ways',
  },
  {
    field: 'recoveredDataMs',
    label: 'Recovery of data',
    unit: 'ms',
    note: () => 'restore → the path carrying stream data again',
  },
];

function firstFailover(r: DrillReport) {
  const at = r.fault.atMs;
  return at === null
    ? undefined
    : r.failovers.find((f) => f.atMs >= at && r.fault.pathIds.includes(f.from));
}

function formatFigure(value: unknown, unit: 'ms' | 'bytes' | 'bool'): string {
  if (value === null || value === undefined) return '—';
  if (unit === 'bool') return value ? 'yes' : 'NO';
  if (unit === 'ms') return formatDuration(value as number);
  return formatBytes(value as number);
}

/** The summary printed at the end of a drill (not `--json`). */
export function renderDrillText(r: DrillReport): string {
  const lines: string[] = [];
  lines.push(
    r.verified
      ? `VERIFIED  the peer received ${formatBytes(r.transfer.bytesReceived)}, every byte exactly once (SHA-256 ${r.transfer.sha256Received.slice(0, 16)}…)`
      : `FAILED    sent ${r.transfer.bytesSent} bytes, the peer received ${r.transfer.bytesReceived}; SHA-256 ${
          r.transfer.sha256Sent === r.transfer.sha256Received ? 'equal' : 'different'
        }`,
  );
  lines.push(`fault     ${r.fault.description}`);
  if (r.fault.atMs !== null)
    lines.push(
      `          at +${formatDuration(r.fault.atMs)}, restored at +${formatDuration(r.fault.restoredAtMs ?? undefined)}`,
    );
  lines.push(
    `transfer  ${formatBytes(r.transfer.bytesSent)} in ${formatDuration(r.transfer.durationMs)}${
      r.transfer.rateBytesPerSecond > 0
        ? `, paced at ${formatRate(r.transfer.rateBytesPerSecond)}`
        : ', unpaced'
    }${r.transfer.limitedByPeer ? " (stopped at the peer's drill.maxBytes)" : ''}`,
  );
  lines.push('');
  for (const f of FIGURES) {
    if (f.field === 'verified') continue;
    lines.push(
      `${f.label.padEnd(18)} ${formatFigure(r[f.field], f.unit).padStart(9)}  ${f.note(r)}`,
    );
  }
  if (r.failovers.length > 0) {
    lines.push('');
    for (const f of r.failovers.slice(0, 20))
      lines.push(
        `failover  +${formatDuration(f.atMs)}  path ${f.from} → path ${f.to}: ${f.reason} (protocol: ${formatDuration(f.protocolDetectMs)} since its last ACK)`,
      );
    if (r.failovers.length > 20) lines.push(`          (${r.failovers.length - 20} more)`);
  }
  lines.push('');
  lines.push(
    renderTable<DrillPathReport>(
      [
        { header: 'PATH', align: 'right', value: (p) => `${p.id}${p.faulted ? '*' : ''}` },
        { header: 'LOCAL', value: (p) => p.local },
        { header: 'REMOTE', value: (p) => p.remote },
        { header: 'STATE', value: (p) => p.status },
        { header: 'STREAM SENT', align: 'right', value: (p) => formatBytes(p.streamBytesSent) },
        { header: 'WIRE SENT', align: 'right', value: (p) => formatBytes(p.bytesSent) },
        { header: 'WIRE RECEIVED', align: 'right', value: (p) => formatBytes(p.bytesReceived) },
        { header: 'MOVED OFF', align: 'right', value: (p) => formatBytes(p.reinjectedBytes) },
      ],
      r.paths,
    ),
  );
  lines.push('(* faulted by the drill; counters are what each path did during the drill)');
  return lines.join('\n');
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** Distinct on white and for the common colour-vision deficiencies (Okabe–Ito). */
const PALETTE = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#CC79A7',
  '#56B4E9',
  '#D55E00',
  '#F0E442',
  '#000000',
];

const CHART = { width: 960, height: 360, left: 72, right: 16, top: 16, bottom: 40 };

/** A round upper bound for an axis: 1, 2 or 5 × 10^n at or above `max`. */
function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

function renderChart(r: DrillReport): string {
  const { width, height, left, right, top, bottom } = CHART;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const lastT = Math.max(
    r.transfer.durationMs,
    ...r.paths.flatMap((p) => p.timeline.map((q) => q.atMs)),
    1,
  );
  const tMax = lastT;
  const yMax = niceMax(
    Math.max(...r.paths.flatMap((p) => p.timeline.map((q) => q.txBytesPerSecond)), 0),
  );
  const x = (ms: number) => (left + (Math.max(0, ms) / tMax) * plotW).toFixed(1);
  const y = (v: number) => (top + plotH - (v / yMax) * plotH).toFixed(1);
  const parts: string[] = [];
  // Grid and axes: 5 horizontal lines, ticks every whole step of seconds.
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    parts.push(
      `<line class="grid" x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}"/>`,
      `<text class="tick" x="${left - 6}" y="${y(v)}" text-anchor="end" dominant-baseline="middle">${escapeHtml(formatRate(v))}</text>`,
    );
  }
  const stepS = niceMax(tMax / 1000 / 10);
  for (let s = 0; s * 1000 <= tMax; s += stepS)
    parts.push(
      `<text class="tick" x="${x(s * 1000)}" y="${height - bottom + 16}" text-anchor="middle">${Number(s.toFixed(3))} s</text>`,
    );
  parts.push(
    `<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}"/>`,
    `<line class="axis" x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}"/>`,
    `<text class="axis-label" x="${left + plotW / 2}" y="${height - 4}" text-anchor="middle">time since the first byte</text>`,
  );
  // The fault: a shaded span per down/up cycle, a line at each fault and at the restore.
  for (const c of r.fault.cycles) {
    const end = c.upAtMs ?? lastT;
    parts.push(
      `<rect class="fault-span" data-marker="fault-span" x="${x(c.downAtMs)}" y="${top}" width="${(Number(x(end)) - Number(x(c.downAtMs))).toFixed(1)}" height="${plotH}"/>`,
      `<line class="marker fault" data-marker="fault" data-at-ms="${c.downAtMs}" x1="${x(c.downAtMs)}" x2="${x(c.downAtMs)}" y1="${top}" y2="${top + plotH}"/>`,
    );
  }
  if (r.fault.restoredAtMs !== null)
    parts.push(
      `<line class="marker restore" data-marker="restore" data-at-ms="${r.fault.restoredAtMs}" x1="${x(r.fault.restoredAtMs)}" x2="${x(r.fault.restoredAtMs)}" y1="${top}" y2="${top + plotH}"/>`,
    );
  if (r.fault.atMs !== null)
    parts.push(
      `<text class="marker-label" x="${Number(x(r.fault.atMs)) + 4}" y="${top + 12}">fault</text>`,
    );
  if (r.fault.restoredAtMs !== null)
    parts.push(
      `<text class="marker-label" x="${Number(x(r.fault.restoredAtMs)) + 4}" y="${top + 26}">restore</text>`,
    );
  r.paths.forEach((p, i) => {
    const points = p.timeline.map((q) => `${x(q.atMs)},${y(q.txBytesPerSecond)}`).join(' ');
    parts.push(
      `<polyline class="series${p.faulted ? ' faulted' : ''}" data-path-id="${p.id}" data-points="${p.timeline.length}" stroke="${PALETTE[i % PALETTE.length]}" points="${points}"><title>path ${p.id} ${escapeHtml(p.local)} → ${escapeHtml(p.remote)}</title></polyline>`,
    );
  });
  parts.push(
    `<line id="cursor" x1="0" x2="0" y1="${top}" y2="${top + plotH}" visibility="hidden"/>`,
  );
  return `<svg id="throughput-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" data-t-max-ms="${tMax}" data-y-max="${yMax}" data-left="${left}" data-plot-width="${plotW}" role="img" aria-label="bytes per second sent on each path over time, with the fault and the restore marked">${parts.join('')}</svg>`;
}

const STYLE = `
:root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f24; background: #fff; }
body { max-width: 1000px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 1.5rem; margin: 0 0 4px; } h2 { font-size: 1.1rem; margin: 28px 0 8px; }
.meta { color: #57606a; margin: 2px 0; font-size: .9rem; } code { font-size: .85rem; }
#verdict { font-weight: 600; padding: 8px 12px; border-radius: 6px; margin: 12px 0; }
#verdict.ok { background: #dafbe1; color: #116329; } #verdict.bad { background: #ffebe9; color: #a40e26; }
#figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 10px; margin: 0; }
.figure { border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 12px; }
.figure dt { font-size: .8rem; color: #57606a; text-transform: uppercase; letter-spacing: .03em; }
.figure dd { margin: 4px 0; font-size: 1.4rem; font-variant-numeric: tabular-nums; }
.figure .note { font-size: .78rem; color: #57606a; margin: 0; }
svg { width: 100%; height: auto; background: #fff; }
.grid { stroke: #eaeef2; } .axis { stroke: #57606a; }
.tick, .axis-label, .marker-label { font-size: 11px; fill: #57606a; }
.series { fill: none; stroke-width: 1.8; } .series.faulted { stroke-width: 2.6; }
.fault-span { fill: #cf222e; opacity: .08; }
.marker { stroke-width: 1.5; stroke-dasharray: 4 3; } .marker.fault { stroke: #cf222e; } .marker.restore { stroke: #1a7f37; }
#cursor { stroke: #8c959f; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 6px 18px; font-size: .85rem; }
.swatch { display: inline-block; width: 14px; height: 4px; vertical-align: middle; margin-right: 6px; }
#tooltip { font-size: .82rem; min-height: 1.3em; color: #1b1f24; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; font-size: .85rem; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
`;

/** A few lines for the chart's hover read-out; the page works without them. */
const SCRIPT = `
(() => {
  const data = JSON.parse(document.getElementById('drill-data').textContent);
  const svg = document.getElementById('throughput-chart');
  const cursor = document.getElementById('cursor');
  const tip = document.getElementById('tooltip');
  const tMax = Number(svg.dataset.tMaxMs), left = Number(svg.dataset.left), w = Number(svg.dataset.plotWidth);
  const rate = (v) => v >= 1e6 ? (v / 1e6).toFixed(2) + ' MB/s' : v >= 1e3 ? (v / 1e3).toFixed(1) + ' kB/s' : Math.round(v) + ' B/s';
  svg.addEventListener('mousemove', (e) => {
    const box = svg.getBoundingClientRect();
    const vx = ((e.clientX - box.left) / box.width) * svg.viewBox.baseVal.width;
    const t = ((vx - left) / w) * tMax;
    if (t < 0 || t > tMax) return;
    cursor.setAttribute('x1', vx); cursor.setAttribute('x2', vx); cursor.setAttribute('visibility', 'visible');
    const parts = data.paths.map((p) => {
      let best; for (const q of p.timeline) if (!best || Math.abs(q.atMs - t) < Math.abs(best.atMs - t)) best = q;
      return best ? 'path ' + p.id + ': ' + rate(best.txBytesPerSecond) + ' (' + best.status + ')' : '';
    });
    tip.textContent = '+' + (t / 1000).toFixed(2) + ' s   ' + parts.filter(Boolean).join('   ');
  });
  svg.addEventListener('mouseleave', () => { cursor.setAttribute('visibility', 'hidden'); tip.textContent = ''; });
})();
`;

/** The `--report` page. */
export function renderDrillHtml(r: DrillReport): string {
  const figures = FIGURES.map((f) => {
    const value = r[f.field] as number | boolean | null;
    return `<div class="figure" id="fig-${f.field}" data-field="${f.field}" data-value="${escapeHtml(
      JSON.stringify(value),
    )}"><dt>${escapeHtml(f.label)}</dt><dd>${escapeHtml(formatFigure(value, f.unit))}</dd><p class="note">${escapeHtml(f.note(r))}</p></div>`;
  }).join('\n');
  const legend = r.paths
    .map(
      (p, i) =>
        `<li data-path-id="${p.id}"><span class="swatch" style="background:${PALETTE[i % PALETTE.length]}"></span>path ${p.id} ${escapeHtml(p.local)} → ${escapeHtml(p.remote)}${p.faulted ? ' <strong>(faulted)</strong>' : ''}</li>`,
    )
    .join('');
  const pathRows = r.paths
    .map(
      (p) =>
        `<tr data-path-id="${p.id}"><td>${p.id}${p.faulted ? ' *' : ''}</td><td><code>${escapeHtml(p.local)}</code></td><td><code>${escapeHtml(p.remote)}</code></td><td>${escapeHtml(p.status)}</td><td class="n">${formatBytes(p.streamBytesSent)}</td><td class="n">${formatBytes(p.bytesSent)}</td><td class="n">${formatBytes(p.bytesReceived)}</td><td class="n">${formatBytes(p.reinjectedBytes)}</td></tr>`,
    )
    .join('');
  const failoverRows = r.failovers
    .map(
      (f) =>
        `<tr><td class="n">+${escapeHtml(formatDuration(f.atMs))}</td><td>${f.from} → ${f.to}</td><td>${escapeHtml(f.reason)}</td><td class="n">${escapeHtml(formatDuration(f.protocolDetectMs))}</td></tr>`,
    )
    .join('');
  const verdict = r.verified && r.lostBytes === 0;
  const title = `Braid failover drill: ${verdict ? 'verified' : 'FAILED'} — ${r.fault.mode}`;
  // `<` escaped so the document cannot end the script element early.
  const json = JSON.stringify(r).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Failover drill</h1>
<p class="meta">peer <code>${escapeHtml(r.peer)}</code> · session <code>${escapeHtml(r.session)}</code> · started ${escapeHtml(r.startedAt)}</p>
<p class="meta" id="fault-description" data-mode="${r.fault.mode}">${escapeHtml(r.fault.description)}${
    r.fault.atMs === null
      ? ''
      : ` — at +${escapeHtml(formatDuration(r.fault.atMs))}, restored at +${escapeHtml(formatDuration(r.fault.restoredAtMs ?? undefined))}`
  }</p>
<p class="meta">transfer: ${escapeHtml(formatBytes(r.transfer.bytesSent))} in ${escapeHtml(formatDuration(r.transfer.durationMs))}, ${
    r.transfer.rateBytesPerSecond > 0
      ? `paced at ${escapeHtml(formatRate(r.transfer.rateBytesPerSecond))}`
      : 'unpaced'
  }</p>
<p id="verdict" class="${verdict ? 'ok' : 'bad'}" data-verified="${r.verified}">${
    verdict
      ? 'VERIFIED: the peer received every byte, exactly once, in order (same count and SHA-256)'
      : `FAILED: sent ${r.transfer.bytesSent} bytes, the peer received ${r.transfer.bytesReceived}`
  }</p>
<dl id="figures">
${figures}
</dl>
<h2>Throughput per path (bytes sent on each, every ${r.sampleIntervalMs} ms)</h2>
${renderChart(r)}
<div id="tooltip"></div>
<ul class="legend" id="legend">${legend}<li><span class="swatch" style="background:#cf222e"></span>fault</li><li><span class="swatch" style="background:#1a7f37"></span>restore</li></ul>
<h2>Paths during the drill</h2>
<table id="paths"><thead><tr><th>path</th><th>local</th><th>remote</th><th>state</th><th class="n">stream sent</th><th class="n">wire sent</th><th class="n">wire received</th><th class="n">moved off</th></tr></thead><tbody>${pathRows}</tbody></table>
<h2>Failovers</h2>
${
  r.failovers.length === 0
    ? '<p id="failovers">none reported</p>'
    : `<table id="failovers"><thead><tr><th class="n">at</th><th>paths</th><th>reason</th><th class="n">since last ACK</th></tr></thead><tbody>${failoverRows}</tbody></table>`
}
<script type="application/json" id="drill-data">${json}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
