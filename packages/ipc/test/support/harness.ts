/** A test server and client over a real Unix socket in a temporary directory, torn down by tap. */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import {
  IpcConnection,
  connectSocket,
  listenSocket,
  type IpcConnectionOptions,
  type IpcStream,
  type RequestHandlers,
} from '@braid/ipc';

type Tap = {
  teardown(fn: () => unknown): void;
};

export const testSpec = {
  methods: {
    echo: {
      params: z.strictObject({ text: z.string() }),
      result: z.strictObject({ text: z.string() }),
    },
    fail: { params: z.strictObject({ code: z.string() }), result: z.null() },
    /** Waits until the request is cancelled; resolves `{ aborted: true }` through a side channel. */
    wait: { params: z.strictObject({}), result: z.null() },
    /** Pushes `count` tick events (and one invalid `tick` if `bad`). */
    emit: {
      params: z.strictObject({ count: z.number().int(), bad: z.boolean().optional() }),
      result: z.null(),
    },
    /** Opens a stream the server sends `bytes` deterministic bytes on, then ends. */
    source: { params: z.strictObject({ bytes: z.number().int() }), result: z.null() },
    /** Opens a stream the server echoes back to the client. */
    echoStream: { params: z.strictObject({}), result: z.null() },
    /** Returns a result that violates its own schema (to test the client's validation). */
    lie: { params: z.strictObject({}), result: z.strictObject({ n: z.number() }) },
  },
  events: {
    tick: z.strictObject({ n: z.number() }),
  },
} as const;
export type TestSpec = typeof testSpec;

/** Byte `i` of the deterministic content. */
export function contentByte(i: number): number {
  return (i * 31 + (i >>> 8) * 7 + 13) & 0xff;
}
export function content(offset: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = contentByte(offset + i);
  return b;
}

export interface Harness {
  path: string;
  dir: string;
  server: Server;
  serverConnections: IpcConnection<TestSpec>[];
  cancelled: number[];
  serverStreams: IpcStream[];
  client(options?: Partial<IpcConnectionOptions<TestSpec>>): Promise<IpcConnection<TestSpec>>;
  raw(): Promise<Socket>;
}

export async function startHarness(
  t: Tap,
  serverOptions: Partial<IpcConnectionOptions<TestSpec>> = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'braid-ipc-'));
  const path = join(dir, 'test.sock');
  const serverConnections: IpcConnection<TestSpec>[] = [];
  const cancelled: number[] = [];
  const serverStreams: IpcStream[] = [];
  const sockets = new Set<Socket>();
  let waits = 0;
  const handlers: RequestHandlers<TestSpec> = {
    echo: ({ text }) => ({ text }),
    fail: ({ code }) => {
      const err = new Error(`failed with ${code}`) as Error & { code: string };
      err.code = code;
      throw err;
    },
    wait: (_p, { signal }) => {
      const n = ++waits;
      return new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          cancelled.push(n);
          reject(signal.reason as Error);
        });
      });
    },
    emit: ({ count, bad }) => {
      const conn = serverConnections.at(-1)!;
      for (let n = 0; n < count; n++) conn.sendEvent('tick', { n });
      if (bad) conn.sendEvent('tick', { n: 'not a number' } as unknown as { n: number });
      return null;
    },
    source: ({ bytes }, { attachStream }) => {
      const stream = attachStream();
      serverStreams.push(stream);
      stream.on('error', () => undefined);
      void (async () => {
        const chunk = 10_000;
        for (let off = 0; off < bytes; off += chunk) {
          if (!stream.write(content(off, Math.min(chunk, bytes - off))))
            await new Promise((r) => stream.once('drain', r));
          if (stream.destroyed) return;
        }
        stream.end();
      })();
      return null;
    },
    echoStream: (_p, { attachStream }) => {
      const stream = attachStream();
      serverStreams.push(stream);
      pipeline(stream, stream).catch(() => undefined);
      return null;
    },
    lie: () => ({ n: 'seven' }) as unknown as { n: number },
  };
  const server = await listenSocket(path, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const conn = new IpcConnection(socket, {
      role: 'server',
      spec: testSpec,
      software: 'test-server 1',
      handlers,
      ...serverOptions,
    });
    serverConnections.push(conn);
  });
  const clients: IpcConnection<TestSpec>[] = [];
  const raws: Socket[] = [];
  t.teardown(async () => {
    for (const c of clients) c.close();
    for (const r of raws) r.destroy();
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    path,
    dir,
    server,
    serverConnections,
    cancelled,
    serverStreams,
    async client(options = {}) {
      const socket = await connectSocket(path);
      const conn = new IpcConnection(socket, {
        role: 'client',
        spec: testSpec,
        software: 'test-client 1',
        ...options,
      });
      clients.push(conn);
      return conn;
    },
    async raw() {
      const socket = await connectSocket(path);
      raws.push(socket);
      return socket;
    },
  };
}

/** Reads a whole readable into one buffer. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Collects every frame a raw socket receives, decoded, until it closes. */
export function collectFrames(
  socket: Socket,
  decode: (chunk: Buffer) => unknown[],
): Promise<unknown[]> {
  const out: unknown[] = [];
  return new Promise((resolve) => {
    socket.on('data', (c: Buffer) => {
      try {
        out.push(...decode(c));
      } catch (err) {
        out.push({ decodeError: (err as Error).message });
      }
    });
    socket.on('close', () => resolve(out));
    socket.on('error', () => undefined);
  });
}

/** The `code` of an error-like value. */
export function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Waits until `predicate` holds, polling every 2 ms at most `turns` times (a bounded wait). */
export async function eventually(predicate: () => boolean, turns = 500): Promise<boolean> {
  for (let i = 0; i < turns; i++) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return predicate();
}
