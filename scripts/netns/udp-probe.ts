/**
 * A UDP echo and pinger for checking the lab's links and faults, speaking the lab peers'
 * JSON-line protocol (peer-process.ts):
 *
 *   node udp-probe.js echo --port 7000
 *     echoes every datagram (IPv4 and IPv6); reports each new source address as {"type":"event","from":…}
 *   node udp-probe.js ping --to 198.51.100.2:7000 [--bind 198.51.100.1:7001] --count 50
 *     sends numbered datagrams one at a time, each waiting up to --wait-ms for its echo;
 *     done: {"type":"done","sent":N,"received":N,"sendErrors":N} (sends the kernel refused)
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { parseArgs } from 'node:util';

/** Distinct sources the echo reports; more are echoed but not reported. */
const SOURCES_REPORTED_MAX = 1_000;
const COUNT_MAX = 100_000;

function emit(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

function fail(code: string, message: string): never {
  emit({ type: 'error', code, message });
  process.exit(1);
}

function splitHostPort(text: string): { host: string; port: number } {
  const m = /^\[?([0-9a-fA-F.:]+)\]?:([0-9]{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65_535) fail('ERR_PROBE_ARGUMENT', `"${text}" is not address:port`);
  return { host: m[1]!, port: Number(m[2]) };
}

function boundSocket(host: string, port: number): Promise<Socket> {
  const socket = host.includes(':')
    ? createSocket({ type: 'udp6', ipv6Only: true })
    : createSocket('udp4');
  return new Promise((resolve) => {
    socket.once('error', (err) => fail('ERR_PROBE_BIND', `${host}:${port}: ${err.message}`));
    socket.bind(port, host, () => resolve(socket));
  });
}

async function echo(port: number): Promise<void> {
  const sockets = [await boundSocket('0.0.0.0', port), await boundSocket('::', port)];
  const seen = new Set<string>();
  for (const socket of sockets)
    socket.on('message', (msg: Buffer, from: RemoteInfo) => {
      const source =
        from.family === 'IPv6' ? `[${from.address}]:${from.port}` : `${from.address}:${from.port}`;
      if (!seen.has(source) && seen.size < SOURCES_REPORTED_MAX) {
        seen.add(source);
        emit({ type: 'event', from: source });
      }
      socket.send(msg, from.port, from.address);
    });
  emit({ type: 'ready', port });
  const stop = () => {
    for (const socket of sockets) socket.close();
    emit({ type: 'done', sources: [...seen] });
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function ping(to: string, bind: string | undefined, count: number, waitMs: number) {
  const target = splitHostPort(to);
  const local = bind ? splitHostPort(bind) : { host: '0.0.0.0', port: 0 };
  const socket = await boundSocket(local.host, local.port);
  emit({ type: 'ready' });
  let received = 0;
  let sendErrors = 0;
  let awaiting: { seq: number; resolve: (got: boolean) => void } | undefined;
  socket.on('message', (msg: Buffer) => {
    if (awaiting && msg.length === 4 && msg.readUInt32BE(0) === awaiting.seq)
      awaiting.resolve(true);
  });
  socket.on('error', () => {
    // A send to an unreachable network fails; that datagram is simply not answered.
  });
  for (let seq = 0; seq < count; seq++) {
    const got = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), waitMs);
      awaiting = {
        seq,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
      };
      const payload = Buffer.alloc(4);
      payload.writeUInt32BE(seq, 0);
      socket.send(payload, target.port, target.host, (err) => {
        if (err) {
          sendErrors++;
          awaiting?.resolve(false);
        }
      });
    });
    awaiting = undefined;
    if (got) received++;
  }
  socket.close();
  emit({ type: 'done', sent: count, received, sendErrors });
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string' },
    to: { type: 'string' },
    bind: { type: 'string' },
    count: { type: 'string', default: '20' },
    'wait-ms': { type: 'string', default: '200' },
  },
});

const intIn = (text: string, min: number, max: number, name: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    fail('ERR_PROBE_ARGUMENT', `--${name} must be an integer in [${min}, ${max}]`);
  return n;
};

if (positionals[0] === 'echo') {
  await echo(intIn(values.port ?? '', 1, 65_535, 'port'));
} else if (positionals[0] === 'ping' && values.to) {
  await ping(
    values.to,
    values.bind,
    intIn(values.count, 1, COUNT_MAX, 'count'),
    intIn(values['wait-ms'], 1, 60_000, 'wait-ms'),
  );
} else {
  fail('ERR_PROBE_ARGUMENT', 'usage: udp-probe echo --port P | ping --to HOST:PORT [--count N]');
}
