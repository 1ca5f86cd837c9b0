/**
 * `braid drill --report FILE.html` opened in a real headless Chromium (Debian's
 * /usr/bin/chromium, driven by playwright-core; no browser is downloaded): the page renders
 * offline, the chart has one series per path with its points and the fault and restore marked,
 * the figures it shows are the `--json` document's, and its inline script runs. Skipped, with the
 * reason, where Chromium is not installed.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { runBraid, tempDir, twoDaemons } from './support/run.js';

t.setTimeout(300_000); // a bound on a hang; nothing here is timed

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface DrillDocument {
  fault: { pathIds: number[]; cycles: unknown[]; restoredAtMs: number | null; mode: string };
  paths: { id: number; faulted: boolean; timeline: unknown[] }[];
  [field: string]: unknown;
}

/** The figures the page shows, and how each is printed. */
const FIGURES: [string, 'ms' | 'bytes' | 'bool'][] = [
  ['verified', 'bool'],
  ['detectMs', 'ms'],
  ['stallMs', 'ms'],
  ['faultStallMs', 'ms'],
  ['resentBytes', 'bytes'],
  ['reinjectedBytes', 'bytes'],
  ['lostBytes', 'bytes'],
  ['recoveredMs', 'ms'],
  ['recoveredDataMs', 'ms'],
];

/** A shown value back to a number: `4.70 ms`, `1.50 s`, `25.0 kB`, `0 B`. */
function parseShown(text: string): number | undefined {
  const m = /^(-?[\d.]+) (ms|s|B|kB|MB|GB)$/.exec(text.trim());
  if (!m) return undefined;
  const scale = { ms: 1, s: 1000, B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[m[2] as 'ms'];
  return Number(m[1]) * scale;
}

t.test(
  'the --report page in headless Chromium: chart, markers, and the figures of the JSON',
  { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (Debian package chromium)` },
  async (t) => {
    const [a, b] = await twoDaemons(t);
    const dir = await tempDir(t, 'braid-drill-report-');
    const reportPath = join(dir, 'drill.html');
    // `down`: every path from one local address goes down at once (two of the four).
    const r = await runBraid([
      '--socket',
      a.socketPath,
      'drill',
      b.eid,
      '--fault',
      'down',
      '--seconds',
      '4',
      '--fault-at',
      '1',
      '--fault-for',
      '1.5',
      '--json',
      '--report',
      reportPath,
    ]);
    t.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as DrillDocument;
    t.equal(doc.verified, true);
    t.equal(doc.lostBytes, 0);
    t.equal(doc.fault.mode, 'down');
    t.equal(doc.fault.pathIds.length, 2, 'both paths from the address went down');
    t.same(
      doc.paths
        .filter((p) => p.faulted)
        .map((p) => p.id)
        .sort(),
      [...doc.fault.pathIds].sort(),
    );
    const html = await readFile(reportPath, 'utf8');
    t.notMatch(html, /\b(?:src|href)=["']?(?:https?:)?\/\//i, 'nothing to fetch from a network');

    const userDataDir = await mkdtemp(join(tmpdir(), 'braid-chromium-'));
    t.teardown(() => rm(userDataDir, { recursive: true, force: true }));
    const context: BrowserContext = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1100, height: 900 },
    });
    // Registered after the directory's removal, so it runs first (teardowns run in reverse).
    t.teardown(() => context.close());
    const requests: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:')) return route.continue();
      requests.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    await page.goto(pathToFileURL(reportPath).href, { waitUntil: 'load' });

    t.match(await page.title(), /failover drill: verified — down/);
    t.equal(await page.locator('#verdict').getAttribute('data-verified'), 'true');
    const chart = page.locator('#throughput-chart');
    const box = await chart.boundingBox();
    t.ok(box && box.width > 300 && box.height > 100, 'the chart is laid out on the page');

    // One series per path, each with the points of its timeline, drawn.
    const series: { id: number; faulted: boolean; points: number[][]; width: number }[] =
      await page.$$eval('#throughput-chart polyline.series', (lines) =>
        lines.map((line) => ({
          id: Number(line.getAttribute('data-path-id')),
          faulted: line.classList.contains('faulted'),
          points: (line.getAttribute('points') ?? '')
            .trim()
            .split(/\s+/)
            .map((p: string) => p.split(',').map(Number)),
          // Laid out by the browser: a series with no drawn extent has width 0.
          width: (line as unknown as { getBBox(): { width: number } }).getBBox().width,
        })),
      );
    t.equal(series.length, doc.paths.length, 'one series per path');
    t.same(series.map((s) => s.id).sort(), doc.paths.map((p) => p.id).sort());
    for (const s of series) {
      const path = doc.paths.find((p) => p.id === s.id)!;
      t.equal(s.points.length, path.timeline.length, `path ${s.id}: a point per sample`);
      t.ok(s.points.length >= 2, `path ${s.id} has points`);
      t.ok(
        s.points.every((p) => p.length === 2 && p.every((v) => Number.isFinite(v))),
        `path ${s.id}: every point is a coordinate pair`,
      );
      t.ok(s.width > 0, `path ${s.id} is drawn`);
      t.equal(s.faulted, path.faulted);
    }
    t.equal(
      await page.locator('#throughput-chart line.marker[data-marker="fault"]').count(),
      doc.fault.cycles.length,
      'the fault is marked',
    );
    t.equal(
      await page.locator('#throughput-chart line.marker[data-marker="restore"]').count(),
      1,
      'the restore is marked',
    );

    // The figures: the value each carries is the JSON's, and the text shown reads the same.
    for (const [field, unit] of FIGURES) {
      const figure = page.locator(`#fig-${field}`);
      t.equal(await figure.count(), 1, `${field} is shown`);
      const value = JSON.parse((await figure.getAttribute('data-value')) ?? 'undefined') as unknown;
      t.same(value, doc[field], `${field}: the page's value is the JSON's`);
      const shown = (await figure.locator('dd').textContent())?.trim() ?? '';
      if (doc[field] === null) t.equal(shown, '—', `${field}: none, shown as —`);
      else if (unit === 'bool') t.equal(shown, doc[field] ? 'yes' : 'NO');
      else {
        const n = parseShown(shown);
        const expected = doc[field] as number;
        t.ok(
          n !== undefined && Math.abs(n - expected) <= Math.max(0.01, expected * 0.01),
          `${field}: shown "${shown}" reads ${expected}`,
        );
      }
    }
    const embedded = JSON.parse(
      (await page.locator('#drill-data').textContent()) ?? 'null',
    ) as unknown;
    t.same(embedded, doc, 'the page embeds the same document as --json');

    // The inline script runs: hovering the chart reads out each path's rate.
    await page.mouse.move(box!.x + box!.width / 2, box!.y + box!.height / 2);
    const readout = (await page.locator('#tooltip').textContent()) ?? '';
    t.match(readout, /path \d+: /, 'the hover read-out works');
    t.ok((await page.screenshot()).length > 1000, 'it renders to pixels');

    t.same(requests, [], 'the page asked for nothing beyond its own file');
    t.same(problems, [], 'no script errors');
  },
);
