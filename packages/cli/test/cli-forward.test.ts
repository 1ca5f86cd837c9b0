/**
 * `braid forward` on one daemon and `braid expose` on the other carry real TCP programs: an
 * unmodified `node:http` client and server (a 16 MiB download and upload, SHA-256 checked), an
 * echo whose trailer proves the client's FIN crossed (half-close one way), a server that ends
 * first and still reads (half-close the other way), and a far side that resets or goes away
 * mid-stream (the other side is closed, nothing hangs).
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Test } from 'tap';
import {
  echoWithTrailer,
  reported,
  sha256,
  startBraid,
  streamLogs,
  tcpExchange,
  tcpServer,
  within,
  type BraidCommand,
} from './support/forward.js';
import { twoDaemons } from './support/run.js';

t.setTimeout(300_000); // a bound on a hang; nothing here is timed

const BLOB_BYTES = 16 << 20;

/** expose SERVICE → 127.0.0.1:targetPort on b, forward 0 → b's SERVICE on a; the local port. */
async function forwardTo(
  t: Test,
  daemons: Awaited<ReturnType<typeof twoDaemons>>,
  service: string,
  targetPort: number,
): Promise<{ port: number; forward: BraidCommand; expose: BraidCommand }> {
  const [a, b] = daemons;
  const expose = startBraid(t, b.socketPath, ['expose', service, `127.0.0.1:${targetPort}`]);
  const exposing = await expose.waitFor('listening');
  t.equal(exposing.eid, b.eid, 'expose registered on b');
  const forward = startBraid(t, a.socketPath, ['forward', '0', b.eid, service]);
  const listening = await forward.waitFor('listening');
  t.match(listening.local, /^127\.0\.0\.1:\d+$/, 'forward listens on 127.0.0.1 by default');
  return { port: listening.port as number, forward, expose };
}

async function collect(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

t.test('node:http through forward and expose: 16 MiB down and up, byte-exact', async (t) => {
  const daemons = await twoDaemons(t);
  const blob = randomBytes(BLOB_BYTES);
  const web = createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/blob') {
      res.writeHead(200, { 'content-length': blob.length });
      res.end(blob);
      return;
    }
    if (req.method === 'POST' && req.url === '/upload') {
      const body = await collect(req);
      res.end(JSON.stringify({ bytes: body.length, sha256: sha256(body) }));
      return;
    }
    res.writeHead(404).end();
  });
  web.listen(0, '127.0.0.1');
  await once(web, 'listening');
  t.teardown(() => new Promise((r) => web.close(r)));
  const { port, forward } = await forwardTo(t, daemons, 'web', (web.address() as AddressInfo).port);

  const get = request({ host: '127.0.0.1', port, path: '/blob', agent: false });
  get.end();
  const [down] = (await once(get, 'response')) as [IncomingMessage];
  t.equal(down.statusCode, 200);
  const got = await collect(down);
  t.equal(got.length, BLOB_BYTES, 'every byte of the download');
  t.equal(sha256(got), sha256(blob), 'the download is byte-exact');

  const upload = randomBytes(BLOB_BYTES + 12_345);
  const post = request({ host: '127.0.0.1', port, path: '/upload', method: 'POST', agent: false });
  post.end(upload);
  const [up] = (await once(post, 'response')) as [IncomingMessage];
  t.same(JSON.parse((await collect(up)).toString()), {
    bytes: upload.length,
    sha256: sha256(upload),
  });

  const closes = await Promise.all(
    [1, 2].map((n) => forward.waitFor('close', (e) => e.connection === n)),
  );
  for (const c of closes) t.equal(c.code, undefined, `connection ${c.connection} ended cleanly`);
  t.ok(
    (closes[0]!.bytesFromStream as number) > BLOB_BYTES,
    'the forward counted the download on connection 1',
  );
  t.ok((closes[1]!.bytesToStream as number) > upload.length, 'and the upload on connection 2');
  const stopped = await forward.interrupt();
  t.equal(stopped.code, 130, 'Ctrl-C stops the forward (exit 130, as for any interrupted command)');
});

t.test('half-close: the client’s FIN reaches the target, the reply still comes back', async (t) => {
  const daemons = await twoDaemons(t);
  const echo = await tcpServer(t, echoWithTrailer);
  const { port } = await forwardTo(t, daemons, 'echo', echo.port);
  const data = randomBytes(3_000_000);
  const r = await tcpExchange(port, data);
  t.equal(r.error, undefined, 'no error');
  t.ok(r.ended, "the target's FIN came back");
  const trailer = `\nbytes=${data.length}\n`;
  t.equal(r.bytes.length, data.length + trailer.length);
  t.ok(r.bytes.subarray(0, data.length).equals(data), 'the echo is byte-exact');
  t.equal(
    r.bytes.subarray(data.length).toString(),
    trailer,
    'the target saw the FIN after every byte, and wrote after it',
  );
});

t.test('half-close the other way: the target ends first and still reads', async (t) => {
  const daemons = await twoDaemons(t);
  const late = randomBytes(500_000);
  const heard: Buffer[] = [];
  let targetSawEnd!: () => void;
  const targetEnded = new Promise<void>((r) => (targetSawEnd = r));
  const server = await tcpServer(t, (socket) => {
    socket.end('greeting, and no more from me\n');
    socket.on('data', (b: Buffer) => heard.push(b));
    socket.on('end', targetSawEnd);
  });
  const { port } = await forwardTo(t, daemons, 'greet', server.port);
  // A client that writes only after the server's FIN has arrived.
  const text = await new Promise<string>((resolve, reject) => {
    let got = '';
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    s.setEncoding('utf8');
    s.on('data', (c: string) => (got += c));
    s.on('end', () => s.end(late));
    s.on('error', reject);
    s.on('close', () => resolve(got));
  });
  await targetEnded;
  t.equal(text, 'greeting, and no more from me\n');
  t.ok(Buffer.concat(heard).equals(late), 'bytes written after the FIN arrived, byte-exact');
});

t.test('the target resets mid-stream: the client sees the connection reset', async (t) => {
  const daemons = await twoDaemons(t);
  const first = randomBytes(1_000_000);
  // The target resets once the client confirmed it read everything: nothing is left unread
  // on any socket then, so the RST surfaces as ECONNRESET (Linux reports a reset that finds
  // unread data queued as an end of stream after that data, a race a test must not depend on).
  const server = await tcpServer(t, (socket) => {
    socket.write(first);
    socket.once('data', () => setImmediate(() => socket.resetAndDestroy()));
  });
  const { port, forward, expose } = await forwardTo(t, daemons, 'flaky', server.port);
  let acked = false;
  const r = await tcpExchange(port, undefined, {
    onData: (socket, total) => {
      if (total >= first.length && !acked) {
        acked = true;
        socket.write('read it all');
      }
    },
  });
  t.ok(r.bytes.equals(first), 'the data before the reset arrived, byte-exact');
  t.equal(r.ended, false, 'no FIN: the connection did not end normally');
  t.equal(r.error?.code, 'ECONNRESET', 'the client got a reset');
  const exposed = await expose.waitFor('close');
  t.equal(exposed.code, 'ECONNRESET', 'the expose saw the target reset');
  const closed = await forward.waitFor('close');
  t.equal(closed.code, 'ERR_BRAID_STREAM_RESET', 'the forward saw the stream reset');
});

t.test('the client goes away mid-download: the target’s connection is closed', async (t) => {
  const daemons = await twoDaemons(t, { log: { level: 'debug', format: 'json' } });
  let targetClosed!: (hadError: boolean) => void;
  const closedAtTarget = new Promise<boolean>((r) => (targetClosed = r));
  const server = await tcpServer(t, (socket) => {
    // An endless source, paced by backpressure: it stops only when the connection goes.
    const chunk = randomBytes(64 * 1024);
    const pump = () => {
      while (!socket.destroyed && socket.write(chunk));
    };
    socket.on('drain', pump);
    socket.on('close', targetClosed);
    pump();
  });
  const { port, forward, expose } = await forwardTo(t, daemons, 'endless', server.port);
  const r = await tcpExchange(port, undefined, {
    onData: (socket, total) => {
      if (total > 2_000_000) socket.destroy();
    },
  });
  t.ok(r.bytes.length > 2_000_000, 'data flowed until the client left');
  await within(
    closedAtTarget,
    'the target’s connection closing',
    async () => `${reported({ forward, expose })}; ${await streamLogs(daemons)}`,
  );
  t.pass('the target’s connection closed');
});
