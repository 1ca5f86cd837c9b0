// Datagrams, session events, stats, paths and AbortSignal with the SDK (embedded endpoints).
import { embedded } from '@braid/sdk';

// Each host has two addresses, so the session gets several paths.
const a = await embedded({ bind: ['127.0.0.1:0', '127.0.0.2:0'] });
const b = await embedded({
  bind: ['127.0.0.3:0', '127.0.0.4:0'],
  peers: [{ eid: a.eid, locators: a.locators }],
});

// A echoes every datagram of every session opened to it.
a.on('session', (s) => s.on('datagram', (data) => s.sendDatagram(data)));

const session = await b.openSession(a.eid);

// An unreliable datagram, echoed back.
const echoed = new Promise<string>((resolve) =>
  session.on('datagram', (d) => resolve(Buffer.from(d).toString())),
);
session.sendDatagram(Buffer.from('ping'));
console.log(`datagram echoed: ${await echoed}`);

// Paths are validated in the background; wait (at most 5 s) until a second one is up.
const waitPaths = AbortSignal.timeout(5000);
while ((await session.stats({ signal: waitPaths })).pathsUp < 2)
  await new Promise((r) => setTimeout(r, 50));
const paths = await session.paths();
console.log(
  `paths: ${paths.map((p) => `${p.id} ${p.local} → ${p.remote} ${p.status}`).join('; ')}`,
);

// One RTT measurement per path.
for (const p of await session.ping({ timeoutMs: 2000 }))
  console.log(`ping path ${p.pathId}: ${p.rttMs === undefined ? 'no answer' : 'answered'}`);

// Take a path down by hand (what `braid path down` does): a `path` event says so.
const down = new Promise<string>((resolve) =>
  session.on('path', (e) => e.change === 'down' && resolve(`path ${e.pathId} down: ${e.reason}`)),
);
await session.setPathDown(paths[0]!.id, true);
console.log(await down);
const stats = await session.stats();
console.log(`paths up after taking one down: ${stats.pathsUp} of ${stats.paths}`);

// Every call that can wait takes an AbortSignal: give up on a peer that does not answer
// (here one whose endpoint is gone, at the address it had).
const gone = await embedded({ bind: ['127.0.0.5:0'] });
const [goneEid, goneLocators] = [gone.eid, gone.locators];
await gone.close();
try {
  await b.openSession(goneEid, { locators: goneLocators, signal: AbortSignal.timeout(200) });
} catch (err) {
  console.log(`openSession to a silent peer: ${(err as { code?: string }).code}`);
}

await b.close();
await a.close();
