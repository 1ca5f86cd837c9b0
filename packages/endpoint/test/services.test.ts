// Service routing (docs/protocol.md §15): streams reach the listener of their service; an
// unknown service or a full listener is refused with a code the opener sees as a typed error.
import { PassThrough } from 'node:stream';
import t from 'tap';
import { EmbeddedServiceListener, holdUntilClaimed, type BraidStream } from '@braid/endpoint';
import { pair, readAll } from './support/endpoints.js';

t.test(
  'a stream to a service nobody listens to fails with ERR_BRAID_SERVICE_UNKNOWN',
  async (t) => {
    const { b, session } = await pair(t);
    await t.rejects(session.openStream('nobody-here'), {
      code: 'ERR_BRAID_SERVICE_UNKNOWN',
      message: /nobody-here/,
    });
    const listener = await b.listen('late');
    await listener.close();
    await t.rejects(
      session.openStream('late'),
      { code: 'ERR_BRAID_SERVICE_UNKNOWN' },
      'closed listener',
    );
    // The session is fine afterwards.
    const again = await b.listen('late');
    const accepted = new Promise<BraidStream>((resolve) => again.on('stream', resolve));
    const stream = await session.openStream('late');
    t.equal((await accepted).service, 'late');
    stream.destroy();
  },
);

t.test('a full backlog refuses with ERR_BRAID_SERVICE_REFUSED', async (t) => {
  const { b, session } = await pair(t, {}, { listenBacklog: 1 });
  const listener = await b.listen('busy');
  // No 'stream' listener and nobody iterating: the first waits in the backlog, the second is refused.
  const first = await session.openStream('busy');
  await t.rejects(session.openStream('busy'), { code: 'ERR_BRAID_SERVICE_REFUSED' });
  const iterator = listener[Symbol.asyncIterator]();
  const queued = await iterator.next();
  t.equal(queued.done, false, 'the queued stream is taken by the iterator');
  t.equal((queued.value as BraidStream).streamId, first.streamId, 'it is the first one');
  // Room again: a waiting iterator takes the next stream directly.
  const pending = iterator.next();
  const third = await session.openStream('busy');
  const taken = (await pending).value as BraidStream;
  t.equal(taken.streamId, third.streamId);
  for (const s of [first, third, queued.value as BraidStream, taken]) s.destroy();
  await iterator.return!();
  t.same(await iterator.next(), { value: undefined, done: true }, 'return() closed the listener');
  await t.rejects(session.openStream('busy'), { code: 'ERR_BRAID_SERVICE_UNKNOWN' });
});

t.test('service names are checked on both ends', async (t) => {
  const { a, session } = await pair(t);
  for (const bad of ['', 'a b', 'x'.repeat(65), 'ünï', 'a/b'])
    await t.rejects(
      session.openStream(bad),
      { code: 'ERR_BRAID_SERVICE_INVALID' },
      JSON.stringify(bad),
    );
  await t.rejects(a.listen('has space'), { code: 'ERR_BRAID_SERVICE_INVALID' });
  await a.listen('x'.repeat(64));
  await t.rejects(a.listen('x'.repeat(64)), { code: 'ERR_BRAID_SERVICE_IN_USE' });
});

t.test('streams from the peer reach a listener via for await', async (t) => {
  const { b, session } = await pair(t);
  const listener = await b.listen('upper');
  const served = (async () => {
    let n = 0;
    for await (const stream of listener) {
      const text = (await readAll(stream)).toString();
      stream.end(text.toUpperCase());
      if (++n === 3) break;
    }
    return n;
  })();
  for (const word of ['one', 'two', 'three']) {
    const stream = await session.openStream('upper');
    stream.end(word);
    t.equal((await readAll(stream)).toString(), word.toUpperCase());
  }
  t.equal(await served, 3, 'three streams served');
  await t.rejects(
    session.openStream('upper'),
    { code: 'ERR_BRAID_SERVICE_UNKNOWN' },
    'break closed it',
  );
});

t.test('a stream whose opener ends at once still delivers its (empty) end', async (t) => {
  const { b, session } = await pair(t);
  const listener = await b.listen('empty');
  const accepted = new Promise<BraidStream>((resolve) => listener.on('stream', resolve));
  const stream = await session.openStream('empty');
  stream.end();
  const peer = await accepted;
  t.equal((await readAll(peer)).length, 0, 'the acceptor reads an empty stream to its end');
  peer.end('ok');
  t.equal((await readAll(stream)).toString(), 'ok');
});

t.test(
  'reset by the peer: the reader fails with ERR_BRAID_STREAM_RESET and the code',
  async (t) => {
    const { b, session } = await pair(t);
    const listener = await b.listen('reset');
    listener.on('stream', (stream) => {
      stream.on('error', () => {}); // its own destroy(error) below
      stream.write('partial');
      setImmediate(() =>
        stream.destroy(Object.assign(new Error('app gave up'), { resetCode: 0x1234 })),
      );
    });
    const stream = await session.openStream('reset');
    stream.resume();
    const error = await new Promise<Error & { code?: string; resetCode?: number }>((resolve) =>
      stream.on('error', resolve),
    );
    t.equal(error.code, 'ERR_BRAID_STREAM_RESET');
    t.equal(error.resetCode, 0x1234, 'the peer’s code');
  },
);

t.test('stop-sending by the peer: the writer fails with ERR_BRAID_STREAM_STOPPED', async (t) => {
  const { b, session } = await pair(t);
  const listener = await b.listen('stop');
  listener.on('stream', (stream) => {
    stream.on('error', () => {}); // its own destroy(error) below
    // Finish our half cleanly, then refuse to read any more: only STOP_SENDING goes out.
    stream.end(() => stream.destroy(Object.assign(new Error('enough'), { resetCode: 7 })));
  });
  const stream = await session.openStream('stop');
  stream.resume();
  const error = new Promise<Error & { code?: string; resetCode?: number }>((resolve) =>
    stream.on('error', resolve),
  );
  // Keep writing until the peer's STOP_SENDING arrives.
  const chunk = Buffer.alloc(16 * 1024);
  const writer = setInterval(() => {
    if (!stream.destroyed) stream.write(chunk);
  }, 1);
  t.teardown(() => clearInterval(writer));
  const e = await error;
  t.equal(e.code, 'ERR_BRAID_STREAM_STOPPED');
  t.equal(e.resetCode, 7);
});

t.test(
  'a reader that ended its half long ago and then gives up: the writer still fails with ERR_BRAID_STREAM_STOPPED',
  async (t) => {
    // The shape of a download whose client left (`braid forward`): the request's end was sent
    // and acknowledged long before the reader stopped. The protocol used to free the stream
    // before its STOP_SENDING went out, and the writer waited on a closed window for good.
    const { b, session } = await pair(t);
    const listener = await b.listen('endless');
    const writerFailed = new Promise<Error & { code?: string; resetCode?: number }>((resolve) =>
      listener.on('stream', (stream) => {
        stream.on('error', resolve);
        stream.resume();
        const chunk = Buffer.alloc(64 * 1024);
        const pump = () => {
          while (!stream.destroyed && stream.write(chunk));
        };
        stream.on('drain', pump);
        pump();
      }),
    );
    const stream = await session.openStream('endless');
    stream.on('error', () => undefined); // its own destroy(error) below
    stream.end();
    let read = 0;
    await new Promise<void>((resolve) =>
      stream.on('data', (c: Buffer) => {
        read += c.length;
        if (read > 2_000_000) {
          stream.pause();
          resolve();
        }
      }),
    );
    stream.destroy(Object.assign(new Error('gone'), { resetCode: 9 }));
    const e = await writerFailed;
    t.equal(e.code, 'ERR_BRAID_STREAM_STOPPED');
    t.equal(e.resetCode, 9);
  },
);

t.test('openStream takes an AbortSignal', async (t) => {
  const { b, session } = await pair(t);
  const listener = await b.listen('slow');
  const accepted: BraidStream[] = [];
  listener.on('stream', (stream) => {
    accepted.push(stream);
    stream.on('error', () => {});
  });
  const controller = new AbortController();
  controller.abort();
  await t.rejects(session.openStream('slow', { signal: controller.signal }), {
    code: 'ERR_BRAID_ABORTED',
  });
  // Aborted while waiting for the accept: the peer's side is reset, the session goes on.
  const waiting = new AbortController();
  const opening = session.openStream('slow', { signal: waiting.signal });
  waiting.abort(new Error('changed my mind'));
  await t.rejects(opening, { code: 'ERR_BRAID_ABORTED', cause: { message: 'changed my mind' } });
  const stream = await session.openStream('slow');
  stream.end('after');
  for (let i = 0; i < 100 && !accepted.some((s) => s.streamId === stream.streamId); i++)
    await new Promise((r) => setTimeout(r, 5));
  const last = accepted.find((s) => s.streamId === stream.streamId)!;
  t.equal((await readAll(last)).toString(), 'after', 'a later stream works');
  for (const s of accepted) s.destroy();
});

t.test(
  'a stream reset by its opener while it waits in the backlog is skipped, and throws nothing',
  async (t) => {
    const { b, session } = await pair(t);
    const listener = await b.listen('slow');
    // Nobody iterates yet: both streams wait in the backlog; the opener gives up on the first.
    const gone = await session.openStream('slow');
    gone.on('error', () => undefined);
    gone.write('never mind');
    const kept = await session.openStream('slow');
    kept.end('still here');
    gone.destroy(Object.assign(new Error('gave up'), { resetCode: 0x42 }));
    // Before the fix, the queued stream's reset was emitted as an 'error' nobody could listen
    // to yet, and the process died of it.
    await new Promise((r) => setTimeout(r, 100));
    const iterator = listener[Symbol.asyncIterator]();
    const first = await iterator.next();
    t.equal(first.value!.streamId, kept.streamId, 'the reset stream was dropped from the backlog');
    t.equal((await readAll(first.value!)).toString(), 'still here');
    await listener.close();
  },
);

t.test(
  'a stream the acceptor resets at once: openStream rejects with the reset and its code',
  async (t) => {
    const { b, session } = await pair(t);
    const listener = await b.listen('refusing');
    // The accept header and the reset leave in the same flush: the reset is the answer.
    listener.on('stream', (s) => {
      s.on('error', () => undefined);
      s.destroy(Object.assign(new Error('not now'), { resetCode: 0x77 }));
    });
    for (let i = 0; i < 10; i++)
      await t.rejects(
        session.openStream('refusing'),
        { code: 'ERR_BRAID_STREAM_RESET', message: /code 119/ },
        `openStream ${i} rejects with the reset`,
      );
    await listener.close();
  },
);

t.test('a stream already reset when it is delivered reaches no stream listener', async (t) => {
  const listener = new EmbeddedServiceListener('svc', 4, () => undefined);
  const seen: BraidStream[] = [];
  listener.on('stream', (s) => void seen.push(s));
  const dead = new PassThrough() as unknown as BraidStream;
  holdUntilClaimed(dead);
  dead.destroy(Object.assign(new Error('reset'), { resetCode: 1 }));
  const live = new PassThrough() as unknown as BraidStream;
  listener.deliver(dead);
  listener.deliver(live);
  t.same(seen, [live], 'only the live one');
  await new Promise((r) => setImmediate(r)); // the dead one's error, held, throws nothing
});
