/**
 * An unmodified `node:http` server fed the sockets of a shim server (`emit('connection')`, as
 * one feeds any Duplex to it), and `node:http` clients whose sockets come from the shim.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Test } from 'tap';
import { connect, createServer, type Server, type Socket } from '@braid/net';
import type { BraidClient } from '@braid/sdk';

export interface HttpOverBraid {
  http: http.Server;
  braid: Server;
  /** Sockets the shim server accepted (connections), in order. */
  accepted: Socket[];
}

/**
 * The test application: `GET /hello` → "hello <client EID>", `POST /echo` → the body back (with
 * its SHA-256 in a header), `GET /bytes?n=N` → N deterministic bytes, chunked.
 */
export function testApp(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://braid');
  if (req.method === 'GET' && url.pathname === '/hello') {
    res.setHeader('content-type', 'text/plain');
    res.end(`hello ${req.socket.remoteAddress}`);
    return;
  }
  if (req.method === 'POST' && url.pathname === '/echo') {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      hash.update(c);
      chunks.push(c);
    });
    req.on('end', () => {
      res.setHeader('x-sha256', hash.digest('hex'));
      res.end(Buffer.concat(chunks));
    });
    return;
  }
  if (req.method === 'GET' && url.pathname === '/bytes') {
    const n = Number(url.searchParams.get('n') ?? '0');
    res.setHeader('content-type', 'application/octet-stream');
    // Chunked, with backpressure.
    let off = 0;
    const step = 32 * 1024;
    const more = () => {
      while (off < n) {
        const len = Math.min(step, n - off);
        const chunk = Buffer.allocUnsafe(len);
        for (let i = 0; i < len; i++) chunk[i] = ((off + i) * 31 + 1) & 0xff;
        off += len;
        if (!res.write(chunk)) {
          res.once('drain', more);
          return;
        }
      }
      res.end();
    };
    more();
    return;
  }
  res.statusCode = 404;
  res.end('not found');
}

/** What `GET /bytes?n=N` returns. */
export function expectedBytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 1) & 0xff;
  return b;
}

/** `node:http`'s server behind a shim server for `service` on `client`; closed at teardown. */
export async function httpOverBraid(
  t: Test,
  client: BraidClient,
  service: string,
  handler: http.RequestListener = testApp,
): Promise<HttpOverBraid> {
  const httpServer = http.createServer(handler);
  const accepted: Socket[] = [];
  // allowHalfOpen as node:http's own net.Server has it: a client's end does not cut the answer.
  const braid = createServer({ client, allowHalfOpen: true }, (socket) => {
    accepted.push(socket);
    httpServer.emit('connection', socket);
  });
  braid.listen({ service });
  await new Promise<void>((resolve, reject) => {
    braid.once('listening', resolve);
    braid.once('error', reject);
  });
  t.teardown(async () => {
    const closed = new Promise<void>((resolve) => braid.close(() => resolve()));
    httpServer.closeAllConnections();
    await closed;
  });
  return { http: httpServer, braid, accepted };
}

/** A keep-alive `http.Agent` whose connections are shim sockets to `peer`'s `service`. */
export class BraidAgent extends http.Agent {
  constructor(
    private readonly client: BraidClient,
    private readonly peer: string,
    private readonly service: string,
    options: http.AgentOptions = {},
  ) {
    super({ keepAlive: true, ...options });
  }

  override createConnection(): Socket {
    return connect({ client: this.client, peer: this.peer, service: this.service });
  }
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request; resolves with the whole reply. */
export function request(options: http.RequestOptions, body?: Buffer | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
