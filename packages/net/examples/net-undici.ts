// undici (the HTTP client behind Node's fetch) over @braid/net: its `connect` option hands it
// a shim socket once connected.
import http from 'node:http';
import type { Socket as NetSocket } from 'node:net';
import { Client } from 'undici';
import { connect, createServer } from '@braid/net';
import { embedded } from '@braid/sdk';

const a = await embedded({ bind: ['127.0.0.1:0'] });
const b = await embedded({ bind: ['127.0.0.2:0'], peers: [{ eid: a.eid, locators: a.locators }] });

const httpServer = http.createServer((req, res) => res.end(`undici asked for ${req.url}`));
const braidServer = createServer({ client: a, allowHalfOpen: true }, (socket) =>
  httpServer.emit('connection', socket),
);
await new Promise<void>((resolve) => braidServer.listen({ service: 'http' }, resolve));

const client = new Client('http://braid.invalid', {
  connect: (_options, callback) => {
    const socket = connect({ client: b, peer: a.eid, service: 'http' });
    socket.once('error', (err) => callback(err, null));
    // undici's types name net.Socket; it uses the Duplex and socket methods the shim has.
    socket.once('connect', () => callback(null, socket as unknown as NetSocket));
  },
});
const { statusCode, body } = await client.request({ path: '/hello', method: 'GET' });
console.log(`${statusCode} ${await body.text()}`);

await client.close();
httpServer.closeAllConnections();
braidServer.close();
await b.close();
await a.close();
