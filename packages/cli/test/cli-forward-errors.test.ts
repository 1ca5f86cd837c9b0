/**
 * What goes wrong around `braid forward` / `braid expose`, and what a shell user sees: a local
 * port that is taken (EADDRINUSE, exit 1), a service or peer that does not exist and a target
 * that refuses (each connection reset and logged, the command keeps running), the connection
 * limit, an unreachable peer, bad arguments (exit 2), a service exposed twice, Ctrl-C on expose
 * (the service goes away), and braidd stopping under either command (exit 1).
 */
import t from 'tap';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Eid } from '@braid/protocol';
import {
  echoWithTrailer,
  holdClient,
  reported,
  startBraid,
  tcpExchange,
  tcpServer,
} from './support/forward.js';
import { runBraid, spawnBraid, twoDaemons } from './support/run.js';

t.setTimeout(300_000); // a bound on a hang; nothing here is timed

t.test('a local port that is taken: EADDRINUSE named, exit 1', async (t) => {
  const [a, b] = await twoDaemons(t);
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.teardown(() => new Promise((r) => taken.close(r)));
  const port = (taken.address() as AddressInfo).port;
  const r = await runBraid(['--socket', a.socketPath, 'forward', String(port), b.eid, 'web']);
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, `cannot listen on 127.0.0.1:${port}`);
  t.match(r.stderr, /EADDRINUSE/);
  t.match(r.stderr, /ERR_BRAID_FORWARD_ADDRESS_IN_USE/);
  t.equal(r.stdout, '', 'no listening line');
});

t.test('bad arguments are usage errors (exit 2), before any daemon is asked', async (t) => {
  const eid = new Eid(new Uint8Array(16).fill(7)).toString();
  for (const [args, pattern] of [
    [['forward', '70000', eid, 'web'], /bad local port "70000"/],
    [['forward', '8080', 'braid1nope', 'web'], /bad peer EID/],
    [['forward', '8080', eid, 'no/slash'], /bad service name/],
    [['forward', '--bind', 'example.org', '8080', eid, 'web'], /bad --bind address/],
    [['forward', '--max-connections', '0', '8080', eid, 'web'], /bad --max-connections/],
    [['expose', 'web', 'localhost'], /bad target "localhost"/],
    [['expose', 'web', '127.0.0.1:0'], /bad target/],
    [['expose', 'web', '[127.0.0.1]:80'], /brackets are for IPv6/],
    [['expose', 'x'.repeat(65), '8080'], /bad service name/],
  ] as const) {
    const r = await runBraid(['--socket', '/nonexistent/braidd.sock', ...args]);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, pattern, args.join(' '));
  }
});

t.test(
  'unknown service or peer: each connection is reset, the forward keeps running',
  async (t) => {
    const [a, b] = await twoDaemons(t);
    const forward = startBraid(t, a.socketPath, ['forward', '0', b.eid, 'nobody-here']);
    const { port } = await forward.waitFor('listening');
    for (const n of [1, 2]) {
      const r = await tcpExchange(port as number, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
      t.equal(r.error?.code, 'ECONNRESET', `connection ${n} is reset`);
      t.equal(r.bytes.length, 0, 'and got nothing');
      const refused = await forward.waitFor('refused', (e) => e.connection === n);
      t.equal(refused.code, 'ERR_BRAID_SERVICE_UNKNOWN', `connection ${n}: the peer's refusal`);
    }
    t.equal(forward.child.exitCode, null, 'still running');

    // A peer nobody knows where to find (no locators): refused at once, same story.
    const stranger = new Eid(randomBytes(16)).toString();
    const lost = startBraid(t, a.socketPath, ['forward', '0', stranger, 'web']);
    const listening = await lost.waitFor('listening');
    const r = await tcpExchange(listening.port as number, Buffer.from('hello'));
    t.equal(r.error?.code, 'ECONNRESET', 'the connection to an unknown peer is reset');
    const refused = await lost.waitFor('refused');
    t.equal(refused.code, 'ERR_BRAID_PEER_UNKNOWN');
    t.match(refused.message, /no locator is known/);
    const stopped = await lost.interrupt();
    t.equal(stopped.code, 130);
    await forward.interrupt();
  },
);

t.test('an unreachable peer: reset once the handshake gives up, the forward goes on', async (t) => {
  // A short connect timeout so the test does not wait braidd's default (15 s) out.
  const [a] = await twoDaemons(t, { protocol: { connectTimeoutMs: 1_000 } });
  const silent = new Eid(randomBytes(16)).toString();
  // 127.0.0.9:9: nothing answers there (a port nothing listens on, on a loopback address).
  const forward = startBraid(t, a.socketPath, [
    'forward',
    '0',
    silent,
    'web',
    '--locators',
    '127.0.0.9:9',
  ]);
  const port = (await forward.waitFor('listening')).port as number;
  const r = await tcpExchange(port, Buffer.from('hello'));
  t.equal(r.error?.code, 'ECONNRESET', 'the connection is reset');
  const refused = await forward.waitFor('refused');
  t.equal(refused.code, 'ERR_BRAID_HANDSHAKE_TIMEOUT');
  t.match(refused.message, /127\.0\.0\.9:9/, 'the message names the locator tried');
  t.equal(forward.child.exitCode, null, 'still running');
});

t.test('unknown service, text mode: one line on stderr per connection', async (t) => {
  const [a, b] = await twoDaemons(t);
  const { child, exited } = spawnBraid(t, [
    '--socket',
    a.socketPath,
    'forward',
    '0',
    b.eid,
    'nobody-here',
  ]);
  // stderr is read from the start: the line can come while the exchange below is awaited, and
  // the stream already flows (spawnBraid collects it), so a listener added later misses it.
  let err = '';
  const errLine = new Promise<void>((resolve) =>
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('\n')) resolve();
    }),
  );
  let out = '';
  const listening = await new Promise<number>((resolve) =>
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m =
        /^forwarding 127\.0\.0\.1:(\d+) to service nobody-here on braid1\w+ \(Ctrl-C to stop\)$/m.exec(
          out,
        );
      if (m) resolve(Number(m[1]));
    }),
  );
  const r = await tcpExchange(listening, Buffer.from('x'));
  t.equal(r.error?.code, 'ECONNRESET');
  await errLine;
  t.match(
    err,
    /^braid forward: connection 1 from 127\.0\.0\.1:\d+: .* \(ERR_BRAID_SERVICE_UNKNOWN\); reset\n$/,
  );
  child.kill('SIGINT');
  t.equal((await exited).code, 130);
});

t.test('a target that refuses: the stream is reset, the client sees a reset', async (t) => {
  const [a, b] = await twoDaemons(t);
  // A port nothing listens on: taken, then freed.
  const gone = createServer();
  gone.listen(0, '127.0.0.1');
  await once(gone, 'listening');
  const deadPort = (gone.address() as AddressInfo).port;
  await new Promise((r) => gone.close(r));

  const expose = startBraid(t, b.socketPath, ['expose', 'dead', `127.0.0.1:${deadPort}`]);
  await expose.waitFor('listening');
  const forward = startBraid(t, a.socketPath, ['forward', '0', b.eid, 'dead']);
  const { port } = await forward.waitFor('listening');
  const r = await tcpExchange(port as number, Buffer.from('anyone there?'));
  t.equal(r.error?.code, 'ECONNRESET', 'the client is reset');
  t.equal(r.bytes.length, 0);
  const refused = await expose.waitFor('refused');
  t.equal(refused.code, 'ECONNREFUSED', 'expose: the target refused');
  t.match(refused.message, `cannot connect to 127.0.0.1:${deadPort}`);
  // The reset reaches forward after the stream was accepted (a `close` with the reset) or,
  // when expose's refusal is quicker than the acceptance, while it is still opening (`refused`):
  // both happen, depending on timing (CI saw the second).
  const closed = await forward.waitFor(['close', 'refused']);
  t.equal(closed.code, 'ERR_BRAID_STREAM_RESET', `forward: the stream was reset (${closed.event})`);
  t.equal(expose.child.exitCode, null, 'expose keeps running');
  t.equal(forward.child.exitCode, null, 'forward keeps running');
});

t.test('--max-connections: one over the limit is closed, the others carry on', async (t) => {
  const [a, b] = await twoDaemons(t);
  const echo = await tcpServer(t, echoWithTrailer);
  const expose = startBraid(t, b.socketPath, ['expose', 'echo', String(echo.port)]);
  await expose.waitFor('listening');
  const forward = startBraid(t, a.socketPath, [
    'forward',
    '--max-connections',
    '2',
    '0',
    b.eid,
    'echo',
  ]);
  const port = (await forward.waitFor('listening')).port as number;

  // Two connections held open, each shown to work (its echo came back).
  const held = [holdClient(port), holdClient(port)];
  for (const [i, c] of held.entries()) {
    c.socket.write(`hello ${i}`);
    await c.receivedAtLeast(7);
    t.equal(c.received().toString(), `hello ${i}`, `connection ${i + 1} works`);
  }
  const third = holdClient(port);
  const thirdEnd = await third.endedOrClosed;
  t.equal(thirdEnd.bytes.length, 0, 'the third is closed at once, with nothing');
  third.socket.destroy();
  const dropped = await forward.waitFor('dropped');
  t.equal(dropped.open, 2, 'logged as dropped with two open');

  // One of the two ends: there is room again.
  held[0]!.socket.end();
  const first = await held[0]!.closed;
  t.equal(first.bytes.toString(), 'hello 0\nbytes=7\n', 'the first ended normally');
  await forward.waitFor('close', (e) => e.connection === 1);
  const fourth = holdClient(port);
  fourth.socket.write('again');
  await fourth.receivedAtLeast(5);
  t.equal(fourth.received().toString(), 'again', 'a new connection works once one closed');
  held[1]!.socket.end();
  fourth.socket.end();
  await Promise.all([held[1]!.closed, fourth.closed]);
});

t.test('expose --max-connections: a stream over the limit is reset', async (t) => {
  const [a, b] = await twoDaemons(t);
  const echo = await tcpServer(t, echoWithTrailer);
  const expose = startBraid(t, b.socketPath, [
    'expose',
    '--max-connections',
    '1',
    'echo',
    `127.0.0.1:${echo.port}`,
  ]);
  await expose.waitFor('listening');
  const forward = startBraid(t, a.socketPath, ['forward', '0', b.eid, 'echo']);
  const port = (await forward.waitFor('listening')).port as number;
  const one = holdClient(port);
  one.socket.write('one');
  await one.receivedAtLeast(3);
  const two = await tcpExchange(port, Buffer.from('two'));
  t.equal(
    two.error?.code,
    'ECONNRESET',
    `the second connection is reset (${reported({ forward, expose })})`,
  );
  t.equal(two.bytes.length, 0);
  const dropped = await expose.waitFor('dropped');
  t.equal(dropped.open, 1);
  t.equal(dropped.from, a.eid, 'logged with the peer it came from');
  one.socket.end();
  const closedOne = await one.closed;
  t.equal(
    closedOne.bytes.toString(),
    'one\nbytes=3\n',
    `the first was unharmed (${closedOne.error?.code ?? 'no error'}; ${reported({ forward, expose })})`,
  );
});

t.test('a service exposed twice is refused; Ctrl-C on expose unregisters it', async (t) => {
  const [a, b] = await twoDaemons(t);
  const echo = await tcpServer(t, echoWithTrailer);
  const expose = startBraid(t, b.socketPath, ['expose', 'echo', String(echo.port)]);
  await expose.waitFor('listening');
  const forward = startBraid(t, a.socketPath, ['forward', '0', b.eid, 'echo']);
  const port = (await forward.waitFor('listening')).port as number;
  const before = await tcpExchange(port, Buffer.from('ping'));
  t.equal(before.bytes.toString(), 'ping\nbytes=4\n', 'served while exposed');
  const twice = await runBraid(['--socket', b.socketPath, 'expose', 'echo', String(echo.port)]);
  t.equal(twice.code, 1, 'a second expose of the same service fails');
  t.match(twice.stderr, /ERR_BRAID_SERVICE_IN_USE/);
  t.equal((await expose.interrupt()).code, 130, 'expose stops on Ctrl-C');
  const after = await tcpExchange(port, Buffer.from('ping'));
  t.equal(after.error?.code, 'ECONNRESET', 'then a connection is reset');
  const refused = await forward.waitFor('refused');
  t.equal(refused.code, 'ERR_BRAID_SERVICE_UNKNOWN', 'because the service is gone');
});

t.test('braidd stops under a forward or an expose: it exits 1 with the reason', async (t) => {
  const [a, b] = await twoDaemons(t);
  const echo = await tcpServer(t, echoWithTrailer);
  const forward = startBraid(t, a.socketPath, ['forward', '0', b.eid, 'echo']);
  const expose = startBraid(t, b.socketPath, ['expose', 'echo', String(echo.port)]);
  await forward.waitFor('listening');
  await expose.waitFor('listening');
  process.kill(a.pid, 'SIGTERM');
  process.kill(b.pid, 'SIGTERM');
  t.equal((await forward.exited).code, 1, 'forward: exit 1');
  t.match(forward.stderr(), /ERR_BRAID_DAEMON_CONNECTION_LOST/);
  t.equal((await expose.exited).code, 1, 'expose: exit 1');
  t.match(expose.stderr(), /ERR_BRAID_DAEMON_CONNECTION_LOST/);
});
