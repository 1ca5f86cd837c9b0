import t from 'tap';
import type { BraidStream } from '@braid/endpoint';
import { content, pair, readAll, sameHostPaths, sha256, writeAll } from './support/endpoints.js';

const BYTES = 4 << 20;

t.test('a few MB both ways over one stream, byte-exact, on a session with two paths', async (t) => {
  const { b, session } = await pair(t, { pathFilter: sameHostPaths });
  const fromA = content(BYTES, 1);
  const fromB = content(BYTES + 12_345, 2);
  const listener = await b.listen('exchange');
  const served = new Promise<Buffer>((resolve, reject) => {
    listener.on('stream', (stream: BraidStream) => {
      t.equal(stream.service, 'exchange', 'the accepted stream names its service');
      const received = readAll(stream);
      writeAll(stream, fromB, 50_000)
        .then(() => received)
        .then(resolve, reject);
    });
  });
  const stream = await session.openStream('exchange');
  t.equal(stream.service, 'exchange');
  t.equal(stream.session, session, 'the stream knows its session');
  const [gotByA] = await Promise.all([readAll(stream), writeAll(stream, fromA, 70_000)]);
  const gotByB = await served;
  t.equal(gotByB.length, fromA.length, 'B read every byte A wrote');
  t.equal(sha256(gotByB), sha256(fromA), 'and they are the same bytes');
  t.equal(gotByA.length, fromB.length, 'A read every byte B wrote');
  t.equal(sha256(gotByA), sha256(fromB), 'and they are the same bytes');

  const paths = await session.paths();
  t.equal(paths.length, 2, 'one path per address pair (127.0.0.1 and 127.0.0.2)');
  // Validated and carrying data (a loaded machine may make one briefly suspect).
  t.ok(
    paths.every((p) => p.status === 'active' || p.status === 'suspect'),
    `both paths up (${paths.map((p) => p.status).join(', ')})`,
  );
  const stats = await session.stats();
  t.ok(stats.readBytes >= fromB.length, 'the session counts what A read');
  t.ok(stats.bytesSent > BYTES, 'and what it sent');
});

t.test('ping measures every path', async (t) => {
  const { session } = await pair(t, { pathFilter: sameHostPaths });
  // The second path opens after the handshake; wait until both carry data.
  for (
    let i = 0;
    i < 200 && (await session.paths()).filter((p) => p.status === 'active').length < 2;
    i++
  )
    await new Promise((r) => setTimeout(r, 10));
  const results = await session.ping({ timeoutMs: 5000 });
  t.equal(results.length, 2, 'one result per path');
  for (const r of results) {
    t.type(r.rttMs, 'number', `path ${r.pathId} (${r.local} → ${r.remote}) answered`);
    t.ok(r.rttMs! >= 0, 'with a round trip of at least 0 ms');
    t.match(r.local, /^127\.0\.0\.[12]:\d+$/);
  }
});

t.test('the endpoint reports its sessions, peers and status', async (t) => {
  const { a, b, session, peerSession } = await pair(t);
  t.equal(peerSession.peer, a.eid, "B's session names A as its peer");
  t.equal(session.peer, b.eid);
  const status = await a.status();
  t.equal(status.eid, a.eid);
  t.equal(status.mode, 'embedded');
  t.equal(status.locators.length, 2, 'two bound locators');
  t.equal(status.sessions, 1);
  const sessions = await a.sessions();
  t.equal(sessions.length, 1);
  t.equal(sessions[0]!.id, session.id);
  t.equal(sessions[0]!.role, 'initiator');
  t.equal(a.session(session.id), session, 'a session is found by its id');
  const peersOfB = await b.peers();
  t.same(
    peersOfB.map((p) => [p.eid, p.source, p.connected]),
    [[a.eid, 'learned', true]],
    'B learned A from its first packet',
  );
  t.equal(await a.openSession(b.eid), session, 'openSession reuses the open session');
});

t.test(
  'closing a session ends its streams first: the peer reads the end, not an error',
  async (t) => {
    const { b, session, peerSession } = await pair(t);
    const listener = await b.listen('idle');
    const accepted = new Promise<BraidStream>((resolve) => listener.on('stream', resolve));
    const stream = await session.openStream('idle');
    stream.write('last words');
    const peerStream = await accepted;
    const peerClosed = new Promise((resolve) => peerSession.on('closed', resolve));
    const streamClosed = new Promise((resolve) => stream.on('close', resolve));
    let peerError: Error | undefined;
    peerStream.on('error', (e) => (peerError = e));
    await session.close('done');
    t.same(await peerClosed, { code: 0, reason: 'done', byPeer: true }, 'the peer sees why');
    await streamClosed;
    t.notOk(stream.errored, 'the local stream closed without an error (we closed the session)');
    t.equal(
      (await readAll(peerStream)).toString(),
      'last words',
      'the peer read it all, then the end',
    );
    t.equal(peerError, undefined, 'without an error');
    await t.rejects(session.openStream('idle'), {
      code: 'ERR_BRAID_SESSION_CLOSED',
      close: { code: 0, reason: 'done', byPeer: false },
    });
    t.throws(() => session.sendDatagram(new Uint8Array(1)), { code: 'ERR_BRAID_SESSION_CLOSED' });
    await t.rejects(peerSession.openStream('idle'), {
      code: 'ERR_BRAID_SESSION_CLOSED',
      message: /closed by the peer: NO_ERROR \(done\)/,
      close: { code: 0, reason: 'done', byPeer: true },
    });
  },
);
