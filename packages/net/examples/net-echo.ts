// @braid/net: node:net's API over Braid. A peer is an EID, a port is a service name.
import { connect, createServer } from '@braid/net';
import { embedded } from '@braid/sdk';

const a = await embedded({ bind: ['127.0.0.1:0'] });
const b = await embedded({ bind: ['127.0.0.2:0'], peers: [{ eid: a.eid, locators: a.locators }] });

// A server for the service "echo", as net.createServer would make one for a port.
const server = createServer({ client: a }, (socket) => {
  console.log(`server: connection from ${socket.remoteAddress === b.eid ? 'B' : '?'}`);
  socket.pipe(socket);
});
server.listen({ service: 'echo' }, () => {
  console.log(`server: listening on ${server.address()?.service}`);

  // A client socket, as net.connect({ host, port }) would make one.
  const socket = connect({ client: b, peer: a.eid, service: 'echo' }, () => {
    console.log('client: connected');
    socket.end('hello over braid');
  });
  socket.setEncoding('utf8');
  socket.on('data', (text) => console.log(`client: ${text}`));
  socket.on('close', () => {
    console.log(`client: closed (${socket.bytesWritten} bytes out, ${socket.bytesRead} in)`);

    // Errors carry the codes Node programs handle, and Braid's own.
    const refused = connect({ client: b, peer: a.eid, service: 'nobody' });
    refused.on('error', async (err: NodeJS.ErrnoException & { braidCode?: string }) => {
      console.log(`error: ${err.code} (${err.braidCode})`);
      server.close();
      await b.close();
      await a.close();
    });
  });
});
