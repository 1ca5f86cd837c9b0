/**
 * `undici` (the HTTP client behind Node's `fetch`) over the shim, unmodified: a `Client` whose
 * `connect` option hands it shim sockets, pipelining on keep-alive connections, against a
 * `node:http` server fed the shim server's sockets — over braidd and embedded.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import type { Socket as NetSocket } from 'node:net';
import { Client, type buildConnector } from 'undici';
import { connect } from '@braid/net';
import type { BraidClient } from '@braid/sdk';
import { content, MODES, pair } from './support/clients.js';
import { expectedBytes, httpOverBraid } from './support/http.js';

t.setTimeout(240_000); // a bound on a hang; nothing here is timed

const sha = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');

/** undici's connector: a shim socket, handed over once connected (or the error). */
function braidConnector(
  client: BraidClient,
  peer: string,
  service: string,
): buildConnector.connector {
  return (_options, callback) => {
    const socket = connect({ client, peer, service });
    const onError = (err: Error) => callback(err, null);
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      // undici's types name net.Socket; it uses the Duplex and the socket methods the shim has.
      callback(null, socket as unknown as NetSocket);
    });
  };
}

for (const mode of MODES) {
  t.test(`${mode}: undici Client over the shim`, async (t) => {
    const { a, b } = await pair(t, mode);
    const { accepted } = await httpOverBraid(t, a, 'http');
    // The origin only names the Host header; the connector decides where bytes go.
    const client = new Client('http://braid.invalid', {
      connect: braidConnector(b, a.eid, 'http'),
      pipelining: 4,
    });
    t.teardown(() => client.close());

    const hello = await client.request({ path: '/hello', method: 'GET' });
    t.equal(hello.statusCode, 200);
    t.equal(await hello.body.text(), `hello ${b.eid}`);

    const body = content(1_000_000, 6);
    const echo = await client.request({ path: '/echo', method: 'POST', body });
    t.equal(echo.headers['x-sha256'], sha(body), 'the server got the body byte-exact');
    t.equal(sha(Buffer.from(await echo.body.arrayBuffer())), sha(body), 'and sent it back');

    const bytes = await client.request({ path: '/bytes?n=2000000', method: 'GET' });
    t.equal(sha(Buffer.from(await bytes.body.arrayBuffer())), sha(expectedBytes(2_000_000)));

    // 30 requests at once, pipelined on the keep-alive connection.
    const replies = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const r = await client.request({ path: '/echo', method: 'POST', body: `n=${i}` });
        return r.body.text();
      }),
    );
    t.same(
      replies,
      Array.from({ length: 30 }, (_, i) => `n=${i}`),
    );
    t.equal(accepted.length, 1, 'one keep-alive connection carried every request');
  });

  t.test(`${mode}: undici sees connection errors with Node codes`, async (t) => {
    const { a, b } = await pair(t, mode);
    const client = new Client('http://braid.invalid', {
      connect: braidConnector(b, a.eid, 'nobody-listens'),
    });
    t.teardown(() => client.close());
    await t.rejects(client.request({ path: '/', method: 'GET' }), {
      code: 'ECONNREFUSED',
      braidCode: 'ERR_BRAID_SERVICE_UNKNOWN',
    });
  });
}
