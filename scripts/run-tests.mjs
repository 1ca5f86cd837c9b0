#!/usr/bin/env node
// Runs every compiled test file with tap and prints the closing line CI reads:
// `N passed, N failed, N skipped`, where a test is a top-level `t.test` (or a top-level
// assertion) of a test file, and a file that crashes outside its tests counts as one failure.
// Extra arguments are passed to tap (e.g. a single file to run).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const extra = process.argv.slice(2);
const files = extra.some((a) => !a.startsWith('-'))
  ? []
  : [...readdirSync('packages').map((p) => join('packages', p, 'dist-test')), 'test/dist']
      .flatMap((dir) => testFilesUnder(dir))
      .sort();

function testFilesUnder(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) =>
    e.isDirectory()
      ? testFilesUnder(join(dir, e.name))
      : e.name.endsWith('.test.js')
        ? [join(dir, e.name)]
        : [],
  );
}

const tap = spawn(
  join('node_modules', '.bin', 'tap'),
  ['--reporter=tap', '--disable-coverage', '--jobs=2', '--timeout=600', ...files, ...extra],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, FORCE_COLOR: '0' } },
);
tap.on('error', (err) => {
  process.stdout.write(`could not start tap: ${err.message}\n0 passed, 1 failed\n`);
  process.exit(1);
});
const stop = (signal) => tap.kill(signal);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

let passed = 0;
let failed = 0;
let skipped = 0;
let failedInFile = 0;
const failures = [];
let currentFile = '';

const lines = createInterface({ input: tap.stdout });
lines.on('line', (line) => {
  process.stdout.write(line + '\n');
  const subtest = /^( *)# Subtest: (.*)$/.exec(line);
  if (subtest && subtest[1].length === 0) {
    currentFile = subtest[2];
    failedInFile = 0;
    return;
  }
  const point = /^( *)(not ok|ok) \d+(?: - )?(.*)$/.exec(line);
  if (!point) return;
  const depth = point[1].length / 4;
  const ok = point[2] === 'ok';
  const directive = / # (SKIP|TODO)\b/i.test(point[3]);
  if (depth === 1) {
    if (directive) skipped++;
    else if (ok) passed++;
    else {
      failed++;
      failedInFile++;
      failures.push(`${currentFile}: ${point[3]}`);
    }
  } else if (depth === 0 && !ok && failedInFile === 0) {
    failed++;
    failures.push(`${point[3]} (file failed outside its tests)`);
  }
});

tap.on('close', (code, signal) => {
  if (failures.length > 0) {
    process.stdout.write('\nFailures:\n' + failures.map((f) => `  - ${f}`).join('\n') + '\n');
  }
  if (code !== 0 && failed === 0) {
    failed++;
    process.stdout.write(`tap exited with ${code ?? signal} without a failing test\n`);
  }
  process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  process.exitCode = failed > 0 ? 1 : 0;
});
