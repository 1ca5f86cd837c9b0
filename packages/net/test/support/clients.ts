/**
 * Two Braid hosts on loopback for the tests, in either mode: two embedded endpoints, or two
 * braidd daemons started in this process with an SDK client connected to each. Host A binds
 * 127.0.0.1 and 127.0.0.2, host B 127.0.0.3 and 127.0.0.4 (so a session has up to four paths);
 * B knows A's locators. Everything is closed and removed at teardown.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { startDaemon } from '@braid/daemon';
import type { UdpEndpointOptions } from '@braid/endpoint';
import { connect, embedded, type BraidClient } from '@braid/sdk';

export type Mode = 'embedded' | 'daemon';
export const MODES: readonly Mode[] = ['embedded', 'daemon'];

export interface Pair {
  mode: Mode;
  /** The server side. */
  a: BraidClient;
  /** The client side; knows A's locators. */
  b: BraidClient;
}

export interface PairOptions {
  /** Protocol options of both hosts (scheduler…). */
  protocol?: { scheduler?: 'aggregate' | 'active-backup'; connectTimeoutMs?: number };
  /** Embedded only: more endpoint options for B. */
  embeddedB?: Partial<UdpEndpointOptions>;
  /** One address per host instead of two. */
  singleAddress?: boolean;
  /** Daemon only: A's allowlist (default open). */
  allowA?: 'open' | 'configured';
}

const quiet = { write: () => undefined };

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'braid-net-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function binds(host: 'a' | 'b', single: boolean): string[] {
  const addrs = host === 'a' ? ['127.0.0.1:0', '127.0.0.2:0'] : ['127.0.0.3:0', '127.0.0.4:0'];
  return single ? addrs.slice(0, 1) : addrs;
}

export async function embeddedPair(t: Test, options: PairOptions = {}): Promise<Pair> {
  const single = options.singleAddress ?? false;
  const a = await embedded({ bind: binds('a', single), ...options.protocol });
  t.teardown(() => a.close());
  const b = await embedded({
    bind: binds('b', single),
    peers: [{ eid: a.eid, locators: a.locators }],
    ...options.protocol,
    ...options.embeddedB,
  });
  t.teardown(() => b.close());
  return { mode: 'embedded', a, b };
}

export async function daemonPair(t: Test, options: PairOptions = {}): Promise<Pair> {
  const single = options.singleAddress ?? false;
  const start = async (
    host: 'a' | 'b',
    peers: { eid: string; locators: string[] }[],
    allow: 'open' | 'configured',
  ) => {
    const dir = tempDir(t);
    const d = await startDaemon({
      config: {
        stateDir: dir,
        socketPath: join(dir, 's.sock'),
        bind: binds(host, single),
        allow,
        peers,
        log: { level: 'silent' },
        ...(options.protocol && { protocol: options.protocol }),
      },
      logDestination: quiet,
    });
    t.teardown(() => d.close());
    return d;
  };
  const da = await start('a', [], options.allowA ?? 'open');
  const db = await start('b', [{ eid: da.eid, locators: da.locators }], 'open');
  const a = await connect({ socketPath: da.socketPath });
  t.teardown(() => a.close());
  const b = await connect({ socketPath: db.socketPath });
  t.teardown(() => b.close());
  return { mode: 'daemon', a, b };
}

export function pair(t: Test, mode: Mode, options: PairOptions = {}): Promise<Pair> {
  return mode === 'embedded' ? embeddedPair(t, options) : daemonPair(t, options);
}

/** Deterministic bytes: the same `offset` always gives the same byte. */
export function content(length: number, seed = 0): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = ((i + seed) * 131 + 7) & 0xff;
  return b;
}

/** Polls `check` every 20 ms until it returns a value, at most `tries` times (a hang bound). */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  tries = 1000,
): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`gave up waiting for ${what}`);
}
