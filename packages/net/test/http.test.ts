/**
 * Unmodified `node:http` over the shim: the server fed the shim server's sockets, the client
 * given shim sockets through `createConnection` (one connection per request) and through a
 * keep-alive `Agent` (connections reused, unref'd while idle) — over braidd and embedded.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { connect } from '@braid/net';
import { content, MODES, pair } from './support/clients.js';
import { BraidAgent, expectedBytes, httpOverBraid, request } from './support/http.js';

t.setTimeout(240_000); // a bound on a hang; nothing here is timed

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

for (const mode of MODES) {
  t.test(`${mode}: node:http client (createConnection) and server`, async (t) => {
    const { a, b } = await pair(t, mode);
    const { accepted } = await httpOverBraid(t, a, 'http');
    const createConnection = () => connect({ client: b, peer: a.eid, service: 'http' });

    const hello = await request({ path: '/hello', createConnection });
    t.equal(hello.status, 200);
    t.equal(hello.body.toString(), `hello ${b.eid}`, "the server's req.socket.remoteAddress");

    const body = content(1_500_000, 4);
    const echo = await request({ method: 'POST', path: '/echo', createConnection }, body);
    t.equal(echo.status, 200);
    t.equal(echo.headers['x-sha256'], sha(body), 'the server got the body byte-exact');
    t.equal(sha(echo.body), sha(body), 'and sent it back byte-exact');

    const bytes = await request({ path: '/bytes?n=3000000', createConnection });
    t.equal(bytes.headers['transfer-encoding'], 'chunked');
    t.equal(sha(bytes.body), sha(expectedBytes(3_000_000)), 'a 3 MB chunked reply');

    const missing = await request({ path: '/nope', createConnection });
    t.equal(missing.status, 404);
    t.equal(accepted.length, 4, 'one connection per request without an agent');

    // Concurrent requests, each on its own connection (bounded: 16).
    const replies = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        request({ method: 'POST', path: '/echo', createConnection }, `request ${i}`),
      ),
    );
    t.same(
      replies.map((r) => r.body.toString()),
      Array.from({ length: 16 }, (_, i) => `request ${i}`),
    );
  });

  t.test(`${mode}: a keep-alive http.Agent reuses shim sockets`, async (t) => {
    const { a, b } = await pair(t, mode);
    const { accepted } = await httpOverBraid(t, a, 'http');
    const agent = new BraidAgent(b, a.eid, 'http', { maxSockets: 2 });
    t.teardown(() => agent.destroy());
    // 20 requests, two connections at most: sockets go back to the pool (unref'd) and out again.
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request({ method: 'POST', path: '/echo', agent }, content(10_000 + i, i)),
      ),
    );
    replies.forEach((r, i) => {
      t.equal(r.status, 200);
      t.equal(sha(r.body), sha(content(10_000 + i, i)), `reply ${i}`);
    });
    t.ok(accepted.length <= 2, `at most two connections (${accepted.length})`);
    const sequential = [];
    for (let i = 0; i < 5; i++) sequential.push(await request({ path: '/hello', agent }));
    t.ok(
      sequential.every((r) => r.body.toString() === `hello ${b.eid}`),
      'sequential requests over pooled sockets',
    );
    t.ok(accepted.length <= 2, 'still at most two connections');
  });

  t.test(`${mode}: the server closing the connection is seen by the client`, async (t) => {
    const { a, b } = await pair(t, mode);
    // A handler that answers then closes (Connection: close), and one that dies mid-reply.
    await httpOverBraid(t, a, 'http', (req, res) => {
      if (req.url === '/close') {
        res.setHeader('connection', 'close');
        res.end('bye');
        return;
      }
      res.writeHead(200, { 'content-length': '1000000' });
      res.write(Buffer.alloc(10_000), () => req.socket.destroy());
    });
    const createConnection = () => connect({ client: b, peer: a.eid, service: 'http' });
    const bye = await request({ path: '/close', createConnection });
    t.equal(bye.body.toString(), 'bye');
    t.equal(bye.headers.connection, 'close');

    // The server dies mid-reply: the client learns it, it does not get a short body as whole.
    let received = 0;
    const outcome = await new Promise<string>((resolve) => {
      const req = http.request({ path: '/truncated', createConnection }, (res) => {
        res.on('data', (c: Buffer) => (received += c.length));
        res.on('end', () => resolve('end'));
        res.on('aborted', () => resolve('aborted'));
        res.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
      });
      req.on('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
      req.end();
    });
    t.not(outcome, 'end', `the truncated reply is reported (${outcome})`);
    t.ok(received < 1_000_000, 'short');
  });
}
