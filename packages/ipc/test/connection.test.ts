import t from 'tap';
import { once } from 'node:events';
import type { IpcConnection } from '@braid/ipc';
import {
  FrameDecoder,
  IPC_PROTOCOL_VERSION,
  connectSocket,
  decodeBody,
  encodeFrame,
} from '@braid/ipc';
import type { testSpec } from './support/harness.js';
import { codeOf, collectFrames, startHarness } from './support/harness.js';

const decodeAll = () => {
  const d = new FrameDecoder();
  return (c: Buffer) => d.push(c).map((b) => decodeBody(b));
};
const hello = (v = IPC_PROTOCOL_VERSION) => ({ t: 'hello', v, sw: 'raw 1', pid: 1, window: 65536 });

t.test('requests and responses round-trip; errors keep their code', async (t) => {
  const h = await startHarness(t);
  const c = await h.client();
  const peer = await c.ready;
  t.equal(peer.v, IPC_PROTOCOL_VERSION);
  t.equal(peer.sw, 'test-server 1');
  t.equal(peer.pid, process.pid);
  t.same(await c.request('echo', { text: 'héllo' }), { text: 'héllo' });
  const many = await Promise.all(
    Array.from({ length: 100 }, (_, i) => c.request('echo', { text: String(i) })),
  );
  t.same(
    many.map((r) => r.text),
    Array.from({ length: 100 }, (_, i) => String(i)),
  );
  await t.rejects(c.request('fail', { code: 'ERR_BRAID_SERVICE_UNKNOWN' }), {
    code: 'ERR_BRAID_SERVICE_UNKNOWN',
    message: /failed with ERR_BRAID_SERVICE_UNKNOWN/,
  });
  // Parameters are validated by the server, results by the client.
  await t.rejects(c.request('echo', { text: 5 } as unknown as { text: string }), {
    code: 'ERR_BRAID_IPC_INVALID_MESSAGE',
    message: /echo: invalid parameters: text: /,
  });
  await t.rejects(c.request('lie', {}), {
    code: 'ERR_BRAID_IPC_INVALID_MESSAGE',
    message: /lie: invalid result from the other side: n: /,
  });
  await t.rejects(
    (c as unknown as IpcConnection<typeof testSpec & { methods: { nope: never } }>).request(
      'nope' as never,
      {} as never,
    ),
    { code: 'ERR_BRAID_IPC_UNKNOWN_METHOD' },
  );
  // The connection survived all of that.
  t.same(await c.request('echo', { text: 'still here' }), { text: 'still here' });
});

t.test('events are validated; a bad one is a warning, not a crash', async (t) => {
  const h = await startHarness(t);
  const ticks: number[] = [];
  const c = await h.client({
    onEvent: (name, data) => name === 'tick' && ticks.push((data as { n: number }).n),
  });
  const warning = once(c, 'warning');
  await c.request('emit', { count: 5, bad: true });
  const [w] = (await warning) as [Error & { code: string }];
  t.equal(w.code, 'ERR_BRAID_IPC_INVALID_MESSAGE');
  t.match(w.message, /event tick: invalid body: n: /);
  t.same(ticks, [0, 1, 2, 3, 4]);
  t.same(await c.request('echo', { text: 'ok' }), { text: 'ok' });
});

t.test('an aborted request rejects at once and cancels the handler', async (t) => {
  const h = await startHarness(t);
  const c = await h.client();
  await c.ready;
  const ac = new AbortController();
  const p = c.request('wait', {}, { signal: ac.signal });
  await c.request('echo', { text: 'sync' }); // the wait request has reached the server
  ac.abort();
  await t.rejects(p, { code: 'ERR_BRAID_ABORTED' });
  await t.rejects(c.request('echo', { text: 'x' }, { signal: AbortSignal.abort() }), {
    code: 'ERR_BRAID_ABORTED',
  });
  await c.request('echo', { text: 'sync' });
  t.same(h.cancelled, [1]);
  t.equal(h.serverConnections[0]!.stats().requestsPending, 0);
});

t.test('pending requests fail with ERR_BRAID_IPC_CLOSED when the server goes away', async (t) => {
  const h = await startHarness(t);
  const c = await h.client();
  await c.ready;
  const p = c.request('wait', {});
  await c.request('echo', { text: 'sync' });
  h.serverConnections[0]!.socket.destroy();
  await t.rejects(p, { code: 'ERR_BRAID_IPC_CLOSED' });
  await t.rejects(c.request('echo', { text: 'x' }), { code: 'ERR_BRAID_IPC_CLOSED' });
});

t.test('garbage bytes close that connection only, with a bye saying why', async (t) => {
  const h = await startHarness(t);
  const good = await h.client();
  await good.ready;
  for (const garbage of [
    // A valid length with a body that is not msgpack.
    Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from([0xc1, 0xc1, 0xc1])]),
    // A msgpack value that is not an envelope.
    encodeFrame([1, 2, 3]),
    // Plain text.
    Buffer.from('GET / HTTP/1.1\r\nHost: braidd\r\n\r\n'),
  ]) {
    const raw = await h.raw();
    const frames = collectFrames(raw, decodeAll());
    raw.write(encodeFrame(hello()));
    raw.write(garbage);
    const got = (await frames) as { t: string; e?: { code: string } }[];
    t.equal(got[0]?.t, 'hello', 'the server said hello first');
    const bye = got.find((f) => f.t === 'bye');
    t.ok(bye, 'a bye came before the close');
    t.match(bye?.e?.code, /^ERR_BRAID_IPC_(MALFORMED|FRAME_TOO_LARGE)$/);
  }
  const closes = h.serverConnections.slice(1).map((c) => c.closed);
  for (const err of await Promise.all(closes)) t.match(codeOf(err), /^ERR_BRAID_IPC_/);
  t.same(await good.request('echo', { text: 'unaffected' }), { text: 'unaffected' });
});

t.test('an oversized frame is refused from its header alone', async (t) => {
  const h = await startHarness(t, { frameBytesMax: 64 * 1024 });
  const raw = await h.raw();
  const frames = collectFrames(raw, decodeAll());
  raw.write(encodeFrame(hello()));
  const header = Buffer.alloc(4);
  header.writeUInt32BE(64 * 1024 + 1);
  raw.write(header);
  const got = (await frames) as { t: string; e?: { code: string; message: string } }[];
  const bye = got.find((f) => f.t === 'bye');
  t.equal(bye?.e?.code, 'ERR_BRAID_IPC_FRAME_TOO_LARGE');
  t.match(bye?.e?.message, /65537 bytes exceeds the limit of 65536/);
  const err = await h.serverConnections[0]!.closed;
  t.equal(codeOf(err), 'ERR_BRAID_IPC_FRAME_TOO_LARGE');
  t.ok(h.serverConnections[0]!.stats().inputBufferedBytes <= 4, 'nothing of the body was held');
});

t.test('a truncated frame is reported as such', async (t) => {
  const h = await startHarness(t);
  const raw = await h.raw();
  raw.write(encodeFrame(hello()));
  const frame = encodeFrame({ t: 'req', id: 1, m: 'echo', p: { text: 'x'.repeat(100) } });
  raw.end(frame.subarray(0, 50));
  const err = await h.serverConnections[0]!.closed;
  t.equal(codeOf(err), 'ERR_BRAID_IPC_TRUNCATED');
  t.match((err as Error).message, /46 bytes of it received/);
});

t.test('versions: both sides check, and the error names both versions', async (t) => {
  const h = await startHarness(t);
  // An old client (version 0) gets the server's hello, then a bye naming both versions.
  const raw = await h.raw();
  const frames = collectFrames(raw, decodeAll());
  raw.write(encodeFrame({ t: 'hello', v: 0, sw: 'old-client 0.0.1' }));
  const got = (await frames) as { t: string; v?: number; e?: { code: string; message: string } }[];
  t.equal(got[0]?.t, 'hello');
  t.equal(got[0]?.v, IPC_PROTOCOL_VERSION);
  const bye = got.find((f) => f.t === 'bye');
  t.equal(bye?.e?.code, 'ERR_BRAID_IPC_VERSION');
  t.equal(
    bye?.e?.message,
    `old-client 0.0.1 speaks control protocol version 0 but test-server 1 speaks version ${IPC_PROTOCOL_VERSION}: run the same Braid version on both sides`,
  );
  const serverErr = await h.serverConnections[0]!.closed;
  t.equal(codeOf(serverErr), 'ERR_BRAID_IPC_VERSION');

  // A newer client learns it from its own check.
  const c = await h.client({ protocolVersion: IPC_PROTOCOL_VERSION + 1, software: 'new-sdk 9' });
  await t.rejects(c.ready, {
    code: 'ERR_BRAID_IPC_VERSION',
    message: `test-server 1 speaks control protocol version ${IPC_PROTOCOL_VERSION} but new-sdk 9 speaks version ${IPC_PROTOCOL_VERSION + 1}: run the same Braid version on both sides`,
  });
  await t.rejects(c.request('echo', { text: 'x' }), { code: 'ERR_BRAID_IPC_CLOSED' });
});

t.test(
  'a silent client is closed at the hello timeout; messages before hello are refused',
  async (t) => {
    const h = await startHarness(t, { helloTimeoutMs: 50 });
    await h.raw();
    const err = await h.serverConnections[0]!.closed;
    t.equal(codeOf(err), 'ERR_BRAID_IPC_HELLO_TIMEOUT');

    const raw = await h.raw();
    const frames = collectFrames(raw, decodeAll());
    raw.write(encodeFrame({ t: 'req', id: 1, m: 'echo', p: { text: 'x' } }));
    const got = (await frames) as { t: string; e?: { code: string; message: string } }[];
    const bye = got.find((f) => f.t === 'bye');
    t.equal(bye?.e?.code, 'ERR_BRAID_IPC_PROTOCOL');
    t.match(bye?.e?.message, /"req" message before hello/);
  },
);

t.test(
  'a client that sends requests without reading is cut off at the backlog bound',
  async (t) => {
    const hardMax = 256 * 1024;
    const h = await startHarness(t, { outputBacklogHardBytesMax: hardMax });
    const raw = await h.raw();
    raw.pause(); // never reads
    raw.write(encodeFrame(hello()));
    const text = 'y'.repeat(1000);
    let maxBacklog = 0;
    const conn = await new Promise<IpcConnection<typeof testSpec>>((r) =>
      setImmediate(() => r(h.serverConnections[0]!)),
    );
    // Bounded: at most 4 000 requests of ~1 kB (4 MB), well past the backlog bound.
    for (let id = 1; id <= 4000 && conn.isOpen; id++) {
      const ok = raw.write(encodeFrame({ t: 'req', id, m: 'echo', p: { text } }));
      if (!ok) await new Promise((r) => setTimeout(r, 1));
      maxBacklog = Math.max(maxBacklog, conn.stats().outputBacklogBytes);
    }
    const err = await conn.closed;
    t.equal(codeOf(err), 'ERR_BRAID_IPC_SLOW_CONSUMER');
    t.ok(
      maxBacklog <= hardMax + 2048,
      `backlog stayed bounded (${maxBacklog} ≤ ${hardMax} + one frame)`,
    );
  },
);

t.test('connectSocket says when nothing listens', async (t) => {
  await t.rejects(connectSocket('/nonexistent/braid-test.sock'), {
    code: 'ERR_BRAID_IPC_CONNECT',
    reason: 'absent',
  });
});
