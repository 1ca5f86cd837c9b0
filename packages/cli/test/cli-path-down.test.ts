/**
 * `braid path down` on the path carrying a transfer: the session fails over to another path,
 * `paths` shows the path down with its reason, every byte still arrives exactly once, and
 * `path up` lets the path rejoin.
 */
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import type { PathStats } from '@braid/protocol';
import type { BraidStream } from '@braid/sdk';
import { eventually, runBraid, twoDaemons } from './support/run.js';

/** Most bytes the writer sends (a bound: it stops earlier, once the failover was seen). */
const WRITE_BYTES_MAX = 256 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

t.setTimeout(300_000); // a bound on a hang; nothing here is timed

t.test('path down moves the transfer to another path; path up brings it back', async (t) => {
  const [a, b] = await twoDaemons(t, { protocol: { scheduler: 'active-backup' } });
  const braid = (...args: string[]) => runBraid(['--socket', a.socketPath, ...args]);
  /** Through the CLI, for what the test asserts. */
  const pathsOf = async (session: string): Promise<PathStats[]> => {
    const r = await braid('paths', session, '--json');
    t.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { sessions: { paths: PathStats[] }[] }).sessions[0]!.paths;
  };

  // The receiver: everything of the first stream to "sink", hashed.
  const listener = await b.client.listen('sink');
  t.teardown(() => listener.close());
  const received = { bytes: 0, hash: createHash('sha256') };
  const receiving = (async () => {
    for await (const stream of listener) {
      stream.end();
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        received.bytes += chunk.length;
        received.hash.update(chunk);
      }
      return;
    }
  })();

  const session = await a.client.openSession(b.eid);
  const failovers: { from: number; to: number; reason: string }[] = [];
  session.on('failover', (e) => failovers.push(e));
  // Waits poll through the SDK (fast); assertions go through the CLI.
  await eventually(async () => {
    const ps = await session.paths();
    return ps.length === 4 && ps.every((p) => p.status === 'active' || p.status === 'standby')
      ? ps
      : undefined;
  }, 'four validated paths');

  // The sender: writes with backpressure until told to stop (or the bound).
  const stream: BraidStream = await session.openStream('sink');
  const sent = { bytes: 0, hash: createHash('sha256'), stop: false };
  const sending = (async () => {
    while (!sent.stop && sent.bytes < WRITE_BYTES_MAX) {
      const chunk = randomBytes(CHUNK_BYTES);
      sent.hash.update(chunk);
      sent.bytes += chunk.length;
      if (!stream.write(chunk)) await new Promise((r) => stream.once('drain', r));
    }
    await new Promise<void>((resolve, reject) =>
      stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  })();
  t.teardown(() => {
    sent.stop = true;
  });

  // The path carrying the data now (active-backup: one at a time): the one whose stream bytes
  // grow. (The cumulative counter alone can name a path a false suspicion moved the data off.)
  // Failovers are counted from here: one off that path between this sample and `path down` is
  // the data leaving it all the same.
  const failoversBefore = failovers.length;
  const busy = await eventually(async () => {
    if (received.bytes <= 1_000_000) return undefined;
    const before = new Map((await session.paths()).map((p) => [p.id, p.streamBytesSent]));
    await new Promise((r) => setTimeout(r, 100));
    const growth = (p: PathStats) => p.streamBytesSent - (before.get(p.id) ?? p.streamBytesSent);
    const carrying = (await session.paths()).filter((p) => p.status === 'active' && growth(p) > 0);
    return carrying.sort((x, y) => growth(y) - growth(x))[0];
  }, 'the path carrying the stream now');
  const receivedAtDown = received.bytes;

  const down = await braid('path', 'down', session.id, String(busy.id));
  t.equal(down.code, 0, down.stderr);
  t.equal(down.stdout, `path ${busy.id} of session ${session.id} taken down\n`);

  // The failover off the path. (On a loaded machine a false suspicion — "no acknowledgement" —
  // can move the data off it a moment earlier; either way the data left the path.)
  const failover = await eventually(
    async () => failovers.slice(failoversBefore).find((f) => f.from === busy.id),
    'a failover off the path taken down',
  );
  t.not(failover.to, busy.id, 'the data moved to another path');
  t.match(failover.reason, /administratively|no acknowledgement/);
  const afterDown = await pathsOf(session.id);
  const downPath = afterDown.find((p) => p.id === busy.id)!;
  t.equal(downPath.status, 'down');
  t.match(downPath.reason, /administratively/);
  const sessions = JSON.parse((await braid('sessions', '--json')).stdout) as {
    sessions: { id: string; stats: { failovers: number } }[];
  };
  t.ok(sessions.sessions.find((s) => s.id === session.id)!.stats.failovers >= 1, 'counted');

  // The transfer goes on over the other paths.
  await eventually(
    async () => (received.bytes > receivedAtDown + 4_000_000 ? true : undefined),
    'bytes delivered after the path went down',
  );
  const carriedAfter = (await pathsOf(session.id)).filter(
    (p) => p.id !== busy.id && p.streamBytesSent > 0,
  );
  t.ok(carriedAfter.length > 0, 'another path carried stream data');

  sent.stop = true;
  await sending;
  await receiving;
  t.equal(received.bytes, sent.bytes, 'every byte arrived');
  t.equal(received.hash.digest('hex'), sent.hash.digest('hex'), 'byte-exact');

  const up = await braid('path', 'up', session.id, String(busy.id), '--json');
  t.equal(up.code, 0, up.stderr);
  t.same(JSON.parse(up.stdout), { session: session.id, pathId: busy.id, down: false });
  await eventually(async () => {
    const p = (await session.paths()).find((q) => q.id === busy.id);
    return p && p.status !== 'down' && p.status !== 'validating' ? p : undefined;
  }, 'the path back up');
  const back = (await pathsOf(session.id)).find((q) => q.id === busy.id)!;
  t.ok(['active', 'standby'].includes(back.status), `path ${busy.id} is ${back.status} again`);
});
