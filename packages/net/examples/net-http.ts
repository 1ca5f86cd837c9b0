// Unmodified node:http over @braid/net: a server fed the shim's sockets, and a client whose
// connections are shim sockets (one per request, or pooled by a keep-alive Agent).
import http from 'node:http';
import { connect, createServer } from '@braid/net';
import { embedded } from '@braid/sdk';

const a = await embedded({ bind: ['127.0.0.1:0'] });
const b = await embedded({ bind: ['127.0.0.2:0'], peers: [{ eid: a.eid, locators: a.locators }] });

// The HTTP server does not listen on a port: it is handed the connections of the service
// "http" (allowHalfOpen, as node:http's own server has it).
const httpServer = http.createServer((req, res) => {
  res.end(`${req.method} ${req.url} from ${req.socket.remoteAddress === b.eid ? 'B' : '?'}\n`);
});
const braidServer = createServer({ client: a, allowHalfOpen: true }, (socket) =>
  httpServer.emit('connection', socket),
);
await new Promise<void>((resolve) => braidServer.listen({ service: 'http' }, resolve));

// The client: the URL's host is only the Host header; createConnection decides where to go.
const createConnection = () => connect({ client: b, peer: a.eid, service: 'http' });
function get(path: string, options: http.RequestOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(`http://braid.invalid${path}`, options, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      })
      .on('error', reject);
  });
}
process.stdout.write(await get('/one', { createConnection }));

// A keep-alive Agent whose connections are shim sockets: reused across requests.
class BraidAgent extends http.Agent {
  override createConnection() {
    return connect({ client: b, peer: a.eid, service: 'http' });
  }
}
const agent = new BraidAgent({ keepAlive: true, maxSockets: 1 });
for (const path of ['/two', '/three']) process.stdout.write(await get(path, { agent }));

agent.destroy();
httpServer.closeAllConnections();
braidServer.close();
await b.close();
await a.close();
