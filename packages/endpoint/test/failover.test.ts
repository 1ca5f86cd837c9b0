// Failover on real sockets: the path carrying data is taken down by hand, its local address
// goes away (a send error: EADDRNOTAVAIL), or its destination becomes unroutable (ENETUNREACH),
// in the middle of a transfer; the data moves to another path and arrives byte-exact.
import t, { type Test } from 'tap';
import type { BraidSession, BraidStream, UdpEndpoint } from '@braid/endpoint';
import { content, pair, readAll, sameHostPaths, sha256, writeAll } from './support/endpoints.js';

const BYTES = 6 << 20;
/** Act once B has this much, so the transfer is well under way. */
const TRIGGER_BYTES = 1 << 20;

interface Run {
  a: UdpEndpoint;
  session: BraidSession;
  failovers: { from: number; to: number; reason: string }[];
  done: Promise<Buffer>;
}

/**
 * Starts a transfer A → B; `act` is called on B's data events after TRIGGER_BYTES until it
 * returns true (it acts when a path has stream data in flight, which is when a failover moves
 * something).
 */
async function transferWith(
  t: Test,
  act: (session: BraidSession, a: UdpEndpoint) => Promise<boolean>,
  options = {},
): Promise<Run & { data: Buffer }> {
  const { a, b, session } = await pair(t, { pathFilter: sameHostPaths, ...options });
  const failovers: Run['failovers'] = [];
  session.on('failover', (f) => failovers.push(f));
  const data = content(BYTES, 7);
  const listener = await b.listen('bulk');
  const done = new Promise<Buffer>((resolve, reject) => {
    listener.on('stream', (stream: BraidStream) => {
      let received = 0;
      let acted = false;
      let acting = false;
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (acted || acting || received < TRIGGER_BYTES) return;
        acting = true;
        act(session, a).then((ok) => {
          acted = ok;
          acting = false;
        }, reject);
      });
      readAll(stream).then(resolve, reject);
    });
  });
  const stream = await session.openStream('bulk');
  await writeAll(stream, data);
  return { a, session, failovers, done, data };
}

/** The path with the most bytes in flight right now, if any has some. */
async function busyPath(session: BraidSession) {
  const paths = await session.paths();
  const busiest = paths.reduce((x, y) => (y.bytesInFlight > x.bytesInFlight ? y : x));
  return busiest.bytesInFlight > 0 && paths.some((p) => p !== busiest && p.status === 'active')
    ? busiest
    : undefined;
}

t.test('setPathDown on the busy path mid-transfer: failover, byte-exact delivery', async (t) => {
  let downed: number | undefined;
  const run = await transferWith(t, async (session) => {
    const busy = await busyPath(session);
    if (!busy) return false;
    downed = busy.id;
    await session.setPathDown(busy.id, true);
    return true;
  });
  const received = await run.done;
  t.equal(received.length, run.data.length, 'every byte arrived');
  t.equal(sha256(received), sha256(run.data), 'byte-exact');
  t.type(downed, 'number', 'a busy path was taken down');
  t.ok(
    run.failovers.some((f) => f.from === downed && f.to !== downed),
    `a failover moved data off path ${downed} (${JSON.stringify(run.failovers)})`,
  );
  const paths = await run.session.paths();
  t.equal(paths.find((p) => p.id === downed)?.status, 'down', 'the path stays down (by hand)');
  await run.session.setPathDown(downed!, false);
  await t.rejects(run.session.setPathDown(99, true), { code: 'ERR_BRAID_UNKNOWN_PATH' });
});

t.test(
  'a local address gone (send error) mid-transfer: failover, byte-exact, then back',
  async (t) => {
    let gone: string | undefined;
    const addressEvents: { locator: string; change: string }[] = [];
    const run = await transferWith(
      t,
      async (session, a) => {
        const busy = await busyPath(session);
        if (!busy) return false;
        gone = busy.local;
        a.on('address', (e) => addressEvents.push(e));
        // What the socket's send callback does with this error.
        const error = Object.assign(new Error(`send EADDRNOTAVAIL ${busy.remote}`), {
          code: 'EADDRNOTAVAIL',
          syscall: 'send',
        });
        a.handleSendError(busy.local, error);
        return true;
      },
      { addressPollMs: 50 },
    );
    const received = await run.done;
    t.equal(sha256(received), sha256(run.data), 'byte-exact');
    t.ok(gone, 'an address was reported gone');
    t.same(addressEvents[0], {
      locator: gone,
      change: 'removed',
      reason: 'send failed: EADDRNOTAVAIL',
    });
    // (Under CPU contention a path may also be suspected and failed over for want of an ACK.)
    t.ok(
      run.failovers.some((f) => f.reason === 'local address gone'),
      `data failed over because the address was gone (${JSON.stringify(run.failovers)})`,
    );
    const stats = run.a.stats();
    t.equal(stats.sockets.find((s) => s.locator === gone)?.sendErrors, 1, 'the error is counted');
    // The poller tries the address again after its hold-down, and the session uses it again.
    for (let i = 0; i < 500 && !addressEvents.some((e) => e.change === 'added'); i++)
      await new Promise((r) => setTimeout(r, 10));
    t.same(
      addressEvents.map((e) => e.change),
      ['removed', 'added'],
      'the address came back at a later poll',
    );
    let active = 0;
    for (let i = 0; i < 500; i++) {
      const paths = await run.session.paths();
      active = paths.filter((p) => p.status === 'active' && p.local === gone).length;
      if (active > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    t.equal(active, 1, 'a path from the returned address is active again');
  },
);

t.test(
  'no route to one destination (ENETUNREACH) mid-transfer: that path only goes down, the address stays, the path comes back',
  async (t) => {
    let hit: { id: number; local: string; remote: string } | undefined;
    const addressEvents: unknown[] = [];
    const run = await transferWith(
      t,
      async (session, a) => {
        const busy = await busyPath(session);
        if (!busy) return false;
        hit = { id: busy.id, local: busy.local, remote: busy.remote };
        a.on('address', (e) => addressEvents.push(e));
        // As dgram reports it: the destination is on the error (ExceptionWithHostPort).
        const at = busy.remote.lastIndexOf(':');
        const error = Object.assign(new Error(`send ENETUNREACH ${busy.remote}`), {
          code: 'ENETUNREACH',
          syscall: 'send',
          address: busy.remote.slice(0, at),
          port: Number(busy.remote.slice(at + 1)),
        });
        a.handleSendError(busy.local, error);
        return true;
      },
      // Every pair of addresses is a path: the hit address has a path to the other destination.
      { pathFilter: () => true },
    );
    const received = await run.done;
    t.equal(sha256(received), sha256(run.data), 'byte-exact');
    t.ok(hit, 'a busy path was hit');
    t.ok(
      run.failovers.some((f) => f.from === hit!.id && f.reason === 'send failed: ENETUNREACH'),
      `the data moved off it (${JSON.stringify(run.failovers)})`,
    );
    t.same(addressEvents, [], 'no address was removed');
    const paths = await run.session.paths();
    t.ok(
      paths.some((p) => p.local === hit!.local && p.remote !== hit!.remote && p.status !== 'down'),
      `the address's path to the other destination stayed up (${JSON.stringify(paths.map((p) => [p.id, p.local, p.remote, p.status]))})`,
    );
    // Its probes go through (the route was never really gone here): it recovers.
    let status: string | undefined;
    for (let i = 0; i < 500; i++) {
      status = (await run.session.paths()).find((p) => p.id === hit!.id)?.status;
      if (status === 'active') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    t.equal(status, 'active', 'the path came back');
  },
);
