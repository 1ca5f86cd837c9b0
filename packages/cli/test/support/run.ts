/**
 * Runs the `braid` program as a child process (`node packages/cli/bin/braid.js …`), the way a
 * person would, and collects its exit status and output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { startDaemons, type DemoDaemonSpec, type DemoDaemons } from '@braid/cli';

export const BRAID_BIN = fileURLToPath(new URL('../../bin/braid.js', import.meta.url));
/** A child that runs longer than this is killed and the test fails (a hang, not a timing). */
export const CHILD_TIMEOUT_MS = 60_000;

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export interface RunOptions {
  /** Bytes for the child's stdin (closed after them); default: stdin is closed at once. */
  input?: Uint8Array;
  env?: Record<string, string | undefined>;
  /** Called with the child's stderr text as it comes (e.g. to see `listening on`). */
  onStderr?: (text: string) => void;
}

export function runBraid(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BRAID_BIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, BRAID_SOCKET: undefined, ...options.env },
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      options.onStderr?.(stderr);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, signal, stdout: stdoutBytes.toString(), stderr, stdoutBytes });
    });
    child.stdin.on('error', () => undefined); // a child that exits early closes its stdin
    if (options.input) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

/** A temporary directory removed when the test ends. */
export async function tempDir(t: Test, prefix = 'braid-cli-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Two braidd processes on loopback (a: 127.0.0.1 + 127.0.0.2, b: 127.0.0.3 + 127.0.0.4), each
 * a configured peer of the other; stopped and removed when the test ends.
 */
export async function twoDaemons(
  t: Test,
  config: DemoDaemonSpec['config'] = {},
): Promise<
  DemoDaemons['daemons'] & { 0: DemoDaemons['daemons'][number]; 1: DemoDaemons['daemons'][number] }
> {
  const dir = await mkdtemp(join(tmpdir(), 'braid-cli-test-'));
  // startDaemons stops what it started if it fails; the directory goes at teardown either way.
  const started: DemoDaemons[] = [];
  t.teardown(async () => {
    for (const hosts of started) await hosts.close();
    await rm(dir, { recursive: true, force: true });
  });
  const hosts = await startDaemons(dir, [
    { name: 'a', bind: ['127.0.0.1:0', '127.0.0.2:0'], config },
    { name: 'b', bind: ['127.0.0.3:0', '127.0.0.4:0'], config },
  ]);
  started.push(hosts);
  return hosts.daemons as never;
}

/** Polls `check` every 50 ms until it returns a value, at most `tries` times (a bound, not a timing assertion). */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  tries = 400,
): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** A long-running `braid` child (e.g. `braid daemon`), SIGKILLed at teardown if still running. */
export function spawnBraid(
  t: Test,
  args: readonly string[],
  env: Record<string, string | undefined> = {},
): { child: ChildProcess; exited: Promise<{ code: number | null; output: string }> } {
  const child = spawn(process.execPath, [BRAID_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BRAID_SOCKET: undefined, ...env },
  });
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, output })),
  );
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { child, exited };
}
