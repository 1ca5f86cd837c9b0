/**
 * Unix-domain socket helpers: connect, find out whether a socket path has a live server behind
 * it, and listen owner-only, replacing a stale socket file but never a live server's.
 */
import { lstat, mkdir, unlink, chmod } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { IpcAbortedError, IpcError } from './errors.js';
import { FrameDecoder, decodeBody } from './frame.js';
import { parseMessage } from './messages.js';

/** Something else holds the socket path: a live server, or a file that is not a socket. */
export class IpcSocketInUseError extends IpcError {
  readonly code = 'ERR_BRAID_IPC_SOCKET_IN_USE';
  constructor(
    message: string,
    readonly path: string,
    readonly pid: number | undefined,
  ) {
    super(message);
    this.name = 'IpcSocketInUseError';
  }
}

/** Connecting failed; `reason` tells whether nothing listens (`absent`, `refused`) or what else. */
export class IpcConnectError extends IpcError {
  readonly code = 'ERR_BRAID_IPC_CONNECT';
  constructor(
    message: string,
    readonly path: string,
    readonly reason: 'absent' | 'refused' | 'denied' | 'other',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'IpcConnectError';
  }
}

/** Connects to a Unix socket; rejects with {@link IpcConnectError} saying why it could not. */
export function connectSocket(path: string, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new IpcAbortedError('aborted', { cause: signal.reason }));
    const socket = createConnection({ path });
    const onAbort = () => {
      socket.destroy();
      reject(new IpcAbortedError('aborted', { cause: signal?.reason }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      signal?.removeEventListener('abort', onAbort);
      const reason =
        err.code === 'ENOENT'
          ? 'absent'
          : err.code === 'ECONNREFUSED'
            ? 'refused'
            : err.code === 'EACCES' || err.code === 'EPERM'
              ? 'denied'
              : 'other';
      reject(
        new IpcConnectError(`cannot connect to ${path}: ${err.code ?? err.message}`, path, reason, {
          cause: err,
        }),
      );
    });
  });
}

export type SocketProbe =
  | { state: 'absent' }
  /** A socket file nobody listens on (left by a process that died). */
  | { state: 'stale' }
  /** A server accepted the connection; its hello (if it sent one in time) names it. */
  | { state: 'live'; pid: number | undefined; software: string | undefined }
  /** The path exists and is not a socket. */
  | { state: 'not-socket' };

/** Bytes read from a probed server before giving up on its hello. */
const PROBE_BYTES_MAX = 64 * 1024;

/** Finds out what is at a socket path, without disturbing a live server (it reads its hello). */
export async function probeSocket(path: string, timeoutMs = 1_000): Promise<SocketProbe> {
  try {
    const st = await lstat(path);
    if (!st.isSocket()) return { state: 'not-socket' };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    throw err;
  }
  let socket: Socket;
  try {
    socket = await connectSocket(path);
  } catch (err) {
    if (err instanceof IpcConnectError && err.reason === 'refused') return { state: 'stale' };
    if (err instanceof IpcConnectError && err.reason === 'absent') return { state: 'absent' };
    throw err;
  }
  return new Promise((resolve) => {
    const decoder = new FrameDecoder();
    let received = 0;
    const done = (pid: number | undefined, software: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ state: 'live', pid, software });
    };
    const timer = setTimeout(() => done(undefined, undefined), timeoutMs);
    socket.on('error', () => done(undefined, undefined));
    socket.on('close', () => done(undefined, undefined));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      try {
        for (const body of decoder.push(chunk)) {
          const m = parseMessage(decodeBody(body));
          if (m.t === 'hello')
            return done(
              typeof m.pid === 'number' ? m.pid : undefined,
              typeof m.sw === 'string' ? m.sw : undefined,
            );
        }
      } catch {
        return done(undefined, undefined);
      }
      if (received > PROBE_BYTES_MAX) done(undefined, undefined);
    });
  });
}

export interface ListenSocketOptions {
  /** File mode of the socket. Default 0o600 (owner only). */
  mode?: number;
  /** Mode of the parent directory when it has to be created. Default 0o700. */
  directoryMode?: number;
  /** Bound of simultaneous connections (`server.maxConnections`). Default 64. */
  connectionsMax?: number;
}

/**
 * Listens on a Unix socket path. A stale socket file is replaced; a live server there, or a path
 * that is not a socket, is refused with {@link IpcSocketInUseError} (naming the pid when the
 * server said it in its hello).
 */
export async function listenSocket(
  path: string,
  onConnection: (socket: Socket) => void,
  options: ListenSocketOptions = {},
): Promise<Server> {
  const mode = options.mode ?? 0o600;
  await mkdir(dirname(path), { recursive: true, mode: options.directoryMode ?? 0o700 });
  const probe = await probeSocket(path);
  if (probe.state === 'live')
    throw new IpcSocketInUseError(
      `${probe.software ?? 'a server'} is already listening at ${path}${probe.pid !== undefined ? ` (pid ${probe.pid})` : ''}`,
      path,
      probe.pid,
    );
  if (probe.state === 'not-socket')
    throw new IpcSocketInUseError(
      `${path} exists and is not a socket; remove it or choose another socket path`,
      path,
      undefined,
    );
  if (probe.state === 'stale') await unlink(path);
  const server = createServer(onConnection);
  server.maxConnections = options.connectionsMax ?? 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The socket file is created by bind() with the process umask: narrow it for that call so
    // that no other user can connect in the moment before chmod.
    const umask = process.umask(0o777 & ~mode);
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
  await chmod(path, mode);
  return server;
}
