/**
 * One side of one transfer of `goodput-loopback`, in its own process (forked by
 * bench/goodput-loopback.ts, which talks to it over the IPC channel).
 *
 *   argv: <kind> <role> <bytes>   kind = braid | udx | dgram, role = recv | send
 *
 * Messages, parent → worker: `{ type: 'peer', ... }` (where the other side is), `{ type: 'go' }`
 * (start sending), `{ type: 'report' }` (dgram receiver: say what arrived), `{ type: 'exit' }`.
 * Worker → parent: `{ type: 'ready', ... }` (bound; where to reach it), `{ type: 'done', ... }`.
 *
 * Stream content: byte x of the transfer is PATTERN[x % PATTERN.length]; receivers check every
 * 4099th byte and the total length, and fail the run on any difference.
 */
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { openEndpoint, type UdpEndpoint } from '@braid/endpoint';

const PACKET_BYTES = 1400;
const PATTERN = new Uint8Array(256 * 1024).map((_, i) => (i * 7 + (i >>> 11)) & 0xff);
const CHECK_STRIDE = 4099;
/** dgram blast: sends between two waits for the kernel, so Node's send queue stays bounded. */
const BLAST_BATCH = 64;

type Message =
  | { type: 'peer'; host: string; port: number; eid?: string; streamId?: number }
  | { type: 'go' }
  | { type: 'report' }
  | { type: 'exit' };

const [kind, role, bytesText] = process.argv.slice(2) as [string, string, string];
const TOTAL = Number(bytesText);
const send = (m: object) => process.send!(m);
const messages: Message[] = [];
let wake: (() => void) | undefined;
process.on('message', (m: Message) => {
  if (m.type === 'exit') process.exit(0);
  messages.push(m);
  wake?.();
});
async function next<T extends Message['type']>(type: T): Promise<Extract<Message, { type: T }>> {
  for (;;) {
    const i = messages.findIndex((m) => m.type === type);
    if (i >= 0) return messages.splice(i, 1)[0] as Extract<Message, { type: T }>;
    await new Promise<void>((resolve) => (wake = resolve));
  }
}

/**
 * BRAID_BENCH_CPU_PROF=<dir>: profile the transfer alone (see goodput-loopback.ts).
 * BRAID_BENCH_HEAP_PROF=<dir>: the same with V8's sampling heap profiler, counting objects that
 * were collected too (so what shows is what was allocated, the work the GC does).
 */
const PROFILE_DIR = process.env.BRAID_BENCH_CPU_PROF;
const HEAP_PROFILE_DIR = process.env.BRAID_BENCH_HEAP_PROF;
let profiler: Promise<Session> | undefined;

function profileStart(): void {
  if ((!PROFILE_DIR && !HEAP_PROFILE_DIR) || profiler) return;
  profiler = (async () => {
    const session = new Session();
    session.connect();
    if (PROFILE_DIR) {
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    if (HEAP_PROFILE_DIR) {
      await session.post('HeapProfiler.enable');
      await session.post('HeapProfiler.startSampling', {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    }
    return session;
  })();
}

async function profileStop(): Promise<void> {
  if (!profiler) return;
  const session = await profiler;
  if (PROFILE_DIR) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(
      join(PROFILE_DIR, `${kind}-${role}-${process.pid}.cpuprofile`),
      JSON.stringify(profile),
    );
  }
  if (HEAP_PROFILE_DIR) {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    writeFileSync(
      join(HEAP_PROFILE_DIR, `${kind}-${role}-${process.pid}.heapprofile`),
      JSON.stringify(profile),
    );
  }
  session.disconnect();
}

/** User + system CPU time of this process since `start`, in ms. */
function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

/** Checks and counts received stream bytes; throws on the first wrong byte. */
function checker() {
  let received = 0;
  let firstMs = 0;
  let cpu = process.cpuUsage();
  return {
    take(chunk: Uint8Array) {
      if (received === 0) {
        profileStart();
        firstMs = performance.now();
        cpu = process.cpuUsage();
      }
      // The next multiple of CHECK_STRIDE at or after `received`.
      for (
        let x = Math.ceil(received / CHECK_STRIDE) * CHECK_STRIDE;
        x < received + chunk.length;
        x += CHECK_STRIDE
      )
        if (chunk[x - received] !== PATTERN[x % PATTERN.length])
          throw new Error(`${kind}: byte ${x} differs`);
      received += chunk.length;
    },
    result() {
      if (received !== TOTAL) throw new Error(`${kind}: received ${received} of ${TOTAL} bytes`);
      return { bytes: received, ms: performance.now() - firstMs, cpuMs: cpuMsSince(cpu) };
    },
  };
}

/** Writes TOTAL bytes of the pattern to a stream with backpressure, then ends it. */
function writeAll(stream: Duplex): Promise<void> {
  return new Promise((resolve, reject) => {
    let written = 0;
    stream.once('error', reject);
    const pump = () => {
      while (written < TOTAL) {
        const from = written % PATTERN.length;
        const piece = PATTERN.subarray(from, Math.min(PATTERN.length, from + TOTAL - written));
        written += piece.length;
        if (!stream.write(piece)) {
          stream.once('drain', pump);
          return;
        }
      }
      stream.end(resolve);
    };
    pump();
  });
}

async function braidReceiver(): Promise<void> {
  const endpoint = await openEndpoint({
    bind: ['127.0.0.1:0'],
    maxDatagramBytes: PACKET_BYTES,
    crypto: (process.env.BRAID_CRYPTO as 'auto' | undefined) ?? 'auto',
  });
  const listener = await endpoint.listen('bulk');
  listener.on('stream', (stream) => {
    const check = checker();
    stream.on('data', (chunk: Buffer) => check.take(chunk));
    stream.on('end', () => {
      const r = check.result();
      stream.end();
      void profileStop().then(() => send({ type: 'done', ...r, crypto: endpoint.crypto.name }));
    });
  });
  const [locator] = endpoint.locators;
  const [host, port] = [
    locator!.slice(0, locator!.lastIndexOf(':')),
    Number(locator!.split(':').pop()),
  ];
  send({ type: 'ready', host, port, eid: endpoint.eid, crypto: endpoint.crypto.name });
}

async function braidSender(): Promise<void> {
  const peer = await next('peer');
  const endpoint: UdpEndpoint = await openEndpoint({
    bind: ['127.0.0.1:0'],
    maxDatagramBytes: PACKET_BYTES,
    crypto: (process.env.BRAID_CRYPTO as 'auto' | undefined) ?? 'auto',
  });
  const session = await endpoint.openSession(peer.eid!, {
    locators: [`${peer.host}:${peer.port}`],
  });
  const stream = await session.openStream('bulk');
  send({ type: 'ready', crypto: endpoint.crypto.name });
  await next('go');
  profileStart();
  const cpu = process.cpuUsage();
  await writeAll(stream);
  // Sent = acknowledged: the sender's work ends with the last ACK, as the receiver's check does.
  await new Promise<void>((resolve) => stream.once('end', resolve).resume());
  const cpuMs = cpuMsSince(cpu);
  await profileStop();
  const stats = await session.stats();
  // BRAID_BENCH_STATS=1: the sender's session stats on stderr (ACKs received, RTT, window).
  if (process.env.BRAID_BENCH_STATS) process.stderr.write(`${JSON.stringify(stats)}\n`);
  send({
    type: 'done',
    cpuMs,
    crypto: endpoint.crypto.name,
    packetsSent: stats.packetsSent,
    packetsLost: stats.packetsLost,
    retransmittedBytes: stats.retransmittedBytes,
  });
}

// udx-native ships no types: the part used here.
interface UdxSocket {
  bind(port: number, host: string): void;
  address(): { host: string; port: number };
}
interface UdxStream extends Duplex {
  connect(socket: UdxSocket, remoteId: number, port: number, host: string): void;
  readonly mtu: number;
}
interface Udx {
  createSocket(): UdxSocket;
  createStream(id: number): UdxStream;
}
function udx(): Udx {
  const UDX = createRequire(import.meta.url)('udx-native') as new () => Udx;
  return new UDX();
}
const UDX_RECV_ID = 2;
const UDX_SEND_ID = 1;

async function udxReceiver(): Promise<void> {
  const u = udx();
  const socket = u.createSocket();
  socket.bind(0, '127.0.0.1');
  const stream = u.createStream(UDX_RECV_ID);
  const check = checker();
  stream.on('data', (chunk: Buffer) => check.take(chunk));
  stream.on('end', () => {
    const r = check.result();
    stream.end();
    void profileStop().then(() => send({ type: 'done', ...r, mtu: stream.mtu }));
  });
  send({ type: 'ready', host: '127.0.0.1', port: socket.address().port, streamId: UDX_RECV_ID });
  const peer = await next('peer');
  stream.connect(socket, peer.streamId!, peer.port, peer.host);
  send({ type: 'connected' });
}

async function udxSender(): Promise<void> {
  const peer = await next('peer');
  const u = udx();
  const socket = u.createSocket();
  socket.bind(0, '127.0.0.1');
  const stream = u.createStream(UDX_SEND_ID);
  stream.resume();
  send({ type: 'ready', host: '127.0.0.1', port: socket.address().port, streamId: UDX_SEND_ID });
  stream.connect(socket, peer.streamId!, peer.port, peer.host);
  await next('go');
  profileStart();
  const cpu = process.cpuUsage();
  await writeAll(stream);
  await new Promise<void>((resolve) => stream.once('end', resolve));
  const cpuMs = cpuMsSince(cpu);
  await profileStop();
  send({ type: 'done', mtu: stream.mtu, cpuMs });
}

async function dgramReceiver(): Promise<void> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let bytes = 0;
  let datagrams = 0;
  let firstMs = 0;
  let lastMs = 0;
  socket.on('message', (msg) => {
    const now = performance.now();
    if (datagrams === 0) firstMs = now;
    lastMs = now;
    datagrams++;
    bytes += msg.length;
  });
  send({ type: 'ready', host: '127.0.0.1', port: socket.address().port });
  await next('report');
  send({ type: 'done', bytes, datagrams, ms: lastMs - firstMs });
}

async function dgramSender(): Promise<void> {
  const peer = await next('peer');
  const socket = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 << 20 });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  send({ type: 'ready' });
  await next('go');
  const cpu = process.cpuUsage();
  const datagrams = Math.ceil(TOTAL / PACKET_BYTES);
  let sent = 0;
  while (sent < datagrams) {
    const batch = Math.min(BLAST_BATCH, datagrams - sent);
    await new Promise<void>((resolve, reject) => {
      for (let i = 0; i < batch; i++) {
        const from = ((sent + i) * PACKET_BYTES) % (PATTERN.length - PACKET_BYTES);
        const last = i === batch - 1;
        socket.send(PATTERN.subarray(from, from + PACKET_BYTES), peer.port, peer.host, (err) => {
          if (err) reject(err);
          else if (last) resolve();
        });
      }
    });
    sent += batch;
  }
  send({ type: 'done', datagrams: sent, cpuMs: cpuMsSince(cpu) });
}

const roles: Record<string, () => Promise<void>> = {
  'braid recv': braidReceiver,
  'braid send': braidSender,
  'udx recv': udxReceiver,
  'udx send': udxSender,
  'dgram recv': dgramReceiver,
  'dgram send': dgramSender,
};
const run = roles[`${kind} ${role}`];
if (!run) throw new Error(`goodput-loopback-worker: unknown role "${kind} ${role}"`);
process.on('uncaughtException', (err) => {
  send({ type: 'error', message: err.stack ?? err.message });
  process.exit(1);
});
run().catch((err: Error) => {
  send({ type: 'error', message: err.stack ?? err.message });
  process.exit(1);
});
