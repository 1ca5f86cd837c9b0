import t from 'tap';
import { FrameDecoder, IPC_PROTOCOL_VERSION, decodeBody, encodeFrame } from '@braid/ipc';
import {
  codeOf,
  collectFrames,
  content,
  eventually,
  readAll,
  startHarness,
} from './support/harness.js';

t.test('a stream carries bytes exactly, with the window bounding what is buffered', async (t) => {
  const window = 16 * 1024;
  const h = await startHarness(t, { streamWindowBytes: window });
  const c = await h.client({ streamWindowBytes: window });
  await c.ready;
  const { stream } = await c.requestWithStream('source', { bytes: 1_000_000 });
  t.ok(stream, 'the response opened a stream');
  const got = await readAll(stream!);
  t.equal(got.length, 1_000_000);
  t.ok(got.equals(content(0, 1_000_000)), 'byte-exact');
  // Streams are forgotten by both sides once finished (the iterator destroyed ours).
  t.ok(await eventually(() => c.stats().streamsOpen === 0), 'client forgot the stream');
  t.ok(
    await eventually(() => h.serverConnections[0]!.stats().streamsOpen === 0),
    'server forgot the stream',
  );
});

t.test('a reader that stops: the sender waits on credit, memory stays bounded', async (t) => {
  const window = 32 * 1024;
  const h = await startHarness(t, { streamWindowBytes: window });
  const c = await h.client({ streamWindowBytes: window });
  await c.ready;
  const total = 4 * 1024 * 1024;
  const { stream } = await c.requestWithStream('source', { bytes: total });
  const server = h.serverConnections[0]!;
  const serverStream = h.serverStreams[0]!;
  // Do not read: let the server try for a while (bounded: 50 turns of the event loop with I/O).
  for (let i = 0; i < 50; i++) await new Promise((r) => setTimeout(r, 2));
  t.equal(serverStream.bytesSent, window, 'the server sent exactly the window');
  t.equal(serverStream.sendCreditBytes, 0, 'and has no credit left');
  t.ok(
    stream!.bufferedBytes <= window,
    `client buffers at most the window (${stream!.bufferedBytes})`,
  );
  t.ok(server.stats().outputBacklogBytes <= window + 1024, 'nothing piles up in the server socket');
  t.ok(serverStream.writableLength <= 64 * 1024 + 10_000, 'the server writer is held back');
  // Resume: everything arrives, exactly.
  const got = await readAll(stream!);
  t.ok(got.equals(content(0, total)), 'byte-exact after the pause');
});

t.test('many streams at once in both directions, byte-exact', async (t) => {
  const window = 8 * 1024;
  const h = await startHarness(t, { streamWindowBytes: window });
  const c = await h.client({ streamWindowBytes: window });
  await c.ready;
  const streams = 100;
  const results = await Promise.all(
    Array.from({ length: streams }, async (_, i) => {
      const { stream } = await c.requestWithStream('echoStream', {});
      const size = 10_000 + i * 997;
      const data = content(i * 1000, size);
      const [, echoed] = await Promise.all([
        (async () => {
          // Odd-sized writes so chunks straddle credit grants.
          for (let off = 0; off < size; off += 3001) {
            if (!stream!.write(data.subarray(off, off + 3001)))
              await new Promise((r) => stream!.once('drain', r));
          }
          stream!.end();
        })(),
        readAll(stream!),
      ]);
      return echoed.equals(data);
    }),
  );
  t.equal(results.filter(Boolean).length, streams, 'every stream echoed exactly');
  t.ok(await eventually(() => c.stats().streamsOpen === 0), 'all streams forgotten');
});

t.test('destroying a stream resets it on the other side', async (t) => {
  const h = await startHarness(t);
  const c = await h.client();
  await c.ready;
  const { stream } = await c.requestWithStream('echoStream', {});
  stream!.write('abc');
  const serverStream = h.serverStreams[0]!;
  const serverError = new Promise<Error>((r) => serverStream.once('error', r));
  stream!.on('error', () => undefined);
  stream!.destroy(Object.assign(new Error('app gave up'), { code: 'ERR_APP_GAVE_UP' }));
  const err = (await serverError) as Error & { remoteCode: string };
  t.equal(codeOf(err), 'ERR_BRAID_IPC_STREAM_RESET');
  t.equal(err.remoteCode, 'ERR_APP_GAVE_UP');
  t.match(err.message, /app gave up/);
  // The other way round: the server resets, the client's read fails.
  const second = await c.requestWithStream('source', { bytes: 10_000_000 });
  const s2 = second.stream!;
  const clientError = new Promise<Error>((r) => s2.once('error', r));
  h.serverStreams[1]!.destroy();
  t.equal(codeOf(await clientError), 'ERR_BRAID_IPC_STREAM_RESET');
  await c.request('echo', { text: 'connection unaffected' });
});

t.test('open streams fail when the connection closes', async (t) => {
  const h = await startHarness(t);
  const c = await h.client();
  await c.ready;
  const { stream } = await c.requestWithStream('echoStream', {});
  const failed = new Promise<Error>((r) => stream!.once('error', r));
  h.serverConnections[0]!.socket.destroy();
  t.equal(codeOf(await failed), 'ERR_BRAID_IPC_CLOSED');
});

t.test('a peer sending beyond its credit is cut off', async (t) => {
  const window = 4096;
  const h = await startHarness(t, { streamWindowBytes: window });
  const raw = await h.raw();
  const decoder = new FrameDecoder();
  const frames = collectFrames(raw, (ch) => decoder.push(ch).map((b) => decodeBody(b)));
  raw.write(encodeFrame({ t: 'hello', v: IPC_PROTOCOL_VERSION, sw: 'raw', pid: 1, window }));
  raw.write(encodeFrame({ t: 'req', id: 1, m: 'echoStream', p: {} }));
  // Wait for the response carrying the stream handle.
  await new Promise<void>((resolve) => {
    const check = () => (h.serverStreams.length > 0 ? resolve() : setTimeout(check, 1));
    check();
  });
  const handle = h.serverStreams[0]!.handle;
  raw.write(encodeFrame({ t: 'data', s: handle, b: Buffer.alloc(window + 1) }));
  const got = (await frames) as { t: string; e?: { code: string } }[];
  t.equal(got.find((f) => f.t === 'bye')?.e?.code, 'ERR_BRAID_IPC_CREDIT');
});

t.test('the stream limit is enforced on both sides', async (t) => {
  const h = await startHarness(t, { streamsMax: 3 });
  const c = await h.client();
  await c.ready;
  const open = await Promise.all([1, 2, 3].map(() => c.requestWithStream('echoStream', {})));
  await t.rejects(c.requestWithStream('echoStream', {}), { code: 'ERR_BRAID_IPC_STREAM_LIMIT' });
  // Finishing one frees its slot.
  const first = open[0]!.stream!;
  first.end('x');
  const echoed = await readAll(first);
  t.equal(echoed.toString(), 'x');
  await eventually(() => h.serverConnections[0]!.stats().streamsOpen < 3);
  const again = await c.requestWithStream('echoStream', {});
  t.ok(again.stream);
  for (const o of [...open, again]) o.stream!.destroy();
});
