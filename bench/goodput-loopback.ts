/**
 * goodput-loopback: one bulk stream between two endpoints in separate processes over loopback
 * UDP, beside the same transfer on `udx-native` (reliable, congestion-controlled UDP streams in
 * native code, no encryption) and raw `dgram` blasting (fixed 1,400-byte datagrams, no
 * reliability, no congestion control: the ceiling of Node's UDP sockets here), in the same run.
 *
 * - Braid: `@braid/endpoint` on both sides, 1,400-byte packets (`maxDatagramBytes`), encrypted
 *   (ChaCha20-Poly1305 on the backend `crypto: 'auto'` picks; BRAID_CRYPTO=libsodium or
 *   sodium-native forces one), one session, one stream.
 * - udx-native: one stream per side on its own socket; udx chooses its packet size itself (MTU
 *   probing; the one it ended with is noted).
 * - dgram: the sender sends TRANSFER_BYTES in 1,400-byte datagrams as fast as its socket takes
 *   them; the receiver counts what arrives. Goodput is what arrived over the time between the
 *   first and the last datagram (what the kernel dropped is noted), and the sender's CPU per
 *   datagram is the floor under any sender on Node's dgram here.
 *
 * Goodput is measured at the receiver, from its first byte to its last; handshakes and
 * connection setup are outside the timed part. Receivers check every 4099th byte and the total
 * length (a wrong byte fails the benchmark). The three transfers run one after the other in
 * an order that rotates with the run index, so none always goes first.
 *
 * Profiling: with BRAID_BENCH_CPU_PROF=<dir>, each worker profiles its transfer alone (from `go`,
 * or the receiver's first byte, to its end: no module loading or handshake) and writes
 * `<dir>/<kind>-<role>-<pid>.cpuprofile`. BRAID_BENCH_HEAP_PROF=<dir> does the same with V8's
 * sampling heap profiler (`.heapprofile`: what the transfer allocates, collected or not), and
 * BRAID_BENCH_STATS=1 prints the Braid sender's session stats to stderr.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Benchmark, BenchRunResult, Measurement } from './types.js';

/**
 * 256 MiB: the transfer lasts a few seconds, so what it measures is the steady state of a bulk
 * stream. A 64 MiB one lasts about a second, most of it before V8 has optimized the packet path
 * (its optimizing compiles of the send and receive paths take 50-80 ms each, on the same two
 * cores), and measured 0.36x udx-native where this measures 0.46x (docs/operations.md).
 */
const TRANSFER_BYTES = 256 << 20;
const WORKER = fileURLToPath(new URL('./goodput-loopback-worker.ts', import.meta.url));
/** A transfer that has not finished after this long fails the run (a stall, not a slow run). */
const TRANSFER_TIMEOUT_MS = 120_000;
/** How long the dgram receiver is given after the sender's last datagram. */
const DGRAM_SETTLE_MS = 200;

type Kind = 'braid' | 'udx' | 'dgram';
const NAMES: Record<Kind, string> = { braid: 'braid', udx: 'udx-native', dgram: 'dgram blast' };
interface WorkerMessage {
  type: string;
  [key: string]: unknown;
}

class Worker {
  private readonly child: ChildProcess;
  private readonly inbox: WorkerMessage[] = [];
  private wake: (() => void) | undefined;
  private exited: string | undefined;

  constructor(kind: Kind, role: 'recv' | 'send') {
    this.child = fork(WORKER, [kind, role, String(TRANSFER_BYTES)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: WorkerMessage) => {
      this.inbox.push(m);
      this.wake?.();
    });
    this.child.on('exit', (code, signal) => {
      this.exited = `${kind} ${role} worker exited (${signal ?? code})`;
      this.wake?.();
    });
  }

  send(m: object): void {
    this.child.send(m);
  }

  async next(type: string, timeoutMs = TRANSFER_TIMEOUT_MS): Promise<WorkerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const error = this.inbox.find((m) => m.type === 'error');
      if (error) throw new Error(`goodput-loopback worker: ${String(error.message)}`);
      const i = this.inbox.findIndex((m) => m.type === type);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      if (this.exited) throw new Error(`goodput-loopback: ${this.exited} before "${type}"`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`goodput-loopback: no "${type}" after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Asks the worker to exit, and kills it (by PID, this one only) if it does not. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      this.child.send({ type: 'exit' });
    } catch {
      // The channel is closed already.
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  }
}

interface TransferResult {
  mbPerS: number;
  /** Extra metrics of this transfer (loss). */
  extra: Record<string, Measurement>;
  notes: string[];
}

async function transfer(kind: Kind): Promise<TransferResult> {
  const recv = new Worker(kind, 'recv');
  const sender = new Worker(kind, 'send');
  try {
    const ready = await recv.next('ready');
    sender.send({ ...ready, type: 'peer' });
    const senderReady = await sender.next('ready');
    if (kind === 'udx') {
      recv.send({ ...senderReady, type: 'peer' });
      await recv.next('connected');
    }
    sender.send({ type: 'go' });
    const sent = await sender.next('done');
    if (kind === 'dgram') {
      await new Promise((resolve) => setTimeout(resolve, DGRAM_SETTLE_MS));
      recv.send({ type: 'report' });
    }
    const got = await recv.next('done');
    const bytes = Number(got.bytes);
    const mbPerS = bytes / 1e6 / (Number(got.ms) / 1000);
    const notes: string[] = [];
    const extra: Record<string, Measurement> = {};
    // CPU efficiency: what one CPU-second of each side moves. Less sensitive than goodput to
    // other load on the machine, and it says which side limits.
    const mb = bytes / 1e6;
    if (kind !== 'dgram') {
      extra[`${NAMES[kind]} sender MB per CPU-s`] = {
        value: mb / (Number(sent.cpuMs) / 1000),
        unit: 'MB',
      };
      extra[`${NAMES[kind]} receiver MB per CPU-s`] = {
        value: mb / (Number(got.cpuMs) / 1000),
        unit: 'MB',
      };
    }
    if (kind === 'braid') {
      notes.push(
        `braid: crypto ${String(ready.crypto)} (receiver), ${String(sent.crypto)} (sender)`,
      );
      extra['braid packets lost'] = {
        value: (100 * Number(sent.packetsLost)) / Number(sent.packetsSent),
        unit: '%',
      };
    }
    if (kind === 'udx') notes.push(`udx-native: packet size (mtu) ${String(got.mtu)} bytes`);
    if (kind === 'dgram') {
      extra['dgram blast dropped'] = {
        value: 100 * (1 - Number(got.datagrams) / Number(sent.datagrams)),
        unit: '%',
      };
      // The floor under any sender on Node's dgram: the CPU one 1,400-byte send costs here
      // (most of it the kernel's loopback delivery, which runs in the sender's syscall).
      extra['dgram blast sender CPU per datagram'] = {
        value: (1000 * Number(sent.cpuMs)) / Number(sent.datagrams),
        unit: 'µs',
      };
    }
    return { mbPerS, extra, notes };
  } finally {
    await Promise.all([recv.stop(), sender.stop()]);
  }
}

export const goodputLoopback: Benchmark = {
  name: 'goodput-loopback',
  description: `one bulk stream of ${TRANSFER_BYTES >> 20} MiB between two processes over loopback UDP, 1,400-byte packets, encrypted; vs udx-native and raw dgram`,
  ratios: [
    { name: 'braid / udx-native', numerator: 'braid', denominator: 'udx-native', targetMin: 1.0 },
    { name: 'braid / dgram blast', numerator: 'braid', denominator: 'dgram blast' },
    { name: 'udx-native / dgram blast', numerator: 'udx-native', denominator: 'dgram blast' },
    {
      name: 'braid / udx-native, sender CPU efficiency',
      numerator: 'braid sender MB per CPU-s',
      denominator: 'udx-native sender MB per CPU-s',
    },
    {
      name: 'braid / udx-native, receiver CPU efficiency',
      numerator: 'braid receiver MB per CPU-s',
      denominator: 'udx-native receiver MB per CPU-s',
    },
  ],
  async run({ runIndex }): Promise<BenchRunResult> {
    const kinds: Kind[] = ['braid', 'udx', 'dgram'];
    const order = kinds.map((_, i) => kinds[(i + runIndex) % kinds.length]!);
    const metrics: Record<string, Measurement> = {};
    const notes: string[] = [];
    for (const kind of order) {
      const r = await transfer(kind);
      metrics[NAMES[kind]] = { value: r.mbPerS, unit: 'MB/s' };
      Object.assign(metrics, r.extra);
      notes.push(...r.notes);
    }
    return { metrics, notes };
  },
};
