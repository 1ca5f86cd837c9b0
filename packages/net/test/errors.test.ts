/**
 * Bad input and failures give the errors a Node program already handles: synchronous TypeErrors
 * for bad arguments, and `ECONNREFUSED`, `ENOTFOUND`, `EHOSTUNREACH`, `ETIMEDOUT`, `ECONNRESET`,
 * `EPIPE`, `EADDRINUSE`, `ENOBUFS` events, each with Braid's own code (`braidCode`) and the
 * original error (`cause`) — over braidd and over an embedded endpoint.
 */
import t from 'tap';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { constants } from 'node:os';
import {
  BraidNetError,
  connect,
  createServer,
  nodeCodeFor,
  Server,
  Socket,
  type ConnectOptions,
} from '@braid/net';
import { embedded } from '@braid/sdk';
import { content, MODES, pair } from './support/clients.js';

t.setTimeout(240_000); // a bound on a hang; nothing here is timed

type NetError = BraidNetError & { cause: Error & { code?: string } };

async function connectError(options: ConnectOptions): Promise<{ err: NetError; events: string[] }> {
  const socket = connect(options);
  const events: string[] = [];
  for (const e of ['connect', 'error', 'close']) socket.on(e, () => events.push(e));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  const [err] = (await once(socket, 'error')) as [NetError];
  await closed;
  return { err, events };
}

/** Resolves on `drain` or `close`, whichever first (an `error` is the caller's to see). */
function drainOrClose(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** An EID nobody has told the client about. */
async function strangerEid(): Promise<string> {
  const e = await embedded({ bind: ['127.0.0.1:0'] });
  const eid = e.eid;
  await e.close();
  return eid;
}

t.test('bad arguments throw synchronously, with Node codes', async (t) => {
  const { a, b } = await pair(t, 'embedded');
  const peer = a.eid;
  for (const service of ['', 'has space', 'x'.repeat(65), 'é', 'a/b'])
    t.throws(
      () => connect({ client: b, peer, service }),
      { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', braidCode: 'ERR_BRAID_SERVICE_INVALID' },
      `service ${JSON.stringify(service)}`,
    );
  t.throws(() => connect({ client: b, peer, service: 7 as unknown as string }), {
    code: 'ERR_INVALID_ARG_TYPE',
  });
  t.throws(() => connect({ client: b, peer } as ConnectOptions), { code: 'ERR_MISSING_ARGS' });
  t.throws(() => connect({ client: b, service: 'x' }), { code: 'ERR_MISSING_ARGS' });
  // One character changed: the bech32m checksum catches it.
  const typo = peer.slice(0, -1) + (peer.endsWith('q') ? 'p' : 'q');
  t.throws(() => connect({ client: b, peer: typo, service: 'x' }), {
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_VALUE',
    braidCode: 'ERR_BRAID_EID_INVALID',
  });
  t.throws(() => connect({ peer, service: 'x' }), {
    code: 'ERR_MISSING_ARGS',
    message: /setDefaultClient/,
  });
  t.throws(() => connect(42 as unknown as ConnectOptions), { code: 'ERR_INVALID_ARG_TYPE' });
  t.throws(() => connect({ client: b, peer, service: 'x', timeout: -1 }), {
    code: 'ERR_INVALID_ARG_VALUE',
  });

  const server = new Server({ client: a });
  t.throws(() => server.listen({ service: 'no spaces' }), {
    code: 'ERR_INVALID_ARG_VALUE',
    braidCode: 'ERR_BRAID_SERVICE_INVALID',
  });
  t.throws(() => server.listen('y'.repeat(65)), { code: 'ERR_INVALID_ARG_VALUE' });
  const notRunning = await new Promise<Error | undefined>((resolve) => server.close(resolve));
  t.match(notRunning, { code: 'ERR_SERVER_NOT_RUNNING' });
  server.listen('dup');
  t.throws(() => server.listen('dup'), { code: 'ERR_SERVER_ALREADY_LISTEN' });
  await once(server, 'listening');
  await new Promise((resolve) => server.close(resolve));

  const socket = new Socket({ client: b });
  socket.on('error', () => undefined);
  socket.connect('dup', peer);
  t.throws(() => socket.connect('dup', peer), { code: 'ERR_SOCKET_CONNECTING' });
  socket.destroy();
});

for (const mode of MODES) {
  t.test(`${mode}: unknown service → ECONNREFUSED`, async (t) => {
    const { a, b } = await pair(t, mode);
    const { err, events } = await connectError({ client: b, peer: a.eid, service: 'nobody' });
    t.type(err, BraidNetError);
    t.match(err, {
      code: 'ECONNREFUSED',
      errno: -constants.errno.ECONNREFUSED,
      syscall: 'connect',
      address: a.eid,
      service: 'nobody',
      braidCode: 'ERR_BRAID_SERVICE_UNKNOWN',
      message: /^connect ECONNREFUSED braid1/,
    });
    t.equal(err.cause.code, 'ERR_BRAID_SERVICE_UNKNOWN', 'the original error is the cause');
    t.same(events, ['error', 'close'], 'no connect; error then close');
  });

  t.test(`${mode}: a peer nobody knows → ENOTFOUND`, async (t) => {
    const { b } = await pair(t, mode);
    const stranger = await strangerEid();
    const { err } = await connectError({ client: b, peer: stranger, service: 'x' });
    t.match(err, {
      code: 'ENOTFOUND',
      syscall: 'connect',
      hostname: stranger,
      braidCode: 'ERR_BRAID_PEER_UNKNOWN',
    });
  });

  t.test(`${mode}: a peer no local address can reach → EHOSTUNREACH`, async (t) => {
    const { b } = await pair(t, mode);
    const stranger = await strangerEid();
    // B has IPv4 sockets only.
    const { err } = await connectError({
      client: b,
      peer: stranger,
      service: 'x',
      locators: ['[::1]:9'],
    });
    t.match(err, { code: 'EHOSTUNREACH', braidCode: 'ERR_BRAID_NO_ROUTE' });
  });

  t.test(`${mode}: a peer that never answers → ETIMEDOUT`, async (t) => {
    const { b } = await pair(t, mode, {
      protocol: { connectTimeoutMs: 300 },
      embeddedB: { connectTimeoutMs: 300 },
    });
    // A UDP socket that takes every datagram and answers none.
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => silent.close(() => resolve())));
    const stranger = await strangerEid();
    const { err } = await connectError({
      client: b,
      peer: stranger,
      service: 'x',
      locators: [`127.0.0.1:${silent.address().port}`],
    });
    t.match(err, {
      code: 'ETIMEDOUT',
      errno: -constants.errno.ETIMEDOUT,
      syscall: 'connect',
      braidCode: 'ERR_BRAID_HANDSHAKE_TIMEOUT',
    });
  });

  t.test(`${mode}: the service is taken → EADDRINUSE`, async (t) => {
    const { a } = await pair(t, mode);
    const first = createServer({ client: a });
    first.listen('taken');
    await once(first, 'listening');
    t.teardown(() => new Promise((resolve) => first.close(resolve)));
    const second = createServer({ client: a });
    second.listen('taken');
    const [err] = (await once(second, 'error')) as [NetError];
    t.match(err, { code: 'EADDRINUSE', syscall: 'listen', braidCode: 'ERR_BRAID_SERVICE_IN_USE' });
    t.equal(second.listening, false);
  });

  t.test(`${mode}: the far side resets mid-stream → ECONNRESET`, async (t) => {
    const { a, b } = await pair(t, mode);
    // The server sends, and resets the stream once the client says it got some.
    const server = createServer({ client: a }, (s) => {
      s.write(content(200_000));
      s.once('data', () => s.resetAndDestroy());
    });
    server.listen('reset');
    await once(server, 'listening');
    t.teardown(() => new Promise((resolve) => server.close(resolve)));
    const socket = connect({ client: b, peer: a.eid, service: 'reset' });
    let bytes = 0;
    socket.on('data', (c: Buffer) => {
      if (bytes === 0) socket.write('got some');
      bytes += c.length;
    });
    let ended = false;
    socket.on('end', () => (ended = true));
    const [err] = (await once(socket, 'error')) as [NetError];
    t.match(err, { code: 'ECONNRESET', syscall: 'read', braidCode: 'ERR_BRAID_STREAM_RESET' });
    t.equal(ended, false, 'no clean end: the reader knows bytes may be missing');
    t.ok(bytes > 0 && bytes <= 200_000, `${bytes} bytes before the reset`);
  });

  t.test(`${mode}: the far side's host goes away mid-stream → ECONNRESET`, async (t) => {
    const { a, b } = await pair(t, mode);
    const server = createServer({ client: a }, (s) => {
      s.on('error', () => undefined);
      s.resume();
    });
    server.listen('sink');
    await once(server, 'listening');
    const socket = connect({ client: b, peer: a.eid, service: 'sink' });
    await once(socket, 'connect');
    // A writer that never stops on its own (bounded: 10 000 chunks).
    let failed: NetError | undefined;
    socket.on('error', (err: NetError) => (failed = err));
    const writing = (async () => {
      for (let i = 0; i < 10_000 && !failed && !socket.destroyed; i++)
        if (!socket.write(content(64 * 1024, i))) await drainOrClose(socket);
    })();
    await a.close();
    await writing;
    t.ok(failed, 'the writer got an error');
    t.match(failed, { code: 'ECONNRESET', braidCode: /^ERR_BRAID_/ });
  });
}

t.test('embedded: the peer destroys its socket while we write → EPIPE', async (t) => {
  const { a, b } = await pair(t, 'embedded');
  const server = createServer({ client: a }, (s) => s.once('data', () => s.destroy()));
  server.listen('x');
  await once(server, 'listening');
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const socket = connect({ client: b, peer: a.eid, service: 'x' });
  await once(socket, 'connect');
  let failed: NetError | undefined;
  socket.on('error', (err: NetError) => (failed = err));
  for (let i = 0; i < 10_000 && !failed && !socket.destroyed; i++)
    if (!socket.write(content(64 * 1024, i))) await drainOrClose(socket);
  t.match(failed, { code: 'EPIPE', syscall: 'write', braidCode: 'ERR_BRAID_STREAM_STOPPED' });
});

t.test('daemon: a peer whose allowlist refuses us → ECONNREFUSED', async (t) => {
  const { a, b } = await pair(t, 'daemon', { allowA: 'configured' });
  const { err } = await connectError({ client: b, peer: a.eid, service: 'x' });
  t.match(err, { code: 'ECONNREFUSED', braidCode: 'ERR_BRAID_SESSION_CLOSED' });
  t.match(err.message, /PEER_REFUSED/);
});

t.test(
  'more written before connecting than the bound → ENOBUFS, nothing dropped silently',
  async (t) => {
    const { a, b } = await pair(t, 'embedded');
    const socket = connect({
      client: b,
      peer: a.eid,
      service: 'x',
      connectBufferBytesMax: 100_000,
    });
    const callbacks: (string | undefined)[] = [];
    socket.write(content(60_000), (err?: Error | null) =>
      callbacks.push((err as { code?: string } | null)?.code),
    );
    const accepted = socket.write(content(60_000), (err?: Error | null) =>
      callbacks.push((err as { code?: string } | null)?.code),
    );
    t.equal(accepted, false, 'write() refused the chunk past the bound');
    const closed = new Promise((resolve) => socket.once('close', resolve));
    const [err] = (await once(socket, 'error')) as [NetError];
    t.match(err, { code: 'ENOBUFS', braidCode: 'ERR_BRAID_CONNECT_BUFFER_FULL' });
    await closed;
    t.equal(callbacks.length, 2, 'both write callbacks were called');
    t.ok(
      callbacks.every((c) => c !== undefined),
      `both writes failed, none claims success (${callbacks.join()})`,
    );
  },
);

t.test('the code table', async (t) => {
  t.equal(nodeCodeFor('ERR_BRAID_SERVICE_UNKNOWN', 'connect'), 'ECONNREFUSED');
  t.equal(nodeCodeFor('ERR_BRAID_SERVICE_REFUSED', 'connect'), 'ECONNREFUSED');
  t.equal(nodeCodeFor('ERR_BRAID_HANDSHAKE_TIMEOUT', 'connect'), 'ETIMEDOUT');
  t.equal(nodeCodeFor('ERR_BRAID_SESSION_CLOSED', 'connect'), 'ECONNREFUSED');
  t.equal(nodeCodeFor('ERR_BRAID_SESSION_CLOSED', 'read'), 'ECONNRESET');
  t.equal(
    nodeCodeFor('ERR_BRAID_SESSION_CLOSED', 'read', { code: 0x0d, reason: '', byPeer: false }),
    'ETIMEDOUT',
    'a session that died of its idle timeout',
  );
  t.equal(nodeCodeFor('ERR_BRAID_DAEMON_CONNECTION_LOST', 'connect'), 'ENETDOWN');
  t.equal(nodeCodeFor('ERR_BRAID_DAEMON_CONNECTION_LOST', 'read'), 'ECONNRESET');
  t.equal(nodeCodeFor('ERR_BRAID_ENDPOINT_CLOSED', 'connect'), 'ENETDOWN');
  t.equal(nodeCodeFor('ERR_BRAID_STREAM_STOPPED', 'write'), 'EPIPE');
  t.equal(nodeCodeFor('ERR_BRAID_STREAM_RESET', 'connect'), 'ECONNRESET', 'reset after accept');
  t.equal(nodeCodeFor('ERR_BRAID_STREAM_RESET', 'read'), 'ECONNRESET');
  t.equal(nodeCodeFor(undefined, 'read'), 'ECONNRESET');
  t.equal(nodeCodeFor(undefined, 'connect'), 'ECONNREFUSED');
  t.equal(nodeCodeFor('ERR_BRAID_SERVICE_IN_USE', 'listen'), 'EADDRINUSE');
});
