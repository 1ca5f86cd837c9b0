/**
 * The `ws` library over the shim, unmodified: the client given a shim socket through its
 * `createConnection` option, the server a `WebSocketServer({ noServer: true })` upgrading
 * requests of a `node:http` server fed the shim server's sockets — over braidd and embedded.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { connect } from '@braid/net';
import { content, MODES, pair } from './support/clients.js';
import { httpOverBraid } from './support/http.js';

t.setTimeout(240_000); // a bound on a hang; nothing here is timed

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

for (const mode of MODES) {
  t.test(`${mode}: ws client and server over the shim`, async (t) => {
    const { a, b } = await pair(t, mode);
    const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
    t.teardown(() => new Promise((resolve) => wss.close(resolve)));
    const peers: string[] = [];
    wss.on('connection', (ws, req) => {
      peers.push(req.socket.remoteAddress ?? '');
      // Echo, with the SHA-256 of binary messages first.
      ws.on('message', (data, isBinary) => {
        const buf = data as Buffer;
        if (isBinary) ws.send(`sha256 ${sha(buf)}`);
        ws.send(buf, { binary: isBinary });
      });
    });
    const { http: httpServer } = await httpOverBraid(t, a, 'ws', (_req, res) => {
      res.statusCode = 426;
      res.end('upgrade required');
    });
    httpServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });

    const ws = new WebSocket('ws://braid.invalid/chat', {
      createConnection: () => connect({ client: b, peer: a.eid, service: 'ws' }),
      maxPayload: 4 * 1024 * 1024,
    });
    const received: (string | Buffer)[] = [];
    const waiters: (() => void)[] = [];
    ws.on('message', (data, isBinary) => {
      received.push(isBinary ? (data as Buffer) : (data as Buffer).toString());
      waiters.shift()?.();
    });
    const next = async (): Promise<string | Buffer> => {
      if (received.length === 0) await new Promise<void>((resolve) => waiters.push(resolve));
      return received.shift()!;
    };
    await once(ws, 'open');
    t.same(peers, [b.eid], "the server's req.socket.remoteAddress is the client's EID");

    // 200 text messages, in order.
    for (let i = 0; i < 200; i++) ws.send(`message ${i}`);
    const texts: (string | Buffer)[] = [];
    for (let i = 0; i < 200; i++) texts.push(await next());
    t.same(
      texts,
      Array.from({ length: 200 }, (_, i) => `message ${i}`),
    );

    // A 2 MB binary message.
    const big = content(2 * 1024 * 1024, 5);
    ws.send(big);
    t.equal(await next(), `sha256 ${sha(big)}`, 'the server got it byte-exact');
    const back = (await next()) as Buffer;
    t.equal(sha(back), sha(big), 'and it came back byte-exact');

    // Ping/pong, then the closing handshake with a code and a reason.
    ws.ping('p');
    const [pong] = (await once(ws, 'pong')) as [Buffer];
    t.equal(pong.toString(), 'p');
    const serverSide = [...wss.clients][0]!;
    const serverClosed = once(serverSide, 'close');
    ws.close(4000, 'done');
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    t.equal(code, 4000);
    t.equal(reason.toString(), 'done');
    const [serverCode] = (await serverClosed) as [number];
    t.equal(serverCode, 4000, 'the server saw the close code');
  });
}
