/**
 * The socket and server behave as `node:net`'s do: events in order, counters, half-close,
 * destroy, timeouts, ref/unref, connection counts, backpressure; over braidd and over an
 * embedded endpoint alike.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import {
  connect,
  createServer,
  getDefaultClient,
  setDefaultClient,
  Socket,
  type Server,
} from '@braid/net';
import { content, eventually, MODES, pair, type Pair } from './support/clients.js';

t.setTimeout(240_000); // a bound on a hang; nothing here is timed

async function listening(t: Tap, server: Server, service: string): Promise<Server> {
  server.listen({ service });
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return server;
}

type Tap = { teardown(fn: () => unknown): void };

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

async function readAll(socket: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of socket) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function closed(socket: Socket): Promise<boolean> {
  return new Promise((resolve) => socket.once('close', (hadError: boolean) => resolve(hadError)));
}

for (const mode of MODES) {
  t.test(`${mode}: events in node:net's order, counters, addresses`, async (t) => {
    const { a, b }: Pair = await pair(t, mode);
    const serverSockets: Socket[] = [];
    const server = createServer({ client: a }, (socket) => {
      serverSockets.push(socket);
      socket.pipe(socket);
    });
    await listening(t, server, 'echo');
    t.same(server.address(), { address: a.eid, family: 'braid', service: 'echo' });
    t.equal(server.listening, true);

    const data = content(300_000, 1);
    const socket = connect({ client: b, peer: a.eid, service: 'echo' });
    const events: string[] = [];
    for (const e of ['connect', 'ready', 'end', 'finish']) socket.on(e, () => events.push(e));
    socket.once('data', () => events.push('data'));
    t.equal(socket.connecting, true, 'connecting at once');
    t.equal(socket.pending, true);
    t.equal(socket.readyState, 'opening');
    t.equal(socket.remoteAddress, undefined, 'no remote address before connecting');
    t.same(socket.address(), {});
    const hadError = closed(socket);
    await once(socket, 'connect');
    t.equal(socket.connecting, false);
    t.equal(socket.pending, false);
    t.equal(socket.readyState, 'open');
    t.equal(socket.remoteAddress, a.eid, 'remoteAddress is the peer EID');
    t.equal(socket.remoteFamily, 'braid');
    t.equal(socket.remotePort, undefined);
    t.equal(socket.localAddress, b.eid);
    t.same(socket.address(), { address: b.eid, family: 'braid', service: 'echo' });
    t.equal(socket.service, 'echo');
    t.equal(socket.session?.peer, a.eid);
    socket.end(data);
    const echoed = await readAll(socket);
    t.equal(await hadError, false, 'close without error');
    t.equal(sha(echoed), sha(data), 'echo byte-exact');
    const at = (e: string) => events.indexOf(e);
    t.ok(
      at('connect') === 0 && at('ready') === 1 && at('data') > 1 && at('end') > at('data'),
      `connect, ready, data, end (${events.join()})`,
    );
    t.ok(at('finish') > at('ready'), 'finish after ready');
    t.equal(socket.bytesWritten, data.length);
    t.equal(socket.bytesRead, data.length);
    t.equal(socket.readyState, 'closed');
    t.equal(socket.destroyed, true);

    const [served] = serverSockets;
    t.ok(served, 'the server saw the connection');
    await eventually(() => (served!.destroyed ? true : undefined), 'the server socket closed');
    t.equal(served!.remoteAddress, b.eid, "the server socket's remoteAddress is the client's EID");
    t.equal(served!.bytesRead, data.length);
    t.equal(served!.bytesWritten, data.length);
    t.equal(served!.server, server);
  });

  t.test(`${mode}: writes before connect wait, in order, and go out on connect`, async (t) => {
    const { a, b } = await pair(t, mode);
    let received: Promise<Buffer> | undefined;
    const server = createServer({ client: a }, (s) => {
      received = readAll(s);
    });
    await listening(t, server, 'sink');
    const socket = connect({ client: b, peer: a.eid, service: 'sink' });
    const data = content(1_000_000, 2);
    let refused = 0;
    for (let off = 0; off < data.length; off += 50_000)
      if (!socket.write(data.subarray(off, off + 50_000))) refused++;
    t.ok(socket.connecting, 'still connecting after the writes');
    t.ok(refused > 0, 'write() said to wait once past the high-water mark');
    t.equal(socket.bytesWritten, data.length, 'bytesWritten counts what is buffered');
    socket.end();
    socket.resume();
    await eventually(() => received, 'the server connection');
    t.equal(sha(await received!), sha(data), 'everything, in order');
    t.equal(await closed(socket), false);
  });

  t.test(`${mode}: half-open with allowHalfOpen, auto-end without`, async (t) => {
    const { a, b } = await pair(t, mode);
    // allowHalfOpen: the server answers after the client's end.
    const halfOpen = createServer({ client: a, allowHalfOpen: true }, (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => {
        t.equal(s.writable, true, 'still writable after the peer ended');
        t.equal(s.readyState, 'writeOnly');
        s.end(`got ${Buffer.concat(chunks).length} bytes`);
      });
    });
    await listening(t, halfOpen, 'half');
    const c1 = connect({ client: b, peer: a.eid, service: 'half', allowHalfOpen: true });
    c1.end(content(70_000));
    t.equal((await readAll(c1)).toString(), 'got 70000 bytes', 'answer after our end');

    // Without it: the server's side ends by itself when the client's does.
    const autoEnded = new Promise<string>((resolve) => {
      const server = createServer({ client: a }, (s) => {
        s.resume();
        s.on('finish', () => resolve(s.readyState));
      });
      void listening(t, server, 'auto');
    });
    const c2 = connect({ client: b, peer: a.eid, service: 'auto' });
    c2.end('bye');
    t.equal((await readAll(c2)).length, 0, "the client sees the server's end");
    t.not(await autoEnded, 'writeOnly', 'the server side ended itself');
  });

  t.test(`${mode}: destroy() delivers what was handed over, then the end`, async (t) => {
    const { a, b } = await pair(t, mode);
    const received: Promise<Buffer>[] = [];
    const server = createServer({ client: a }, (s) => {
      received.push(readAll(s));
      s.on('error', () => undefined);
    });
    await listening(t, server, 'sink');
    const data = content(2_000_000, 3);

    // destroy() right after the last write's callback: it was handed to the stream.
    const c1 = connect({ client: b, peer: a.eid, service: 'sink' });
    await once(c1, 'connect');
    for (let off = 0; off < data.length; off += 100_000) {
      const chunk = data.subarray(off, off + 100_000);
      await new Promise<void>((resolve, reject) =>
        c1.write(chunk, (err?: Error | null) => (err ? reject(err) : resolve())),
      );
    }
    const c1Closed = closed(c1);
    c1.destroy();
    t.equal(await c1Closed, false, 'closed without error');
    await eventually(() => received[0], 'the server connection');
    t.equal(sha(await received[0]!), sha(data), 'the peer got every byte, then the end');

    // destroySoon() (what node:http's server calls): end, then destroy once written.
    const c2 = connect({ client: b, peer: a.eid, service: 'sink' });
    c2.write(data);
    c2.destroySoon();
    await closed(c2);
    await eventually(() => received[1], 'the second server connection');
    t.equal(sha(await received[1]!), sha(data), 'destroySoon: every byte');
  });

  t.test(`${mode}: setTimeout emits timeout when idle and leaves the socket open`, async (t) => {
    const { a, b } = await pair(t, mode);
    const server = createServer({ client: a }, (s) => s.pipe(s));
    await listening(t, server, 'echo');
    const socket = connect({ client: b, peer: a.eid, service: 'echo', timeout: 100 });
    t.teardown(() => socket.destroy());
    t.equal(socket.timeout, 100);
    await once(socket, 'connect');
    await once(socket, 'timeout');
    t.equal(socket.destroyed, false, 'not closed by the timeout');
    socket.write('still here');
    const [echo] = (await once(socket, 'data')) as [Buffer];
    t.equal(echo.toString(), 'still here', 'usable after the timeout');
    await once(socket, 'timeout');
    t.pass('armed again by the activity');
    const timeouts: number[] = [];
    socket.setTimeout(0, () => timeouts.push(1));
    t.equal(socket.timeout, 0);
    // Through a callback given to setTimeout(ms, cb): called once.
    socket.setTimeout(50, () => timeouts.push(2));
    await once(socket, 'timeout');
    t.same(timeouts, [2]);
  });

  t.test(`${mode}: getConnections, close() waits for connections, listen again`, async (t) => {
    const { a, b } = await pair(t, mode);
    const accepted: Socket[] = [];
    const server = createServer({ client: a }, (s) => {
      accepted.push(s);
      s.resume();
    });
    server.listen('svc');
    await once(server, 'listening');
    const clients = [0, 1, 2].map(() => connect({ client: b, peer: a.eid, service: 'svc' }));
    for (const c of clients) c.on('error', () => undefined);
    await Promise.all(clients.map((c) => once(c, 'connect')));
    await eventually(() => (accepted.length === 3 ? true : undefined), 'three connections');
    const count = await new Promise<number>((resolve, reject) =>
      server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
    );
    t.equal(count, 3);

    let closeEmitted = false;
    const closedServer = new Promise<void>((resolve) =>
      server.close(() => {
        closeEmitted = true;
        resolve();
      }),
    );
    t.equal(server.listening, false, 'not listening once close() is called');
    t.equal(server.address(), null);
    // Not accepting any more: a new connection is refused.
    const late = connect({ client: b, peer: a.eid, service: 'svc' });
    const [lateErr] = (await once(late, 'error')) as [{ code: string }];
    t.equal(lateErr.code, 'ECONNREFUSED', 'refused once closed');
    t.equal(closeEmitted, false, "'close' waits for the open connections");
    for (const c of clients) c.end();
    await closedServer;
    t.pass("'close' once every connection closed");
    await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n))).then((n) =>
      t.equal(n, 0),
    );

    // A closed server can listen again.
    server.listen('svc');
    await once(server, 'listening');
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const again = connect({ client: b, peer: a.eid, service: 'svc' });
    await once(again, 'connect');
    again.destroy();
  });

  t.test(
    `${mode}: backpressure — write() says wait, drain comes when the reader reads`,
    async (t) => {
      const { a, b } = await pair(t, mode);
      let served: Socket | undefined;
      const server = createServer({ client: a, pauseOnConnect: true }, (s) => {
        served = s;
      });
      await listening(t, server, 'slow');
      const socket = connect({ client: b, peer: a.eid, service: 'slow' });
      await once(socket, 'connect');
      const sent: Buffer[] = [];
      const chunkBytes = 64 * 1024;
      // Write until write() says to wait and no drain comes for a while: the reader is stopped.
      // Bounded: 2 000 chunks (128 MiB), far more than every buffer on the way.
      let held = false;
      for (let i = 0; i < 2000 && !held; i++) {
        const chunk = content(chunkBytes, i);
        sent.push(chunk);
        if (socket.write(chunk)) continue;
        const drained = await Promise.race([
          once(socket, 'drain').then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), 300)),
        ]);
        held = !drained;
      }
      t.ok(held, 'write() returned false and drain did not come while the reader was paused');
      const total = sent.reduce((n, c) => n + c.length, 0);
      t.ok(total < 64 * 1024 * 1024, `bounded buffering (${total} bytes written before it held)`);
      const drained = once(socket, 'drain');
      await eventually(() => served, 'the server socket');
      const got = readAll(served!);
      await drained;
      t.pass('drain once the reader reads');
      socket.end();
      socket.resume();
      t.equal(sha(await got), sha(Buffer.concat(sent)), 'byte-exact');
      t.equal(await closed(socket), false);
    },
  );

  t.test(`${mode}: maxConnections resets the streams beyond it`, async (t) => {
    const { a, b } = await pair(t, mode);
    const server = createServer({ client: a }, (s) => s.resume());
    server.maxConnections = 1;
    const drops: unknown[] = [];
    server.on('drop', (d) => drops.push(d));
    await listening(t, server, 'one');
    const first = connect({ client: b, peer: a.eid, service: 'one' });
    t.teardown(() => first.destroy());
    await once(first, 'connect');
    await eventually(
      () =>
        new Promise<number | undefined>((r) => server.getConnections((_e, n) => r(n || undefined))),
      'the first connection',
    );
    const second = connect({ client: b, peer: a.eid, service: 'one' });
    const [err] = (await once(second, 'error')) as [{ code: string; braidCode: string }];
    t.equal(err.code, 'ECONNRESET');
    t.same(drops, [{ remoteAddress: b.eid, remoteFamily: 'braid', service: 'one' }]);
  });
}

t.test('a Socket wraps a BraidStream opened with the SDK', async (t) => {
  const { a, b } = await pair(t, 'embedded');
  const server = createServer({ client: a }, (s) => s.pipe(s));
  await listening(t, server, 'echo');
  const session = await b.openSession(a.eid);
  const stream = await session.openStream('echo');
  const socket = new Socket({ stream, client: b });
  t.ok(socket instanceof Duplex, 'a stream.Duplex');
  t.equal(socket.connecting, false);
  t.equal(socket.remoteAddress, a.eid);
  t.equal(socket.stream, stream);
  socket.end('wrapped');
  t.equal((await readAll(socket)).toString(), 'wrapped');
});

t.test('the default client serves sockets and servers that name none', async (t) => {
  const { a, b } = await pair(t, 'embedded');
  t.teardown(() => setDefaultClient(undefined));
  setDefaultClient(a);
  t.equal(getDefaultClient(), a);
  const server = createServer((s) => s.pipe(s));
  await listening(t, server, 'echo');
  setDefaultClient(b);
  // node:net's positional form: connect(port, host) → connect(service, peer).
  const socket = connect('echo', a.eid);
  socket.end('default');
  t.equal((await readAll(socket)).toString(), 'default');
  setDefaultClient(undefined);
  t.throws(() => connect('echo', a.eid), { code: 'ERR_MISSING_ARGS', name: 'TypeError' });
});

t.test('ref and unref are chainable and recorded', async (t) => {
  const { a, b } = await pair(t, 'embedded');
  const server = createServer({ client: a }, (s) => s.resume());
  await listening(t, server, 'r');
  t.equal(server.unref(), server);
  t.equal(server.hasRef, false);
  t.equal(server.ref(), server);
  t.equal(server.hasRef, true);
  const socket = connect({ client: b, peer: a.eid, service: 'r' });
  t.equal(socket.unref(), socket);
  t.equal(socket.hasRef, false);
  t.equal(socket.ref(), socket);
  t.equal(socket.hasRef, true);
  t.equal(socket.setNoDelay(true), socket);
  t.equal(socket.setKeepAlive(true, 1000), socket);
  await once(socket, 'connect');
  socket.destroy();
});

t.test('signal: aborting destroys the socket with an AbortError', async (t) => {
  const { a, b } = await pair(t, 'embedded');
  const server = createServer({ client: a }, (s) => s.resume());
  await listening(t, server, 'x');
  const controller = new AbortController();
  const socket = connect({ client: b, peer: a.eid, service: 'x', signal: controller.signal });
  await once(socket, 'connect');
  controller.abort();
  const [err] = (await once(socket, 'error')) as [Error & { code: string }];
  t.equal(err.name, 'AbortError');
  t.equal(err.code, 'ABORT_ERR');
  t.equal(socket.destroyed, true);
});
