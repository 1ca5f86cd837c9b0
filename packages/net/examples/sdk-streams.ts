// Sessions, services and streams with the SDK, on an embedded endpoint (no daemon).
import { embedded } from '@braid/sdk';

// Two endpoints in this process, on loopback: A serves, B knows where A is.
const a = await embedded({ bind: ['127.0.0.1:0'] });
const b = await embedded({ bind: ['127.0.0.2:0'], peers: [{ eid: a.eid, locators: a.locators }] });

// A registers the service "upper": each stream a peer opens to it arrives here.
const listener = await a.listen('upper');
listener.on('stream', (stream) => {
  stream.on('data', (chunk: Buffer) => stream.write(chunk.toString().toUpperCase()));
  stream.on('end', () => stream.end());
});

// B opens a session to A's EID (never an IP address), then a stream to the service.
const session = await b.openSession(a.eid);
const stream = await session.openStream('upper');
stream.end('hello, braid');
let reply = '';
for await (const chunk of stream) reply += chunk;
console.log(`reply: ${reply}`);

await b.close();
await a.close();
