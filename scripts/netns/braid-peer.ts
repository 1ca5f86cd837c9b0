/**
 * The Braid side of a lab transfer: one bulk stream from host a to host b, hashed at both ends,
 * through any `BraidClient` (the embedded endpoint `openEndpoint()` today; the same code runs on
 * an SDK client of a braidd). Speaks the lab peers' JSON-line protocol (peer-process.ts):
 *
 *   node braid-peer.js receive --bind 198.51.100.2:4433,203.0.113.2:4433
 *     ready: {"type":"ready","eid":"braid1…"}; reads one stream on service `bulk` to its end,
 *     answers {"bytes","sha256"} on it, and reports progress, path events and its timeline
 *   node braid-peer.js send --bind 198.51.100.1:0,203.0.113.1:0 --peer braid1… \
 *       --locators 198.51.100.2:4433,203.0.113.2:4433 --bytes 33554432
 *     opens a session and the stream, writes the bytes, waits for the receiver's answer
 *
 * Options of both: --scheduler aggregate|active-backup, --crypto auto|libsodium|sodium-native,
 * --max-datagram-bytes N (the endpoint's `maxDatagramBytes`, default the protocol's 1200);
 * or --daemon SOCKET to go through the braidd listening there (`@braid/sdk` `connect`) instead
 * of an endpoint of its own: the daemon then binds, schedules and holds the identity.
 * The content is the MPTCP baseline's: 64 KiB chunks of one random block, each stamped with its
 * index. Timeline buckets are CLOCK_MONOTONIC ms / 10 (`process.hrtime`), as in delivery.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import {
  openEndpoint,
  type BraidClient,
  type BraidSession,
  type BraidStream,
  type CryptoChoice,
  type UdpEndpointOptions,
} from '@braid/endpoint';
import { connect } from '@braid/sdk';

const SERVICE = 'bulk';
const CHUNK_BYTES = 64 * 1024;
const PROGRESS_STEP_BYTES = 1 << 20;
const BUCKET_MS = 10;
/** A transfer is at most 16 GiB: bounds the run and the receiver's timeline. */
const BYTES_MAX = 16 * 2 ** 30;
/** The receiver's answer is one small JSON object. */
const ANSWER_BYTES_MAX = 4_096;
/** No stream within this long, or a transfer silent this long, ends the peer with an error. */
const IDLE_TIMEOUT_MS = 60_000;
/** With --daemon: how long to wait for braidd to listen (it starts beside this program). */
const DAEMON_WAIT_MS = 20_000;
const DAEMON_RETRY_MS = 100;

type Emit = (msg: Record<string, unknown>) => void;
const emit: Emit = (msg) => process.stdout.write(JSON.stringify(msg) + '\n');

function fail(code: string, message: string): never {
  emit({ type: 'error', code, message });
  process.exit(1);
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    bind: { type: 'string' },
    peer: { type: 'string' },
    locators: { type: 'string' },
    bytes: { type: 'string' },
    scheduler: { type: 'string', default: 'aggregate' },
    crypto: { type: 'string', default: 'auto' },
    'max-datagram-bytes': { type: 'string' },
    daemon: { type: 'string' },
  },
});

const list = (text: string | undefined) =>
  (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** The SDK's client of the braidd at `socketPath`, once it answers. */
async function daemonClient(socketPath: string): Promise<BraidClient> {
  const deadline = nowMs() + DAEMON_WAIT_MS;
  for (;;) {
    try {
      return await connect({ socketPath });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'ERR_BRAID_DAEMON_NOT_RUNNING' || nowMs() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, DAEMON_RETRY_MS));
    }
  }
}

function endpointOptions(): UdpEndpointOptions {
  const scheduler = values.scheduler;
  if (scheduler !== 'aggregate' && scheduler !== 'active-backup')
    fail('ERR_PEER_ARGUMENT', `--scheduler must be aggregate or active-backup`);
  const crypto = values.crypto as CryptoChoice;
  if (!['auto', 'libsodium', 'sodium-native'].includes(crypto))
    fail('ERR_PEER_ARGUMENT', `--crypto must be auto, libsodium or sodium-native`);
  const bind = list(values.bind);
  const datagram = values['max-datagram-bytes'];
  const maxDatagramBytes = datagram === undefined ? undefined : Number(datagram);
  if (maxDatagramBytes !== undefined && !Number.isSafeInteger(maxDatagramBytes))
    fail('ERR_PEER_ARGUMENT', `--max-datagram-bytes must be an integer`);
  return {
    ...(bind.length > 0 ? { bind } : {}),
    ...(maxDatagramBytes !== undefined ? { maxDatagramBytes } : {}),
    scheduler,
    crypto,
  };
}

/** Path changes and failovers of a session, as `event` lines. */
function watch(session: BraidSession): void {
  session.on('path', (e) => emit({ type: 'event', event: 'path', atMs: nowMs(), ...e }));
  session.on('failover', (e) => emit({ type: 'event', event: 'failover', atMs: nowMs(), ...e }));
  session.on('suspended', () => emit({ type: 'event', event: 'suspended', atMs: nowMs() }));
  session.on('resumed', () => emit({ type: 'event', event: 'resumed', atMs: nowMs() }));
  session.on('closed', (e) => emit({ type: 'event', event: 'closed', atMs: nowMs(), ...e }));
}

async function pathSummary(session: BraidSession) {
  return (await session.paths()).map((p) => ({
    id: p.id,
    local: p.local,
    remote: p.remote,
    status: p.status,
    rttMs: p.rttMs,
    cwndBytes: p.cwndBytes,
    lossRate: p.lossRate,
    packetsSent: p.packetsSent,
    packetsLost: p.packetsLost,
    streamBytesSent: p.streamBytesSent,
    reinjectedBytes: p.reinjectedBytes,
    suspected: p.suspected,
    downs: p.downs,
    recoveries: p.recoveries,
  }));
}

async function receive(client: BraidClient): Promise<void> {
  client.on('session', watch);
  const listener = await client.listen(SERVICE);
  emit({ type: 'ready', eid: client.eid, locators: (await client.status()).locators });
  const stream = await withTimeout(
    (async () => {
      for await (const s of listener) return s;
      return undefined;
    })(),
    IDLE_TIMEOUT_MS,
    'no stream arrived',
  );
  if (!stream) fail('ERR_PEER_NO_STREAM', 'the listener closed before a stream arrived');
  const digest = createHash('sha256');
  const buckets = new Map<number, number>();
  let bytes = 0;
  let nextProgress = PROGRESS_STEP_BYTES;
  const idle = idleGuard(() => `nothing read for ${IDLE_TIMEOUT_MS} ms at ${bytes} bytes`);
  let busy: ReturnType<typeof cpuMeter> | undefined;
  await readAll(stream, (chunk) => {
    busy ??= cpuMeter();
    idle.touch();
    digest.update(chunk);
    bytes += chunk.length;
    if (bytes > BYTES_MAX) fail('ERR_PEER_TOO_MUCH', `more than ${BYTES_MAX} bytes`);
    const bucket = Math.floor(nowMs() / BUCKET_MS);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + chunk.length);
    if (bytes >= nextProgress) {
      emit({ type: 'progress', bytes });
      nextProgress += PROGRESS_STEP_BYTES;
    }
  });
  idle.stop();
  const sha256 = digest.digest('hex');
  stream.end(JSON.stringify({ bytes, sha256 }));
  await once(stream, 'finish');
  const paths = await pathSummary(stream.session);
  emit({ type: 'done', bytes, sha256, buckets: [...buckets.entries()], paths, cpu: busy?.read() });
  // The sender closes the session once it has the answer; wait for that (bounded) so the last
  // acknowledgements reach it, then go.
  const closed = new Promise<void>((resolve) => stream.session.on('closed', () => resolve()));
  await withTimeout(closed, 5_000, 'the sender did not close').catch(() => undefined);
}

async function send(client: BraidClient): Promise<void> {
  const peer = values.peer;
  if (!peer) fail('ERR_PEER_ARGUMENT', '--peer EID is required');
  const total = Number(values.bytes);
  if (!Number.isSafeInteger(total) || total <= 0 || total > BYTES_MAX)
    fail('ERR_PEER_ARGUMENT', `--bytes must be an integer in (0, ${BYTES_MAX}]`);
  const session = await client.openSession(peer, { locators: list(values.locators) });
  watch(session);
  const stream: BraidStream = await session.openStream(SERVICE);
  emit({ type: 'ready', session: session.id });
  const start = nowMs();
  const busy = cpuMeter();
  const block = randomBytes(CHUNK_BYTES);
  const digest = createHash('sha256');
  let sent = 0;
  for (let index = 0; sent < total; index++) {
    // Each chunk is its own buffer: the stream may hold it until the protocol takes it.
    const chunk = Buffer.from(block.subarray(0, Math.min(CHUNK_BYTES, total - sent)));
    chunk.writeBigUInt64BE(BigInt(index), 0);
    digest.update(chunk);
    sent += chunk.length;
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
  stream.end();
  const answer: Buffer[] = [];
  let answerBytes = 0;
  await readAll(stream, (chunk) => {
    answerBytes += chunk.length;
    if (answerBytes > ANSWER_BYTES_MAX) fail('ERR_PEER_ANSWER', 'the answer is too long');
    answer.push(chunk);
  });
  const elapsedMs = nowMs() - start;
  let receiver: { bytes?: unknown; sha256?: unknown };
  try {
    receiver = JSON.parse(Buffer.concat(answer).toString('utf8')) as typeof receiver;
  } catch {
    fail('ERR_PEER_ANSWER', `unreadable answer from the receiver`);
  }
  const paths = await pathSummary(session);
  const stats = await session.stats();
  emit({
    type: 'done',
    bytes: sent,
    sha256: digest.digest('hex'),
    receiverBytes: receiver.bytes,
    receiverSha256: receiver.sha256,
    elapsedMs,
    cpu: busy.read(),
    paths,
    stats,
  });
  await session.close('transfer done');
}

/**
 * Reads `stream` to its end. Not `for await`: its iterator destroys the stream when the
 * readable side ends, and the receiver still has its answer to write on the other side.
 */
function readAll(stream: BraidStream, onChunk: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.on('data', onChunk);
    stream.once('end', resolve);
    stream.once('error', reject);
    stream.once('close', () => reject(new Error('the stream closed before its end')));
  });
}

/** CPU time this process used since the call, as a share of the wall time (1 = one core). */
function cpuMeter() {
  const startMs = nowMs();
  const start = process.cpuUsage();
  return {
    read: () => {
      const used = process.cpuUsage(start);
      const wallMs = nowMs() - startMs;
      return {
        userMs: used.user / 1000,
        systemMs: used.system / 1000,
        wallMs,
        cores: (used.user + used.system) / 1000 / wallMs,
      };
    },
  };
}

function idleGuard(message: () => string) {
  let last = nowMs();
  const timer = setInterval(() => {
    if (nowMs() - last > IDLE_TIMEOUT_MS) fail('ERR_PEER_IDLE', message());
  }, 1_000);
  return {
    touch: () => {
      last = nowMs();
    },
    stop: () => clearInterval(timer),
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const mode = positionals[0];
if (mode !== 'send' && mode !== 'receive')
  fail('ERR_PEER_ARGUMENT', 'usage: braid-peer send|receive --bind LOCATORS …');
let client: BraidClient | undefined;
const stop = () => {
  void (client?.close() ?? Promise.resolve()).finally(() => process.exit(143));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
try {
  client = values.daemon
    ? await daemonClient(values.daemon)
    : await openEndpoint(endpointOptions());
  await (mode === 'send' ? send(client) : receive(client));
  await client.close();
  process.exit(0);
} catch (err) {
  const e = err as { code?: string; message?: string };
  fail(e.code ?? 'ERR_PEER_FAILED', e.message ?? String(err));
}
