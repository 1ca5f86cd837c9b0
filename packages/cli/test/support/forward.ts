/**
 * For the `braid forward` / `braid expose` tests: the command as a child process whose `--json`
 * events are read as they come, TCP servers to expose (an echo, a discard-and-hash), and a TCP
 * client that collects what it reads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Test } from 'tap';
import { BRAID_BIN } from './run.js';

/** One line of `--json` output: `{"event": "listening" | "open" | "refused" | "dropped" | "close", …}`. */
export type ForwardEvent = { event: string; [field: string]: unknown };

/** A wait that takes longer than this fails the test (a hang bound, not a timing). */
export const WAIT_MS_MAX = 60_000;

export interface BraidCommand {
  readonly child: ChildProcess;
  readonly events: ForwardEvent[];
  /** The stderr text so far. */
  stderr(): string;
  /** The first event (already seen or to come) that `match` accepts. */
  /** The first event named `event` (or any of the names) that `match` accepts. */
  waitFor(
    event: string | readonly string[],
    match?: (e: ForwardEvent) => boolean,
  ): Promise<ForwardEvent>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGINT (Ctrl-C), then the exit. */
  interrupt(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `braid --socket SOCKET ARGS… --json`, killed at teardown if it still runs. */
export function startBraid(t: Test, socketPath: string, args: readonly string[]): BraidCommand {
  const child = spawn(process.execPath, [BRAID_BIN, '--socket', socketPath, ...args, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BRAID_SOCKET: undefined },
  });
  const events: ForwardEvent[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let pending = '';
  let exitedWith: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      events.push(JSON.parse(pending.slice(0, nl)) as ForwardEvent);
      pending = pending.slice(nl + 1);
    }
    for (const w of [...waiters]) w();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      exitedWith = { code, signal };
      for (const w of [...waiters]) w();
      resolve(exitedWith);
    }),
  );
  t.teardown(async () => {
    if (exitedWith === undefined) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return {
    child,
    events,
    stderr: () => stderr,
    exited,
    waitFor: (event, match) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const names: readonly string[] = typeof event === 'string' ? [event] : event;
          const found = events.find((e) => names.includes(e.event) && (match?.(e) ?? true));
          if (found) {
            finish();
            resolve(found);
          } else if (exitedWith) {
            finish();
            reject(
              new Error(
                `braid ${args[0]} exited (${exitedWith.signal ?? exitedWith.code}) before a ${event} event: ${stderr}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`no ${event} event from braid ${args[0]} within ${WAIT_MS_MAX} ms`));
        }, WAIT_MS_MAX);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    interrupt: async () => {
      if (!exitedWith) child.kill('SIGINT');
      return exited;
    },
  };
}

/**
 * `promise`, or after {@link WAIT_MS_MAX} an error that says what was awaited and, from
 * `details`, what the processes reported: a hang fails the test with its story, not on tap's
 * timeout.
 */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  details: () => string | Promise<string>,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          void Promise.resolve(details()).then((d) =>
            reject(new Error(`${what}: not within ${WAIT_MS_MAX} ms (${d})`)),
          );
        }, WAIT_MS_MAX);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Each daemon's stream lines (run them at `debug`) and everything at info and above, the last
 * 30 of them, for a failure message.
 */
export async function streamLogs(
  daemons: readonly { name: string; logPath: string }[],
): Promise<string> {
  const parts: string[] = [];
  for (const d of daemons) {
    const text = await readFile(d.logPath, 'utf8').catch(() => '');
    const lines = text
      .split('\n')
      .filter((l) => /"msg":"stream /.test(l) || /"level":[3-6]0/.test(l));
    parts.push(`braidd ${d.name}: ${lines.slice(-30).join(' | ') || '(nothing logged)'}`);
  }
  return parts.join('; ');
}

/** What a forward and an expose reported so far, for a failure message. */
export function reported(commands: Record<string, BraidCommand>): string {
  return Object.entries(commands)
    .map(
      ([name, c]) => `${name}: ${JSON.stringify(c.events)}; stderr: ${JSON.stringify(c.stderr())}`,
    )
    .join('; ');
}

/** A TCP server on 127.0.0.1 closed at teardown (with its connections). */
export async function tcpServer(
  t: Test,
  onConnection: (socket: Socket) => void,
): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    if (server.listening) await new Promise((r) => server.close(r));
  });
  return { server, port: (server.address() as AddressInfo).port, sockets };
}

/**
 * An echo that keeps half-close: it writes back what it reads and, when the client's FIN comes,
 * a trailer `\nbytes=N\n` and its own FIN.
 */
export function echoWithTrailer(socket: Socket): void {
  let bytes = 0;
  socket.on('data', (b: Buffer) => {
    bytes += b.length;
  });
  socket.pipe(socket, { end: false });
  socket.on('end', () => socket.end(`\nbytes=${bytes}\n`));
}

export interface ClientResult {
  bytes: Buffer;
  /** The error the socket ended with (ECONNRESET for a reset), if any. */
  error: NodeJS.ErrnoException | undefined;
  /** Whether the server's FIN arrived ('end'). */
  ended: boolean;
}

/**
 * Connects to 127.0.0.1:`port`, writes `send` (then FIN unless `keepOpen`), and resolves with
 * everything read once the socket has closed.
 */
export function tcpExchange(
  port: number,
  send: Uint8Array | undefined,
  options: { onData?: (socket: Socket, total: number) => void } = {},
): Promise<ClientResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let total = 0;
    let error: NodeJS.ErrnoException | undefined;
    let ended = false;
    socket.on('data', (b: Buffer) => {
      chunks.push(b);
      total += b.length;
      options.onData?.(socket, total);
    });
    socket.on('end', () => {
      ended = true;
    });
    socket.on('error', (e) => (error ??= e));
    // A bound on a hang: the test then fails on the error, not on tap's timeout.
    const timer = setTimeout(() => {
      const hang: NodeJS.ErrnoException = new Error(`no close within ${WAIT_MS_MAX} ms`);
      hang.code = 'HANG';
      socket.destroy(hang);
    }, WAIT_MS_MAX);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks), error, ended });
    });
    socket.on('connect', () => {
      if (send) socket.end(send);
    });
  });
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A TCP client kept open by the test: what it read so far, and how it ended. */
export interface HeldClient {
  readonly socket: Socket;
  received(): Buffer;
  /** Resolves once at least `bytes` were read (rejects if the socket closes first). */
  receivedAtLeast(bytes: number): Promise<void>;
  readonly closed: Promise<ClientResult>;
  /** Resolves at the server's FIN or the close, whichever comes first. */
  readonly endedOrClosed: Promise<ClientResult>;
}

export function holdClient(port: number): HeldClient {
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  let total = 0;
  let error: NodeJS.ErrnoException | undefined;
  let ended = false;
  let isClosed = false;
  const waiters = new Set<() => void>();
  socket.on('data', (b: Buffer) => {
    chunks.push(b);
    total += b.length;
    for (const w of [...waiters]) w();
  });
  socket.on('error', (e) => (error ??= e));
  const endedOrClosed = new Promise<ClientResult>((resolve) => {
    const settle = () => resolve({ bytes: Buffer.concat(chunks), error, ended });
    socket.once('end', () => {
      ended = true;
      settle();
    });
    socket.once('close', settle);
  });
  const closed = new Promise<ClientResult>((resolve) =>
    socket.on('close', () => {
      isClosed = true;
      for (const w of [...waiters]) w();
      resolve({ bytes: Buffer.concat(chunks), error, ended });
    }),
  );
  return {
    socket,
    received: () => Buffer.concat(chunks),
    receivedAtLeast: (bytes) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (total >= bytes) {
            waiters.delete(check);
            resolve();
          } else if (isClosed) {
            waiters.delete(check);
            reject(new Error(`closed after ${total} of ${bytes} bytes (${error?.code ?? 'FIN'})`));
          }
        };
        waiters.add(check);
        check();
      }),
    closed,
    endedOrClosed,
  };
}
