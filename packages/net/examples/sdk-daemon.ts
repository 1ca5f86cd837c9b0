// The same application code through braidd: `connect()` instead of `embedded()`. Two daemons
// are started in this process here (what `braid daemon` runs) so the script stands alone.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '@braid/daemon';
import { connect as connectNet, createServer } from '@braid/net';
import { connect } from '@braid/sdk';

const dir = await mkdtemp(join(tmpdir(), 'braid-example-'));
const quiet = { write: () => undefined };
const daemonA = await startDaemon({
  config: { stateDir: join(dir, 'a'), socketPath: join(dir, 'a.sock'), bind: ['127.0.0.1:0'] },
  logDestination: quiet,
});
const daemonB = await startDaemon({
  config: {
    stateDir: join(dir, 'b'),
    socketPath: join(dir, 'b.sock'),
    bind: ['127.0.0.2:0'],
    peers: [{ eid: daemonA.eid, locators: daemonA.locators }],
  },
  logDestination: quiet,
});

// An application on each host talks to its daemon's control socket. (Without `socketPath`,
// connect() uses $BRAID_SOCKET, else the daemon's default path.)
const a = await connect({ socketPath: daemonA.socketPath });
const b = await connect({ socketPath: daemonB.socketPath });
// braidd accepts sessions only from peers it knows (its allowlist): A learns B.
await a.addPeer(b.eid, daemonB.locators);
console.log(`mode: ${b.mode}, B's daemon knows ${(await b.peers()).length} peer`);

// From here on, nothing differs from the embedded examples.
const server = createServer({ client: a }, (socket) => socket.pipe(socket));
await new Promise<void>((resolve) => server.listen({ service: 'echo' }, resolve));
const socket = connectNet({ client: b, peer: a.eid, service: 'echo' });
socket.end('through two daemons');
let reply = '';
for await (const chunk of socket) reply += chunk;
console.log(`reply: ${reply}`);
const [summary] = await b.sessions();
console.log(`B's daemon has a session to A: ${summary?.peer === a.eid}`);

server.close();
await b.close();
await a.close();
await daemonB.close();
await daemonA.close();
await rm(dir, { recursive: true, force: true });
