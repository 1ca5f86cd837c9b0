import t from 'tap';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '@braid/daemon';
import {
  IPC_PROTOCOL_VERSION,
  IpcConnection,
  controlProtocol,
  type ControlProtocol,
  type IpcConnectionOptions,
} from '@braid/ipc';
import { connect, embedded, type BraidClient, type DaemonClient } from '@braid/sdk';

type Tap = { teardown(fn: () => unknown): void };

function tempDir(t: Tap): string {
  const dir = mkdtempSync(join(tmpdir(), 'braid-sdk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const quiet = { write: () => undefined };

function content(offset: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = ((offset + i) * 131 + 7) & 0xff;
  return b;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function daemonPair(
  t: Tap,
): Promise<{ a: Daemon; b: Daemon; clientA: DaemonClient; clientB: DaemonClient }> {
  const start = async (peers: { eid: string; locators: string[] }[]) => {
    const dir = tempDir(t);
    const d = await startDaemon({
      config: {
        stateDir: dir,
        socketPath: join(dir, 's.sock'),
        bind: ['127.0.0.1:0', '127.0.0.2:0'],
        allow: 'open',
        peers,
        log: { level: 'silent' },
      },
      logDestination: quiet,
    });
    t.teardown(() => d.close());
    return d;
  };
  const a = await start([]);
  const b = await start([{ eid: a.eid, locators: a.locators }]);
  const clientA = await connect({ socketPath: a.socketPath });
  t.teardown(() => clientA.close());
  const clientB = await connect({ socketPath: b.socketPath });
  t.teardown(() => clientB.close());
  return { a, b, clientA, clientB };
}

async function embeddedPair(
  t: Tap,
  udpSockets: 'auto' | 'dgram' = 'auto',
): Promise<{ clientA: BraidClient; clientB: BraidClient }> {
  const a = await embedded({ bind: ['127.0.0.1:0', '127.0.0.2:0'], udpSockets });
  t.teardown(() => a.close());
  const b = await embedded({
    bind: ['127.0.0.1:0', '127.0.0.2:0'],
    udpSockets,
    peers: [{ eid: a.eid, locators: a.locators }],
  });
  t.teardown(() => b.close());
  return { clientA: a, clientB: b };
}

/**
 * The same application code, whatever the mode: B opens a session to A, sends 3 MB to A's
 * `echo` service, which sends it back; then a datagram from B to A. Returns what it saw.
 */
async function scenario(clientA: BraidClient, clientB: BraidClient) {
  const listener = await clientA.listen('echo');
  const served = (async () => {
    for await (const stream of listener) {
      stream.pipe(stream);
      await once(stream, 'finish');
      return stream.session;
    }
    throw new Error('listener ended');
  })();
  const session = await clientB.openSession(clientA.eid);
  const stream = await session.openStream('echo');
  const size = 3 * 1024 * 1024;
  const data = content(0, size);
  const [, echoed] = await Promise.all([
    (async () => {
      for (let off = 0; off < size; off += 100_000) {
        if (!stream.write(data.subarray(off, off + 100_000))) await once(stream, 'drain');
      }
      stream.end();
    })(),
    readAll(stream),
  ]);
  const remote = await served;
  await listener.close();
  const got = new Promise<Uint8Array>((resolve) => remote.on('datagram', resolve));
  session.sendDatagram(Buffer.from('ping'));
  return {
    sizeOk: echoed.length === size,
    sameHash:
      createHash('sha256').update(echoed).digest('hex') ===
      createHash('sha256').update(data).digest('hex'),
    remotePeer: remote.peer,
    datagram: Buffer.from(await got).toString(),
    paths: (await session.paths()).length,
    rttType: typeof (await session.stats()).rttMs,
  };
}

t.test('the same app code runs through braidd (connect) and embedded', async (t) => {
  const d = await daemonPair(t);
  t.equal(d.clientB.mode, 'daemon');
  const e = await embeddedPair(t);
  t.equal(e.clientB.mode, 'embedded');
  for (const [mode, pair] of [
    ['daemon', d],
    ['embedded', e],
  ] as const) {
    const r = await scenario(pair.clientA, pair.clientB);
    t.same(
      r,
      {
        sizeOk: true,
        sameHash: true,
        remotePeer: pair.clientB.eid,
        datagram: 'ping',
        paths: r.paths,
        rttType: 'number',
      },
      `${mode}: echoed byte-exact, datagram delivered`,
    );
    t.ok(r.paths >= 1, `${mode}: paths reported`);
  }
});

t.test('a reader that stops holds the writer back through both daemons', async (t) => {
  const { clientA, clientB } = await daemonPair(t);
  const listener = await clientA.listen('sink');
  const session = await clientB.openSession(clientA.eid);
  const stream = await session.openStream('sink');
  // Taken from the listener's queue (it may have arrived before any 'stream' handler).
  const next = await listener[Symbol.asyncIterator]().next();
  const incoming = next.value as NodeJS.ReadableStream & { pause(): void };
  incoming.pause();
  let written = 0;
  const chunk = 64 * 1024;
  // Write until backpressure holds for a while; bounded by 2 000 chunks (128 MB).
  let stalled = 0;
  for (let i = 0; i < 2000 && stalled < 20; i++) {
    if (stream.write(content(written, chunk))) {
      written += chunk;
      stalled = 0;
      continue;
    }
    written += chunk;
    const drained = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        stream.off('drain', onDrain);
        resolve(false);
      }, 20);
      const onDrain = () => {
        clearTimeout(timer);
        resolve(true);
      };
      stream.once('drain', onDrain);
    });
    stalled = drained ? 0 : stalled + 1;
  }
  t.ok(stalled >= 20, 'the writer was held back');
  // What the pipeline holds: IPC windows and stream buffers on both hosts and the protocol's
  // per-stream window; far below what was offered if anything buffered without bound.
  t.ok(written <= 16 * 1024 * 1024, `at most 16 MiB in flight (${written} bytes written)`);
  stream.end();
  const got = await readAll(incoming);
  t.equal(got.length, written);
  t.ok(got.equals(content(0, written)), 'byte-exact once the reader resumes');
});

/**
 * A stand-in for braidd on a Unix socket in a temporary directory: every connection is an
 * `IpcConnection` with `options` (its software, version, handlers). Closed at teardown.
 */
async function fakeBraidd(
  t: Tap,
  options: Omit<IpcConnectionOptions<ControlProtocol>, 'role' | 'spec'>,
): Promise<{ socketPath: string; connections: IpcConnection<ControlProtocol>[] }> {
  const socketPath = join(tempDir(t), 'fake.sock');
  const connections: IpcConnection<ControlProtocol>[] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    const conn = new IpcConnection(socket, { ...options, role: 'server', spec: controlProtocol });
    conn.on('close', () => undefined);
    connections.push(conn);
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { socketPath, connections };
}

t.test(
  'connect: a clear error when the daemon is not there, or speaks another version',
  async (t) => {
    const dir = tempDir(t);
    const absent = join(dir, 'absent.sock');
    await t.rejects(connect({ socketPath: absent }), {
      code: 'ERR_BRAID_DAEMON_NOT_RUNNING',
      message: `braidd is not running (no socket at ${absent}); start it with \`braid daemon\``,
    });
    await t.rejects(connect({ env: { BRAID_SOCKET: absent } }), {
      code: 'ERR_BRAID_DAEMON_NOT_RUNNING',
    });
    await t.rejects(connect({ socketPath: absent, signal: AbortSignal.abort() }), {
      code: 'ERR_BRAID_ABORTED',
    });
    // A "daemon" from the future.
    const future = await fakeBraidd(t, {
      software: 'braidd 9.0.0',
      protocolVersion: IPC_PROTOCOL_VERSION + 1,
    });
    await t.rejects(connect({ socketPath: future.socketPath }), {
      code: 'ERR_BRAID_IPC_VERSION',
      message: /braidd 9\.0\.0 speaks control protocol version 2 but braid-sdk .* speaks version 1/,
    });
  },
);

t.test('the app learns when braidd goes away', async (t) => {
  const { a, clientA } = await daemonPair(t);
  const listener = await clientA.listen('svc');
  const errors: string[] = [];
  clientA.on('error', (e) => errors.push((e as Error & { code: string }).code));
  const listenerClosed = new Promise<void>((resolve) => listener.on('close', resolve));
  await a.close();
  await listenerClosed;
  t.same(errors, ['ERR_BRAID_DAEMON_CONNECTION_LOST']);
  await t.rejects(clientA.status(), { code: 'ERR_BRAID_IPC_CLOSED' });
});

t.test(
  'a session the peer closed: both modes refuse it with the close code and reason',
  async (t) => {
    const d = await daemonPair(t);
    const e = await embeddedPair(t);
    for (const [mode, { clientA, clientB }] of [
      ['daemon', d],
      ['embedded', e],
    ] as const) {
      const listener = await clientA.listen('bye');
      const accepted = (async () => {
        for await (const stream of listener) return stream;
        throw new Error('listener ended');
      })();
      const session = await clientB.openSession(clientA.eid);
      const stream = await session.openStream('bye');
      stream.write('hello');
      const served = await accepted;
      // Closing the session ends its streams, with an error where they were still open.
      for (const s of [stream, served]) s.on('error', () => undefined);
      const remote = served.session;
      const closed = new Promise((resolve) => remote.on('closed', resolve));
      await session.close('bye');
      t.same(await closed, { code: 0, reason: 'bye', byPeer: true }, `${mode}: the peer saw why`);
      await t.rejects(
        remote.openStream('bye'),
        {
          code: 'ERR_BRAID_SESSION_CLOSED',
          message: /closed by the peer: NO_ERROR \(bye\)/,
          close: { code: 0, reason: 'bye', byPeer: true },
        },
        `${mode}: the peer's side refuses with the close`,
      );
      await t.rejects(
        session.openStream('bye'),
        { code: 'ERR_BRAID_SESSION_CLOSED', close: { code: 0, reason: 'bye', byPeer: false } },
        `${mode}: so does ours`,
      );
      await listener.close();
    }
  },
);

/** How many resources of `kind` hold this process's event loop now. */
function holding(kind: string): number {
  return process.getActiveResourcesInfo().filter((r) => r === kind).length;
}

t.test('unref lets go of the process, ref holds it again: both modes', async (t) => {
  const d = await daemonPair(t);
  // node:dgram sockets, whose handles Node lists (UDPWrap); the native ones are libuv polls it
  // does not list. That they let go of the process too is the next test's (auto: native here).
  const e = await embeddedPair(t, 'dgram');
  for (const [mode, client, kind, count] of [
    // The daemons of this test run in this process too: only the client's own handles change.
    ['daemon', d.clientB, 'PipeWrap', 1],
    // Two addresses, two UDP sockets; a session, so the protocol's timer is armed as well.
    ['embedded', e.clientB, 'UDPWrap', 2],
  ] as const) {
    if (mode === 'embedded') await client.openSession(e.clientA.eid);
    const before = holding(kind);
    t.equal(client.unref(), client, `${mode}: unref returns the client`);
    t.equal(holding(kind), before - count, `${mode}: its ${count} ${kind} no longer hold it`);
    client.ref();
    t.equal(holding(kind), before, `${mode}: ref holds it again`);
  }
});

t.test('an embedded client that is unref-ed lets its process end by itself', async (t) => {
  // A child that opens an endpoint with a session and unrefs it, then has nothing else to do.
  const script = `
    import { embedded } from '@braid/sdk';
    const a = await embedded({ bind: ['127.0.0.1:0'] });
    const b = await embedded({ bind: ['127.0.0.1:0'], peers: [{ eid: a.eid, locators: a.locators }] });
    await b.openSession(a.eid);
    a.unref();
    b.unref();
    console.log('unref-ed');
  `;
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: new URL('..', import.meta.url),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  // A hang bound, not a timing assertion: without unref the child would never exit.
  const bound = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(bound);
  t.equal(out.trim(), 'unref-ed');
  t.same({ code, signal }, { code: 0, signal: null }, 'it exited on its own');
});

/**
 * A stand-in for braidd that resets every stream it hands over right behind the message that
 * hands it over (the response to `openStream`, or a `stream` event), as braidd does when the
 * peer refuses a stream at once: both reach the SDK in one read of the control socket.
 */
async function resettingDaemon(t: Tap): Promise<{
  socketPath: string;
  /** Hands a stream of `service` over in an event; `reset`: with its reset right behind. */
  offer(service: string, reset: boolean): void;
}> {
  const refused = () =>
    Object.assign(new Error('stream 4 was reset by the peer (code 1)'), {
      code: 'ERR_BRAID_STREAM_RESET',
    });
  const resetSoon = (stream: { destroy(error: Error): void }) =>
    setImmediate(() => stream.destroy(refused()));
  const { socketPath, connections: conns } = await fakeBraidd(t, {
    software: 'fake braidd',
    handlers: {
      status: () => ({
        eid: 'braid1fake',
        locators: [],
        sessions: 0,
        services: [],
        uptimeMs: 0,
        mode: 'daemon' as const,
        version: '0',
      }),
      sessions: () => [],
      openSession: ({ peer }) => ({ id: 's1', peer, role: 'initiator' as const }),
      listen: () => null,
      openStream: ({ service }, { attachStream }) => {
        const stream = attachStream();
        stream.on('error', () => undefined);
        resetSoon(stream);
        return { streamId: 4, service };
      },
    },
  });
  return {
    socketPath,
    offer(service, reset) {
      const stream = conns
        .at(-1)!
        .sendEvent('stream', { session: 's1', service, streamId: 4 }, { stream: true })!;
      stream.on('error', () => undefined);
      if (reset) resetSoon(stream);
    },
  };
}

t.test(
  'a stream reset right behind the answer that hands it over: openStream rejects, an iterator skips it, nothing throws',
  async (t) => {
    const fake = await resettingDaemon(t);
    const client = await connect({ socketPath: fake.socketPath });
    t.teardown(() => client.close());
    const session = await client.openSession('braid1peer');
    // Before the fix, Node emitted the reset's 'error' before openStream's caller could listen,
    // and the process died of it.
    for (let i = 0; i < 20; i++)
      await t.rejects(
        session.openStream('refusing'),
        { code: 'ERR_BRAID_STREAM_RESET', message: /reset by the peer/ },
        `openStream ${i} rejects with the reset`,
      );

    const listener = await client.listen('svc');
    const iterator = listener[Symbol.asyncIterator]();
    // An iterator already waiting when the stream and its reset arrive.
    const waiting = iterator.next();
    fake.offer('svc', true);
    fake.offer('svc', false);
    const first = await waiting;
    t.equal(first.done, false);
    t.equal(first.value!.destroyed, false, 'the waiting iterator gets the live stream');
    // Streams queued before anyone iterates: the one reset meanwhile is dropped.
    fake.offer('svc', true);
    fake.offer('svc', false);
    await new Promise((r) => setTimeout(r, 50));
    const second = await iterator.next();
    t.equal(second.value!.destroyed, false, 'the backlog hands over only the live stream');
    for (const s of [first.value!, second.value!]) s.destroy();
    await listener.close();
  },
);
