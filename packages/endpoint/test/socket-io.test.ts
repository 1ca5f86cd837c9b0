// The endpoint's sockets: the native one's trains, its full-buffer backpressure and its errors
// (over a stand-in socket, since loopback never fills a send buffer), and a real transfer over
// each implementation.
import t from 'tap';
import type { DgramExtSocket } from '@braid/dgram-ext';
import {
  NativeIo,
  nativeSocketProblem,
  type BraidStream,
  type SocketIoHandlers,
} from '@braid/endpoint';
import { content, pair, readAll, sha256, writeAll } from './support/endpoints.js';

interface Call {
  kind: 'send' | 'segments';
  host: string;
  port: number;
  segment: number;
  bytes: Buffer;
}

/** A stand-in socket: records each send; `fail` may throw instead (once per entry). */
function standIn(fail: ((call: Call) => Error | undefined)[] = []) {
  const calls: Call[] = [];
  let wants = 0;
  const socket = {
    implementation: 'native',
    address: () => ({ address: '127.0.0.1', port: 9 }),
    send(bytes: Uint8Array, port: number, host: string) {
      record({ kind: 'send', host, port, segment: bytes.length, bytes: Buffer.from(bytes) });
    },
    sendSegments(bytes: Uint8Array, segment: number, port: number, host: string) {
      record({ kind: 'segments', host, port, segment, bytes: Buffer.from(bytes) });
      return Math.ceil(bytes.length / segment);
    },
    wantWritable: () => void wants++,
  } as unknown as DgramExtSocket;
  function record(call: Call) {
    const err = fail.shift()?.(call);
    if (err) throw err;
    calls.push(call);
  }
  return { socket, calls, wants: () => wants };
}

function handlers() {
  const log = { sent: 0, bytes: 0, errors: [] as NodeJS.ErrnoException[], writable: 0 };
  const h: SocketIoHandlers = {
    onDatagram: () => {},
    onReceived: () => {},
    onSent: (n, bytes) => {
      log.sent += n;
      log.bytes += bytes;
    },
    onError: (err) => void log.errors.push(err),
    onWritable: () => void log.writable++,
  };
  return { h, log };
}

const packet = (size: number, fill: number) => new Uint8Array(size).fill(fill);

function errno(code: string, datagramsSent = 0): Error {
  return Object.assign(new Error(code), { code, datagramsSent });
}

t.test('a turn leaves as trains: same destination, same size, a shorter one last', async (t) => {
  const s = standIn();
  const { h, log } = handlers();
  const io = new NativeIo(s.socket, 4, h);
  for (let i = 0; i < 5; i++) io.enqueue(packet(1400, i), '127.0.0.1', 1);
  io.enqueue(packet(800, 5), '127.0.0.1', 1); // shorter: ends the train
  io.enqueue(packet(1400, 6), '127.0.0.1', 1); // a new train: starts at full size
  io.enqueue(packet(1400, 7), '127.0.0.2', 1); // another destination
  io.enqueue(packet(1400, 8), '127.0.0.2', 2); // another port
  t.equal(io.queued, 9);
  io.flush();
  t.equal(io.queued, 0);
  t.same(
    s.calls.map((c) => [c.kind, c.host, c.port, c.segment, c.bytes.length]),
    [
      ['segments', '127.0.0.1', 1, 1400, 5 * 1400 + 800],
      ['send', '127.0.0.1', 1, 1400, 1400],
      ['send', '127.0.0.2', 1, 1400, 1400],
      ['send', '127.0.0.2', 2, 1400, 1400],
    ],
  );
  const train = s.calls[0]!.bytes;
  for (let i = 0; i < 6; i++) t.equal(train[i * 1400], i, `datagram ${i} in its place`);
  t.same(log, { sent: 9, bytes: 5 * 1400 + 800 + 3 * 1400, errors: [], writable: 0 });
});

t.test('a train is at most 64 KiB of UDP payload', async (t) => {
  const s = standIn();
  const io = new NativeIo(s.socket, 4, handlers().h);
  for (let i = 0; i < 100; i++) io.enqueue(packet(1400, i), '127.0.0.1', 1);
  io.flush();
  // 46 × 1400 = 64,400 fits in 65,507; 47 would not.
  t.same(
    s.calls.map((c) => c.bytes.length / 1400),
    [46, 46, 8],
  );
});

t.test('a full send buffer (EAGAIN) keeps the queue and resumes when writable', async (t) => {
  // The first train fails outright; when retried it goes, and the next one stops at EAGAIN after
  // 2 of its 3 datagrams.
  const s = standIn([() => errno('EAGAIN'), () => undefined, () => errno('EAGAIN', 2)]);
  const { h, log } = handlers();
  const io = new NativeIo(s.socket, 4, h);
  for (let i = 0; i < 4; i++) io.enqueue(packet(1000, i), '127.0.0.1', 1);
  io.enqueue(packet(1000, 4), '127.0.0.2', 1);
  io.flush();
  t.ok(io.blocked, 'blocked');
  t.equal(io.queued, 5, 'nothing dropped');
  t.equal(s.wants(), 1, 'asked to be told when writable');
  io.flush();
  t.equal(s.calls.length, 0, 'a blocked socket sends nothing until writable');
  io.enqueue(packet(1000, 5), '127.0.0.2', 1);
  io.enqueue(packet(1000, 6), '127.0.0.2', 1);
  io.resume();
  t.equal(log.sent, 4 + 2, 'the first train, and 2 of the second');
  t.ok(io.blocked, 'blocked again');
  t.equal(io.queued, 1, 'the one not sent stays');
  t.equal(s.wants(), 2);
  t.equal(log.writable, 0, 'no writable event while still blocked');
  io.resume();
  t.notOk(io.blocked);
  t.equal(io.queued, 0);
  t.equal(log.sent, 7, 'every datagram sent once');
  t.equal(s.calls.at(-1)?.bytes[0], 6, 'the last one last');
  t.equal(log.writable, 1, 'the endpoint is told once the queue is out');
  t.same(log.errors, []);
});

t.test('the queue holds copies, and grows past its first buffer while blocked', async (t) => {
  // Blocked for the whole first flush: 400 datagrams of 1,400 bytes (560 kB, more than the
  // 256 KiB buffer it starts with) wait, some sent in part, and go out in order and intact.
  const s = standIn([() => errno('EAGAIN', 10)]);
  const { h, log } = handlers();
  const io = new NativeIo(s.socket, 4, h);
  const reused = new Uint8Array(1400);
  const stamp = (i: number) => {
    reused.fill(i & 0xff);
    reused[1] = i >> 8;
  };
  for (let i = 0; i < 30; i++) {
    stamp(i);
    io.enqueue(reused, '127.0.0.1', 1);
  }
  io.flush();
  t.ok(io.blocked);
  for (let i = 30; i < 400; i++) {
    stamp(i);
    io.enqueue(reused, '127.0.0.1', 1); // the caller reuses its array at once
  }
  t.equal(io.queued, 390);
  io.resume();
  t.equal(io.queued, 0);
  t.equal(log.sent, 400);
  // The stand-in records no part of a call that fails: the first 10 went in that one.
  const sent = Buffer.concat(s.calls.map((c) => c.bytes));
  t.equal(sent.length, 390 * 1400, 'every other byte once');
  let wrong = 0;
  for (let i = 10; i < 400; i++) {
    const d = sent.subarray((i - 10) * 1400, (i - 9) * 1400);
    if (d[0] !== (i & 0xff) || d[1] !== i >> 8 || d[1399] !== (i & 0xff)) wrong++;
  }
  t.equal(wrong, 0, 'each datagram as it was enqueued, in order');

  // Blocked with most of the buffer sent: the rest moves to its front, in the same buffer.
  const s2 = standIn([() => errno('EAGAIN', 140)]);
  const io2 = new NativeIo(s2.socket, 4, handlers().h);
  for (let i = 0; i < 150; i++) io2.enqueue(packet(1400, i), '127.0.0.1', 1);
  io2.flush();
  for (let i = 150; i < 200; i++) io2.enqueue(packet(1400, i), '127.0.0.1', 1);
  io2.resume();
  t.same(
    s2.calls.flatMap((c) =>
      Array.from({ length: c.bytes.length / 1400 }, (_, k) => c.bytes[k * 1400]),
    ),
    Array.from({ length: 60 }, (_, k) => 140 + k),
    'the 60 not sent before, in order',
  );
});

t.test('another send error drops that train only, and says where it was going', async (t) => {
  const s = standIn([() => errno('ENETUNREACH')]);
  const { h, log } = handlers();
  const io = new NativeIo(s.socket, 4, h);
  for (let i = 0; i < 3; i++) io.enqueue(packet(1200, i), '198.51.100.7', 4433);
  io.enqueue(packet(1200, 3), '127.0.0.1', 1);
  io.flush();
  t.notOk(io.blocked);
  t.equal(io.queued, 0);
  t.equal(log.errors.length, 1, 'reported once');
  t.match(log.errors[0], { code: 'ENETUNREACH', address: '198.51.100.7', port: 4433 });
  t.equal(log.sent, 1, 'the next destination still gets its datagram');
  t.equal(s.calls[0]?.host, '127.0.0.1');
});

for (const implementation of ['native', 'dgram'] as const) {
  t.test(
    `a transfer over ${implementation} sockets: byte-exact, and the sockets say which they are`,
    { skip: implementation === 'native' ? (nativeSocketProblem() ?? false) : false },
    async (t) => {
      const { a, b, session } = await pair(t, {
        bind: ['127.0.0.1:0'],
        udpSockets: implementation,
      });
      const data = content(3 << 20, 7);
      const listener = await b.listen('sink');
      const got = new Promise<Buffer>((resolve, reject) =>
        listener.on('stream', (s: BraidStream) => readAll(s).then(resolve, reject)),
      );
      const stream = await session.openStream('sink');
      await writeAll(stream, data, 64_000);
      t.equal(sha256(await got), sha256(data), 'byte-exact');
      for (const e of [a, b])
        t.same(
          e.stats().sockets.map((s) => s.implementation),
          [implementation],
        );
      t.ok(
        a.stats().sockets[0]!.datagramsSent > (3 << 20) / 1500,
        'the sender counted its datagrams',
      );
    },
  );
}
