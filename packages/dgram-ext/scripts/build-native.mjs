#!/usr/bin/env node
// Compiles src/dgram_ext.c into build/dgram_ext.node with the system C compiler: Node-API
// headers from node-api-headers, uv.h from Node's own headers. No node-gyp: one file, one
// command. Exits 0 without an addon when the platform or the toolchain is missing (the package
// then runs on its node:dgram fallback) unless --strict is given.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');

function giveUp(reason) {
  process.stderr.write(`@braid/dgram-ext: no native addon (${reason}); node:dgram fallback\n`);
  process.exit(strict ? 1 : 0);
}

if (process.platform !== 'linux') giveUp(`platform ${process.platform}`);

let napiInclude;
try {
  napiInclude = createRequire(join(root, 'package.json'))('node-api-headers').include_dir;
} catch {
  giveUp('node-api-headers is not installed');
}
const uvInclude = [
  join(dirname(process.execPath), '..', 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
].find((dir) => existsSync(join(dir, 'uv.h')));
if (!uvInclude) giveUp("Node's headers (uv.h) not found");

const source = join(root, 'src', 'dgram_ext.c');
const output = join(root, 'build', 'dgram_ext.node');
// Up to date: nothing to do (the root build, test and demo scripts all run this).
if (
  !process.argv.includes('--force') &&
  existsSync(output) &&
  statSync(output).mtimeMs >= statSync(source).mtimeMs
)
  process.exit(0);
const cc = process.env.CC ?? 'cc';
mkdirSync(join(root, 'build'), { recursive: true });
// Written aside and renamed into place: a process that has the old addon loaded keeps its copy.
const temporary = `${output}.${process.pid}.tmp`;
const args = [
  '-O2',
  '-shared',
  '-fPIC',
  '-Wall',
  '-Wextra',
  '-DNODE_GYP_MODULE_NAME=dgram_ext',
  `-I${napiInclude}`,
  `-I${uvInclude}`,
  source,
  '-o',
  temporary,
];
try {
  execFileSync(cc, args, { stdio: 'inherit' });
  renameSync(temporary, output);
} catch (err) {
  rmSync(temporary, { force: true });
  giveUp(`${cc} failed: ${err.message}`);
}
