/**
 * Port forwarding across the lab: braidd in each host, `braid expose SERVICE 127.0.0.1:PORT` in
 * b in front of a real server there, `braid forward 0 EID SERVICE` in a; a program in a then
 * talks TCP to the forward's local port. The forwarding tests (curl, iperf3) and the
 * `forward-iperf3` benchmark share it. Everything runs as the lab's processes, so `lab.close()`
 * stops it all.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { connect, type BraidClient } from '@braid/sdk';
import { run } from './command.js';
import { LabPeerError, LabStateError } from './errors.js';
import type { HostName, Lab, LinkId } from './lab.js';
import { braidProgram, braiddConfig } from './programs.js';

/** The UDP port braidd listens on in b (a's braidd takes any). */
export const FORWARD_BRAID_PORT = 4433;
/** How long a daemon, a `braid` command or a server may take to be ready. */
export const READY_TIMEOUT_MS = 20_000;
/** Output kept per lab process for error messages. */
const OUTPUT_BYTES_MAX = 16 << 10;
/** Longest JSON line read from `braid … --json` (its events are small). */
const EVENT_LINE_BYTES_MAX = 64 << 10;
/** Events kept per command (the oldest go beyond this). */
const EVENTS_MAX = 10_000;
const POLL_MS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A lab process whose output is kept (bounded) for error messages. */
export interface LabProgram {
  readonly child: ChildProcess;
  readonly label: string;
  /** The tail of its stdout and stderr. */
  output(): string;
  /** Resolves once `pattern` appears in its output; rejects if it exits first or times out. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Its exit status once it exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `command args…` in `host` and keeps the tail of what it prints. */
export function startProgram(
  lab: Lab,
  host: HostName,
  command: string,
  args: readonly string[],
  label: string,
): LabProgram {
  const child = lab.spawn(host, command, args);
  let tail = '';
  const waiters = new Set<() => void>();
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_BYTES_MAX);
    for (const w of [...waiters]) w();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      exit = { code, signal };
      for (const w of [...waiters]) w();
      resolve(exit);
    }),
  );
  return {
    child,
    label,
    output: () => tail,
    exited,
    waitForOutput: (pattern, timeoutMs = READY_TIMEOUT_MS) =>
      waitOn<RegExpExecArray>(
        waiters,
        () =>
          pattern.exec(tail) ??
          (exit
            ? new LabPeerError(
                `${label} exited (${exit.signal ?? `code ${exit.code}`}) before printing ${pattern}: ${tail.slice(-2_000)}`,
              )
            : undefined),
        timeoutMs,
        () => `${label} did not print ${pattern} within ${timeoutMs} ms: ${tail.slice(-2_000)}`,
      ),
  };
}

/**
 * Resolves with what `probe` finds, rejects with the error it returns, or after `timeoutMs` with
 * `timeoutMessage()`; `probe` runs now and each time a waiter in `waiters` is called.
 */
function waitOn<T>(
  waiters: Set<() => void>,
  probe: () => T | Error | undefined,
  timeoutMs: number,
  timeoutMessage: () => string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = probe();
      if (found === undefined) return;
      finish();
      if (found instanceof Error) reject(found);
      else resolve(found);
    };
    const timer = setTimeout(() => {
      finish();
      reject(new LabPeerError(timeoutMessage()));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      waiters.delete(check);
    };
    waiters.add(check);
    check();
  });
}

/** A `braid … --json` command in a host: its events, as `braid forward/expose` print them. */
export interface BraidCommand extends LabProgram {
  readonly events: readonly ({ event: string } & Record<string, unknown>)[];
  /** The first event named `event` that `match` accepts, seen or to come. */
  waitForEvent(
    event: string,
    match?: (e: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

function startBraidCommand(
  lab: Lab,
  host: HostName,
  socketPath: string,
  args: readonly string[],
  label: string,
): BraidCommand {
  const program = braidProgram(['--socket', socketPath, ...args, '--json']);
  const base = startProgram(lab, host, program.command, program.args, label);
  const events: ({ event: string } & Record<string, unknown>)[] = [];
  const waiters = new Set<() => void>();
  let pending = '';
  let bad: Error | undefined;
  base.child.stdout?.setEncoding('utf8');
  base.child.stdout?.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        const e = JSON.parse(line) as { event: string } & Record<string, unknown>;
        if (typeof e.event !== 'string') throw new Error('no "event" field');
        if (events.length >= EVENTS_MAX) events.shift();
        events.push(e);
      } catch (err) {
        bad ??= new LabPeerError(
          `${label}: unreadable line ${JSON.stringify(line.slice(0, 200))}: ${(err as Error).message}`,
        );
      }
    }
    if (pending.length > EVENT_LINE_BYTES_MAX) {
      bad ??= new LabPeerError(`${label}: a line longer than ${EVENT_LINE_BYTES_MAX} bytes`);
      pending = '';
    }
    for (const w of [...waiters]) w();
  });
  let exited = false;
  void base.exited.then(() => {
    exited = true;
    for (const w of [...waiters]) w();
  });
  return {
    ...base,
    events,
    waitForEvent: (event, match, timeoutMs = READY_TIMEOUT_MS) =>
      waitOn<Record<string, unknown>>(
        waiters,
        () =>
          events.find((e) => e.event === event && (match?.(e) ?? true)) ??
          (bad || exited
            ? (bad ??
              new LabPeerError(
                `${label} exited before a ${event} event: ${base.output().slice(-2_000)}`,
              ))
            : undefined),
        timeoutMs,
        () => `${label}: no ${event} event within ${timeoutMs} ms: ${base.output().slice(-2_000)}`,
      ),
  };
}

export interface ForwardingSpec {
  lab: Lab;
  /** The service name exposed in b. */
  service: string;
  /** The TCP port of the server in b (on its 127.0.0.1). */
  targetPort: number;
  /** The links whose addresses braidd binds in each host (default both). */
  links?: readonly LinkId[];
  /** Braid's scheduler (default active-backup: one link carries the data, the other waits). */
  scheduler?: 'aggregate' | 'active-backup';
}

export interface Forwarding {
  /** The forward's local TCP port in a (on a's 127.0.0.1). */
  readonly port: number;
  readonly expose: BraidCommand;
  readonly forward: BraidCommand;
  /** braidd's control socket in each host (a path: reachable from this process too). */
  readonly socketPaths: Readonly<Record<HostName, string>>;
  /** An SDK client of a's braidd (closed by `close()`). */
  clientA(): Promise<BraidClient>;
  /** Stops the clients this made; the lab's close stops the processes. */
  close(): Promise<void>;
}

/**
 * braidd in a and b (b open to any peer, on {@link FORWARD_BRAID_PORT}), `braid expose` in b in
 * front of 127.0.0.1:`targetPort`, `braid forward 0` in a with b's locators; resolves once both
 * listen. The caller starts the server in b (before or after) and the client in a.
 */
export async function startForwarding(spec: ForwardingSpec): Promise<Forwarding> {
  const { lab } = spec;
  const links = (spec.links ?? [1, 2]).map((id) => lab.link(id));
  const scheduler = spec.scheduler ?? 'active-backup';
  const bindB = links.map((l) => `${l.b}:${FORWARD_BRAID_PORT}`);
  const bindA = links.map((l) => `${l.a}:0`);
  const socketB = (await startBraidd(lab, 'b', bindB, 'open', scheduler)).socketPath;
  const socketA = (await startBraidd(lab, 'a', bindA, 'configured', scheduler)).socketPath;
  const expose = startBraidCommand(
    lab,
    'b',
    socketB,
    ['expose', spec.service, `127.0.0.1:${spec.targetPort}`],
    'braid expose (b)',
  );
  const exposing = await expose.waitForEvent('listening');
  const forward = startBraidCommand(
    lab,
    'a',
    socketA,
    ['forward', '0', String(exposing.eid), spec.service, '--locators', ...bindB],
    'braid forward (a)',
  );
  const listening = await forward.waitForEvent('listening');
  const clients: BraidClient[] = [];
  return {
    port: Number(listening.port),
    expose,
    forward,
    socketPaths: { a: socketA, b: socketB },
    clientA: async () => {
      const c = await connect({ socketPath: socketA });
      clients.push(c);
      return c;
    },
    close: async () => {
      await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
    },
  };
}

/** braidd running in a lab host: its control socket and the process. */
export interface LabDaemon {
  readonly socketPath: string;
  readonly program: LabProgram;
  /** What it printed and how it exited, if it printed or exited; '' otherwise. */
  describe(): string;
}

/**
 * Starts braidd in `host` with a config of its own in the lab's work directory (the given UDP
 * locators, its identity and control socket there, warnings only in the log) and resolves once
 * it answers on its control socket.
 */
export async function startBraidd(
  lab: Lab,
  host: HostName,
  bind: readonly string[],
  allow: 'open' | 'configured',
  scheduler: 'aggregate' | 'active-backup',
): Promise<LabDaemon> {
  const { socketPath, program } = await braiddConfig(
    join(lab.workDir(), `braidd-${host}`),
    bind,
    allow,
    scheduler,
  );
  const daemon = startProgram(lab, host, program.command, program.args, `braidd in ${host}`);
  const describe = (): string => {
    const { exitCode, signalCode } = daemon.child;
    const exit =
      exitCode !== null || signalCode !== null
        ? ` exited (${signalCode ?? `code ${exitCode}`})`
        : '';
    const text = daemon.output().trim();
    return exit || text ? `${daemon.label}${exit}${text ? `: ${text.slice(-2_000)}` : ''}` : '';
  };
  const deadline = performance.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      const client = await connect({ socketPath });
      await client.close();
      return { socketPath, program: daemon, describe };
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_BRAID_DAEMON_NOT_RUNNING') throw err;
    }
    if (daemon.child.exitCode !== null || daemon.child.signalCode !== null)
      throw new LabPeerError(describe());
    if (performance.now() > deadline)
      throw new LabPeerError(
        `${describe() || daemon.label}: no answer within ${READY_TIMEOUT_MS} ms`,
      );
    await sleep(POLL_MS);
  }
}

/**
 * The link whose path carries a's session's stream data now: the one whose counter grows most
 * over `sampleMs` (`bytesReceived` when a receives, `streamBytesSent` when it sends). With the
 * active-backup scheduler that is the active link.
 */
export async function busyLink(
  lab: Lab,
  client: BraidClient,
  direction: 'a-receives' | 'a-sends',
  sampleMs = 200,
): Promise<LinkId> {
  const sessions = await client.sessions();
  const summary = sessions[0];
  if (!summary) throw new LabStateError("a's braidd has no session");
  const session = client.session(summary.id);
  if (!session) throw new LabStateError(`session ${summary.id} is gone`);
  const counter = (p: { bytesReceived: number; streamBytesSent: number }) =>
    direction === 'a-receives' ? p.bytesReceived : p.streamBytesSent;
  const before = new Map((await session.paths()).map((p) => [p.id, counter(p)]));
  await sleep(sampleMs);
  const after = await session.paths();
  const growth = after
    .map((p) => ({ local: p.local, grew: counter(p) - (before.get(p.id) ?? counter(p)) }))
    .sort((x, y) => y.grew - x.grew);
  const top = growth[0];
  if (!top || top.grew <= 0) throw new LabStateError('no path of the session is carrying data');
  const link = lab.links.find((l) => top.local.startsWith(`${l.a}:`));
  if (!link) throw new LabStateError(`the busy path's local address ${top.local} is on no link`);
  return link.id;
}

/** Polls a's session until `bytes` more have crossed it in `direction` (bounded by `timeoutMs`). */
export async function sessionBytesAtLeast(
  client: BraidClient,
  direction: 'a-receives' | 'a-sends',
  bytes: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const summary = (await client.sessions())[0];
    const session = summary && client.session(summary.id);
    if (session) {
      const stats = await session.stats();
      // Stream bytes a's applications read, or that b acknowledged: the forward's, here.
      const crossed = direction === 'a-receives' ? stats.readBytes : stats.deliveredBytes;
      if (crossed >= bytes) return;
    }
    if (performance.now() > deadline)
      throw new LabStateError(
        `fewer than ${bytes} bytes crossed a's session within ${timeoutMs} ms`,
      );
    await sleep(POLL_MS);
  }
}

/** Whether `program --version` runs here (a Debian package the tests need). */
export async function toolPresent(program: string): Promise<boolean> {
  try {
    await run(program, ['--version']);
    return true;
  } catch {
    return false;
  }
}
