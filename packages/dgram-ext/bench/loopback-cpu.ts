// CPU per datagram of each way to move 1,400-byte datagrams over loopback between two
// processes: node:dgram, the addon's sendto / sendmmsg / GSO sends, and its recvmmsg / GRO
// receive. The sender blasts (no pacing); the receiver counts what the kernel delivered, so a
// receiver slower than its sender shows as loss. CPU is process.cpuUsage (user + system, all
// threads) over the sender's send loop and over the receiver's whole transfer.
//
//   npx tsx packages/dgram-ext/bench/loopback-cpu.ts [--runs 3] [--datagrams 500000]
//     [--rate MBps (default 0: blast)] [--only NAME]
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { openSocket, type DgramExtSocket } from '../src/index.js';

const SEGMENT_BYTES = 1400;
const RECV_BUFFER_BYTES = 4 * 1024 * 1024; // net.core.rmem_max here; the same for every mode
const DGRAM_BLAST_BATCH = 64; // datagrams between two waits for node:dgram's send callbacks
const QUIET_MS = 150; // the receiver reports once nothing arrived for this long

type SendMode = 'dgram' | 'sendto' | `mmsg${number}` | `gso${number}`;
type RecvMode = 'dgram' | 'recvmmsg' | 'gro';
interface Report {
  datagrams: number;
  cpuUs: number;
  syscalls: number;
  bad: number;
}

const cpuUsSince = (start: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(start);
  return d.user + d.system;
};

function nextMessage<T>(): Promise<T> {
  return new Promise((resolve) => process.once('message', (m) => resolve(m as T)));
}

/** The last word of a child: sent before the process may exit (process.send is async). */
function finish(report: Report): Promise<void> {
  return new Promise((resolve) =>
    process.send!(report, () => {
      process.disconnect();
      resolve();
    }),
  );
}

/** Tells the parent this process is set up, and waits for its go. */
function ready(): Promise<unknown> {
  const go = nextMessage();
  process.send!({ ready: true });
  return go;
}

async function receiver(mode: RecvMode): Promise<void> {
  let datagrams = 0;
  let bad = 0;
  let close: () => void;
  let syscalls: () => number;
  let port: number;
  if (mode === 'dgram') {
    const socket = createSocket({ type: 'udp4', recvBufferSize: RECV_BUFFER_BYTES });
    let calls = 0;
    socket.on('message', (msg) => {
      calls++;
      datagrams++;
      if (msg.length !== SEGMENT_BYTES) bad++;
    });
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    port = socket.address().port;
    close = () => socket.close();
    syscalls = () => calls;
  } else {
    const socket = await openSocket({
      type: 'udp4',
      address: '127.0.0.1',
      implementation: 'native',
      gro: mode === 'gro',
      recvBufferSize: RECV_BUFFER_BYTES,
      onBatch: (b) => {
        datagrams += b.count;
        for (let i = 0; i < b.count; i++) if (b.segments[2 * i + 1] !== SEGMENT_BYTES) bad++;
      },
    });
    port = socket.address().port;
    close = () => socket.close();
    syscalls = () => socket.stats().recvCalls;
  }
  const start = nextMessage();
  process.send!({ port });
  await start;
  const cpu = process.cpuUsage();
  await nextMessage(); // the sender is done
  let seen = -1;
  while (seen !== datagrams) {
    seen = datagrams;
    await new Promise((r) => setTimeout(r, QUIET_MS));
  }
  const report: Report = { datagrams, cpuUs: cpuUsSince(cpu), syscalls: syscalls(), bad };
  close();
  await finish(report);
}

/**
 * Pacing for `--rate MBps`: after each burst of PACE_BURST_BYTES the sender sleeps until the
 * rate allows more. Sleeping costs no CPU, so CPU per datagram stays comparable with blasting,
 * while the receiver is not flooded past its socket buffer.
 */
const PACE_BURST_BYTES = 1024 * 1024;
function pacer(rateMBps: number): (sentDatagrams: number) => Promise<void> | undefined {
  const start = performance.now();
  let nextCheck = PACE_BURST_BYTES;
  return (sentDatagrams) => {
    const bytes = sentDatagrams * SEGMENT_BYTES;
    if (rateMBps <= 0 || bytes < nextCheck) return undefined;
    nextCheck = bytes + PACE_BURST_BYTES;
    const dueMs = bytes / (rateMBps * 1000) - (performance.now() - start);
    return dueMs > 0 ? new Promise((r) => setTimeout(r, dueMs)) : undefined;
  };
}

async function sender(
  mode: SendMode,
  port: number,
  total: number,
  rateMBps: number,
): Promise<void> {
  const payload = new Uint8Array(64 * SEGMENT_BYTES).map((_, i) => (i * 31 + 7) & 0xff);
  const host = '127.0.0.1';
  let sent = 0;
  let syscalls = 0;
  let cpu: NodeJS.CpuUsage;
  if (mode === 'dgram') {
    const socket = createSocket('udp4');
    socket.bind(0, host);
    await once(socket, 'listening');
    await ready();
    cpu = process.cpuUsage();
    const datagram = payload.subarray(0, SEGMENT_BYTES);
    const pace = pacer(rateMBps);
    while (sent < total) {
      await pace(sent);
      const batch = Math.min(DGRAM_BLAST_BATCH, total - sent);
      await new Promise<void>((resolve, reject) => {
        for (let i = 0; i < batch; i++) {
          const last = i === batch - 1;
          socket.send(datagram, port, host, (err) => {
            if (err) reject(err);
            else if (last) resolve();
          });
        }
      });
      sent += batch;
    }
    syscalls = sent;
    const cpuUs = cpuUsSince(cpu);
    socket.close();
    await finish({ datagrams: sent, cpuUs, syscalls, bad: 0 });
    return;
  }
  const socket: DgramExtSocket = await openSocket({
    type: 'udp4',
    address: host,
    implementation: 'native',
    onBatch: () => {},
  });
  const per = mode === 'sendto' ? 1 : Number(mode.slice(mode.startsWith('gso') ? 3 : 4));
  const train = payload.subarray(0, per * SEGMENT_BYTES);
  const slices = Array.from({ length: per }, (_, i) =>
    payload.subarray(i * SEGMENT_BYTES, (i + 1) * SEGMENT_BYTES),
  );
  await ready();
  cpu = process.cpuUsage();
  const pace = pacer(rateMBps);
  while (sent < total) {
    const wait = pace(sent);
    if (wait) await wait;
    try {
      if (mode === 'sendto') {
        socket.send(train, port, host);
        sent++;
      } else if (mode.startsWith('gso')) {
        sent += socket.sendSegments(train, SEGMENT_BYTES, port, host);
      } else {
        sent += socket.sendBatch(slices, port, host);
      }
    } catch (err) {
      // A full send buffer (EAGAIN/ENOBUFS) waits for the loop; anything else is a bug here.
      const code = (err as { code?: string }).code;
      if (code !== 'EAGAIN' && code !== 'ENOBUFS') throw err;
      sent += (err as { datagramsSent: number }).datagramsSent;
      await new Promise((r) => setImmediate(r));
    }
  }
  const cpuUs = cpuUsSince(cpu);
  syscalls = socket.stats().sendCalls;
  socket.close();
  await finish({ datagrams: sent, cpuUs, syscalls, bad: 0 });
}

const CONFIGS: [SendMode, RecvMode][] = [
  ['dgram', 'dgram'],
  ['dgram', 'recvmmsg'],
  ['sendto', 'recvmmsg'],
  ['mmsg16', 'recvmmsg'],
  ['mmsg32', 'recvmmsg'],
  ['gso16', 'gro'],
  ['gso32', 'gro'],
  ['gso44', 'gro'],
  ['gso44', 'recvmmsg'],
  ['gso44', 'dgram'],
];

function child(args: string[]) {
  return fork(fileURLToPath(import.meta.url), args, { stdio: 'inherit' });
}

async function runOnce(send: SendMode, recv: RecvMode, total: number, rateMBps: number) {
  const rx = child(['receive', recv]);
  const rxExit = once(rx, 'exit');
  const { port } = (await once(rx, 'message'))[0] as { port: number };
  const tx = child(['send', send, String(port), String(total), String(rateMBps)]);
  const txExit = once(tx, 'exit');
  await once(tx, 'message'); // ready
  await new Promise((r) => setTimeout(r, 100)); // both processes idle
  rx.send('start');
  tx.send('go');
  const sent = (await once(tx, 'message'))[0] as Report;
  rx.send('done');
  const got = (await once(rx, 'message'))[0] as Report;
  await Promise.all([txExit, rxExit]);
  return { sent, got };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const arg = (name: string, fallback: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1]! : fallback;
  };
  const runs = Number(arg('--runs', '3'));
  const total = Number(arg('--datagrams', '500000'));
  const only = arg('--only', '');
  const rateMBps = Number(arg('--rate', '0'));
  console.log(
    `${total} datagrams of ${SEGMENT_BYTES} bytes, ${rateMBps ? `paced at ${rateMBps} MB/s` : 'blasting'}, ${runs} runs, medians (min–max)`,
  );
  console.log(
    'sender -> receiver        | send µs/dgram      | recv µs/dgram      | delivered | dgrams/syscall tx rx',
  );
  for (const [send, recv] of CONFIGS) {
    const name = `${send} -> ${recv}`;
    if (only && !name.includes(only)) continue;
    const tx: number[] = [];
    const rx: number[] = [];
    const delivered: number[] = [];
    const per: [number, number][] = [];
    for (let r = 0; r < runs; r++) {
      const { sent, got } = await runOnce(send, recv, total, rateMBps);
      if (got.bad) throw new Error(`${name}: ${got.bad} datagrams of the wrong length`);
      tx.push(sent.cpuUs / sent.datagrams);
      rx.push(got.cpuUs / Math.max(1, got.datagrams));
      delivered.push(got.datagrams / sent.datagrams);
      per.push([sent.datagrams / sent.syscalls, got.datagrams / Math.max(1, got.syscalls)]);
    }
    const fmt = (xs: number[]) =>
      `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`.padEnd(
        18,
      );
    console.log(
      `${name.padEnd(25)} | ${fmt(tx)} | ${fmt(rx)} | ${(median(delivered) * 100).toFixed(1).padStart(8)}% | ${median(per.map((p) => p[0])).toFixed(1)} ${median(per.map((p) => p[1])).toFixed(1)}`,
    );
  }
}

const [role, ...rest] = process.argv.slice(2);
if (role === 'receive') await receiver(rest[0] as RecvMode);
else if (role === 'send') {
  await sender(rest[0] as SendMode, Number(rest[1]), Number(rest[2]), Number(rest[3]));
} else await main();
