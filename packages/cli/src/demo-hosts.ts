/**
 * Two real braidd processes on loopback for the demo (and the CLI's tests): temporary state
 * directories and control sockets, each daemon bound to two loopback addresses of its own, each
 * told the other's EID and locators, and an SDK client connected to each. No root needed: Linux
 * routes the whole of 127.0.0.0/8 to the loopback interface, so 127.0.0.2–4 work like 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfigFile } from '@braid/daemon';
import { connect, type BraidClient } from './client-api.js';

/** The braidd program of this package. */
export const BRAIDD_BIN = fileURLToPath(new URL('../bin/braidd.js', import.meta.url));
/** How long a daemon may take to answer on its socket after being spawned. */
export const DAEMON_START_TIMEOUT_MS = 20_000;
/** How long a daemon gets to stop after SIGTERM before it is killed. */
export const DAEMON_STOP_TIMEOUT_MS = 5_000;
/** Lines of a failed daemon's log shown in the error. */
const LOG_TAIL_LINES = 15;

export interface DemoDaemonSpec {
  name: string;
  /** Locators to bind (`127.0.0.1:0`: any free port). */
  bind: string[];
  /** Extra config (e.g. `protocol.scheduler`). */
  config?: ConfigFile;
}

export interface RunningDaemon {
  name: string;
  pid: number;
  eid: string;
  socketPath: string;
  /** The bound locators, with their real ports. */
  locators: string[];
  logPath: string;
  client: BraidClient;
}

export interface DemoDaemons {
  daemons: RunningDaemon[];
  /** Stops clients and daemons (SIGTERM, then SIGKILL after {@link DAEMON_STOP_TIMEOUT_MS}). */
  close(): Promise<void>;
}

/** The demo's two hosts: two addresses each, so four (local, remote) pairs make four paths. */
export const DEMO_SENDER_BIND = ['127.0.0.1:0', '127.0.0.2:0'];
export const DEMO_RECEIVER_BIND = ['127.0.0.3:0', '127.0.0.4:0'];

/**
 * Starts one braidd per spec in `workDir` (state in `<workDir>/<name>/`, socket
 * `<workDir>/<name>.sock`, log `<workDir>/<name>.log`), connects an SDK client to each, and makes
 * every daemon a configured peer of every other. On any failure everything started is stopped.
 */
export async function startDaemons(
  workDir: string,
  specs: readonly DemoDaemonSpec[],
  signal?: AbortSignal,
): Promise<DemoDaemons> {
  const children: ChildProcess[] = [];
  const running: RunningDaemon[] = [];
  const close = async () => {
    await Promise.all(running.map((d) => d.client.close().catch(() => undefined)));
    await Promise.all(children.map((c) => stopChild(c)));
  };
  try {
    for (const spec of specs) {
      const stateDir = join(workDir, spec.name);
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      const socketPath = join(workDir, `${spec.name}.sock`);
      const logPath = join(workDir, `${spec.name}.log`);
      const configPath = join(workDir, `${spec.name}.json`);
      const config: ConfigFile = {
        log: { level: 'info', format: 'json' },
        ...spec.config,
        stateDir,
        socketPath,
        bind: spec.bind,
        allow: 'configured',
      };
      await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
      const child = spawn(process.execPath, [BRAIDD_BIN, '--config', configPath], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, BRAID_SOCKET: socketPath },
      });
      children.push(child);
      const log = createWriteStream(logPath);
      child.stdout?.pipe(log);
      child.stderr?.pipe(log);
      const client = await connectWhenUp(child, socketPath, logPath, spec.name, signal);
      const status = await client.status({ signal });
      running.push({
        name: spec.name,
        pid: child.pid ?? -1,
        eid: client.eid,
        socketPath,
        locators: status.locators,
        logPath,
        client,
      });
    }
    for (const d of running)
      for (const other of running)
        if (other !== d) await d.client.addPeer(other.eid, other.locators, { signal });
    return { daemons: running, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Retries connecting (every 50 ms) until the daemon answers, exits, or the time is up. */
async function connectWhenUp(
  child: ChildProcess,
  socketPath: string,
  logPath: string,
  name: string,
  signal?: AbortSignal,
): Promise<BraidClient> {
  let exited: string | undefined;
  child.once('exit', (code, sig) => {
    exited = sig ? `killed by ${sig}` : `exited with status ${code}`;
  });
  const deadline = performance.now() + DAEMON_START_TIMEOUT_MS;
  for (;;) {
    signal?.throwIfAborted();
    if (exited !== undefined)
      throw new Error(`${name} braidd ${exited}:\n${await logTail(logPath)}`);
    try {
      return await connect({ socketPath, signal });
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ERR_BRAID_DAEMON_NOT_RUNNING') throw error;
    }
    if (performance.now() > deadline)
      throw new Error(
        `${name} braidd did not answer on ${socketPath} within ${DAEMON_START_TIMEOUT_MS} ms:\n${await logTail(logPath)}`,
      );
    await sleep(50, undefined, { signal });
  }
}

/** The last lines of a daemon's log, for an error message. */
export async function logTail(logPath: string): Promise<string> {
  try {
    const lines = (await readFile(logPath, 'utf8')).trimEnd().split('\n');
    return lines.slice(-LOG_TAIL_LINES).join('\n');
  } catch {
    return '(no log)';
  }
}

/** SIGTERM (braidd closes its sessions gracefully), then SIGKILL if it is still there. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const cancel = new AbortController();
  const timeout = sleep(DAEMON_STOP_TIMEOUT_MS, 'timeout' as const, {
    signal: cancel.signal,
  }).catch(() => 'cancelled' as const);
  try {
    if ((await Promise.race([exited.then(() => 'exited' as const), timeout])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
  } finally {
    cancel.abort();
  }
}
