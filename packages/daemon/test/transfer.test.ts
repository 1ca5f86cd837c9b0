import t from 'tap';
import { createHash } from 'node:crypto';
import { content, readAll, startPair } from './support/pair.js';

t.test('a stream through both daemons arrives byte-exact', async (t) => {
  const { a, b, appA, appB } = await startPair(t);
  t.equal(appA.eid, a.daemon.eid);
  t.equal(appA.mode, 'daemon');
  const listener = await appB.listen('files');
  const size = 4 * 1024 * 1024;
  const data = content(0, size);
  const received = (async () => {
    for await (const stream of listener) {
      stream.end(); // nothing to send back: half-close first (a finished for-await destroys)
      return readAll(stream);
    }
    throw new Error('listener ended');
  })();
  const session = await appA.openSession(b.daemon.eid);
  t.equal(session.peer, b.daemon.eid);
  const stream = await session.openStream('files');
  t.equal(stream.service, 'files');
  stream.end(data);
  const got = await received;
  t.equal(got.length, size);
  t.equal(
    createHash('sha256').update(got).digest('hex'),
    createHash('sha256').update(data).digest('hex'),
    'byte-exact',
  );
  t.equal((await readAll(stream)).length, 0, 'the reply side ends cleanly');
  await listener.close();
});
