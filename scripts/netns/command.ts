/**
 * Runs the lab's tools (`ip`, `nft`, `tc`, `sysctl`) without a shell: argv arrays only, a time
 * bound on every call, and bounded captured output.
 */
import { execFileSync, spawn } from 'node:child_process';
import { LabCommandError, LabCommandTimeoutError } from './errors.js';

/** A lab command that takes longer than this is killed: each is a single netlink operation. */
export const COMMAND_TIMEOUT_MS = 10_000;
/** Captured stdout/stderr per command; the rest is discarded (the tools print little). */
export const COMMAND_OUTPUT_BYTES_MAX = 1 << 20;

/**
 * The environment the tools run in: ours, with the sbin directories on PATH (where Debian puts
 * ip, tc, nft and sysctl), which a non-login root shell or a CI runner may leave out.
 */
export const TOOL_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: [process.env.PATH, '/usr/sbin', '/sbin'].filter((p) => p).join(':'),
};

export interface RunOptions {
  /** Written to the command's stdin (`nft -f -` takes its ruleset this way). */
  input?: string;
  timeoutMs?: number;
}

/** Runs `file args…`, resolves with its stdout; rejects with a typed error otherwise. */
export function run(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<string> {
  const argv = [file, ...args];
  const timeoutMs = options.timeoutMs ?? COMMAND_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: TOOL_ENV });
    const stdout = boundedSink();
    const stderr = boundedSink();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', stdout.push);
    child.stderr.on('data', stderr.push);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new LabCommandError(argv, null, err.message));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) reject(new LabCommandTimeoutError(argv, timeoutMs));
      else if (code !== 0) reject(new LabCommandError(argv, code, stderr.text()));
      else resolve(stdout.text());
    });
    // A command that exits before reading its stdin makes the write fail with EPIPE: the exit
    // status then says what went wrong.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** The synchronous form, for the `exit` handler where nothing asynchronous runs any more. */
export function runSync(file: string, args: readonly string[], timeoutMs = 5_000): string {
  try {
    return execFileSync(file, args, {
      timeout: timeoutMs,
      env: TOOL_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: COMMAND_OUTPUT_BYTES_MAX,
      encoding: 'utf8',
    });
  } catch (err) {
    const e = err as { status?: number | null; stderr?: string; message: string };
    throw new LabCommandError([file, ...args], e.status ?? null, e.stderr ?? e.message);
  }
}

function boundedSink() {
  const chunks: Buffer[] = [];
  let bytes = 0;
  return {
    push: (chunk: Buffer) => {
      if (bytes >= COMMAND_OUTPUT_BYTES_MAX) return;
      const part = chunk.subarray(0, COMMAND_OUTPUT_BYTES_MAX - bytes);
      chunks.push(part);
      bytes += part.length;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}
