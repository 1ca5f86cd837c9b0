// The ws WebSocket library over @braid/net: the client's `createConnection` option, and a
// WebSocketServer upgrading requests of a node:http server fed the shim's sockets.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { connect, createServer } from '@braid/net';
import { embedded } from '@braid/sdk';

const a = await embedded({ bind: ['127.0.0.1:0'] });
const b = await embedded({ bind: ['127.0.0.2:0'], peers: [{ eid: a.eid, locators: a.locators }] });

const wss = new WebSocketServer({ noServer: true });
wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`echo: ${data}`)));
const httpServer = http.createServer();
httpServer.on('upgrade', (req, socket: Duplex, head) =>
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
);
const braidServer = createServer({ client: a, allowHalfOpen: true }, (socket) =>
  httpServer.emit('connection', socket),
);
await new Promise<void>((resolve) => braidServer.listen({ service: 'ws' }, resolve));

const ws = new WebSocket('ws://braid.invalid/', {
  createConnection: () => connect({ client: b, peer: a.eid, service: 'ws' }),
});
ws.on('open', () => ws.send('hello'));
ws.on('message', (data) => {
  console.log(String(data));
  ws.close(1000, 'done');
});
ws.on('close', async (code) => {
  console.log(`closed with ${code}`);
  wss.close();
  httpServer.closeAllConnections();
  braidServer.close();
  await b.close();
  await a.close();
});
