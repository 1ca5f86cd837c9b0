/**
 * Two braidd on loopback, each with its own temporary state directory, control socket and two
 * UDP locators, configured as each other's peers; an SDK client on each. Everything is torn
 * down by tap's teardown, even when the test fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type ConfigFile, type Daemon, type StartDaemonOptions } from '@braid/daemon';
import { connect, type DaemonClient } from '@braid/sdk';

export interface Tap {
  teardown(fn: () => unknown): void;
}

/** Log lines of one daemon, parsed. */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];
  write(text: string): void {
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.lines.push({ msg: line });
      }
    }
  }
  has(pattern: RegExp): boolean {
    return this.lines.some((l) => pattern.test(String(l.msg)));
  }
}

export function tempDir(t: Tap, prefix = 'braidd-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface TestDaemon {
  daemon: Daemon;
  dir: string;
  logs: LogCapture;
  config: ConfigFile;
}

/** Fast failure detection and short timeouts, so tests of failover finish quickly. */
export const FAST_PROTOCOL: ConfigFile['protocol'] = {
  pathProbeIntervalMs: 100,
  pathDownAfterMs: 300,
  connectTimeoutMs: 10_000,
};

export async function startTestDaemon(
  t: Tap,
  config: ConfigFile = {},
  options: Partial<StartDaemonOptions> = {},
): Promise<TestDaemon> {
  const dir = tempDir(t);
  const logs = new LogCapture();
  const full: ConfigFile = {
    stateDir: dir,
    socketPath: join(dir, 'braidd.sock'),
    bind: ['127.0.0.1:0', '127.0.0.2:0'],
    log: { level: 'debug', format: 'json' },
    protocol: FAST_PROTOCOL,
    ...config,
  };
  const daemon = await startDaemon({ config: full, logDestination: logs, ...options });
  t.teardown(() => daemon.close());
  return { daemon, dir, logs, config: full };
}

export interface Pair {
  a: TestDaemon;
  b: TestDaemon;
  appA: DaemonClient;
  appB: DaemonClient;
}

/** A and B, each configured with the other as a peer (A through a reload, as SIGHUP does). */
export async function startPair(t: Tap, config: ConfigFile = {}): Promise<Pair> {
  const a = await startTestDaemon(t, config);
  const b = await startTestDaemon(t, {
    ...config,
    peers: [{ eid: a.daemon.eid, locators: a.daemon.locators, name: 'a' }],
  });
  await a.daemon.reload({
    ...a.config,
    peers: [{ eid: b.daemon.eid, locators: b.daemon.locators, name: 'b' }],
  });
  const appA = await connect({ socketPath: a.daemon.socketPath });
  t.teardown(() => appA.close());
  const appB = await connect({ socketPath: b.daemon.socketPath });
  t.teardown(() => appB.close());
  return { a, b, appA, appB };
}

/** Byte `i` of deterministic content. */
export function content(offset: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    const x = offset + i;
    b[i] = (x * 31 + (x >>> 8) * 7 + 13) & 0xff;
  }
  return b;
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Waits until `predicate` holds, polling every 10 ms at most `turns` times. */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  turns = 500,
): Promise<boolean> {
  for (let i = 0; i < turns; i++) {
    if (await predicate()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return predicate();
}
