import t from 'tap';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runBraidd, startDaemon } from '@braid/daemon';
import {
  FrameDecoder,
  IPC_PROTOCOL_VERSION,
  connectSocket,
  decodeBody,
  encodeFrame,
} from '@braid/ipc';
import { Eid } from '@braid/protocol';
import { connect } from '@braid/sdk';
import { LogCapture, startTestDaemon, tempDir } from './support/pair.js';

/** Runs braidd in-process; returns its exit code and what it printed on stderr. */
async function braidd(argv: string[]): Promise<{ code: number; stderr: string[] }> {
  const stderr: string[] = [];
  const code = await runBraidd(argv, {
    stderr: { write: (s: string) => stderr.push(...s.split('\n').filter(Boolean)) },
    stdout: { write: () => undefined },
    logDestination: new LogCapture(),
    onStarted: (d) => void d.close(),
  });
  return { code, stderr };
}

function writeConfig(dir: string, value: unknown): string {
  const path = join(dir, 'braidd.json');
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

t.test('malformed config: each problem on its own line, naming the field; exit 1', async (t) => {
  const dir = tempDir(t);
  const notJson = await braidd(['--config', writeConfig(dir, '{ "peers": [ }')]);
  t.equal(notJson.code, 1);
  t.equal(notJson.stderr.length, 1);
  t.match(notJson.stderr[0], new RegExp(`^braidd: config ${dir}/braidd.json: not valid JSON: `));

  const bad = await braidd([
    '--config',
    writeConfig(dir, {
      stateDir: dir,
      bnid: ['127.0.0.1:0'],
      peers: [{ eid: 'braid1notakey', locators: ['localhost:7420'] }],
      allow: 'everyone',
      metrics: { enabled: 'yes' },
      protocol: { scheduler: 'fastest', pathProbeIntervalMs: -5 },
    }),
  ]);
  t.equal(bad.code, 1);
  const file = join(dir, 'braidd.json');
  const expect = [
    /^braidd: config .*: \(top level\): unknown field "bnid"$/,
    /^braidd: config .*: peers\[0\]\.eid: not a valid EID: /,
    /^braidd: config .*: peers\[0\]\.locators\[0\]: locator "localhost:7420": "localhost" is not an IP address/,
    /^braidd: config .*: allow: /,
    /^braidd: config .*: metrics\.enabled: /,
    /^braidd: config .*: protocol\.scheduler: /,
    /^braidd: config .*: protocol\.pathProbeIntervalMs: /,
  ];
  for (const re of expect)
    t.ok(
      bad.stderr.some((l) => re.test(l) && l.includes(file)),
      `a line matches ${re}`,
    );
  t.equal(bad.stderr.length, expect.length, 'one line per problem');

  const missing = await braidd(['--config', join(dir, 'nope.json')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr[0], /no such file \(omit --config to run with the defaults\)/);

  const usage = await braidd(['--frobnicate']);
  t.equal(usage.code, 2);
  t.match(usage.stderr[0], /^braidd: Unknown option '--frobnicate'/);

  const remote = await braidd([
    '--config',
    writeConfig(dir, { stateDir: dir, metrics: { enabled: true, listen: '0.0.0.0:9477' } }),
  ]);
  t.equal(remote.code, 1);
  t.match(remote.stderr[0], /metrics\.listen: 0\.0\.0\.0:9477 is not a loopback address/);
});

t.test('the identity key: created 0600, reused, refused when others can read it', async (t) => {
  const dir = tempDir(t);
  const base = { stateDir: dir, socketPath: join(dir, 's.sock'), bind: ['127.0.0.1:0'] };
  const first = await startDaemon({ config: base, logDestination: new LogCapture() });
  const eid = first.eid;
  await first.close();
  const keyPath = join(dir, 'identity.key');
  t.equal(statSync(keyPath).mode & 0o777, 0o600);
  t.equal(statSync(dir).mode & 0o077, 0, 'state directory owner-only');
  const second = await startDaemon({ config: base, logDestination: new LogCapture() });
  t.equal(second.eid, eid, 'same identity after a restart');
  await second.close();

  chmodSync(keyPath, 0o644);
  await t.rejects(startDaemon({ config: base, logDestination: new LogCapture() }), {
    code: 'ERR_BRAID_KEY_FILE_MODE',
    message: `identity key ${keyPath} is accessible by group or others (mode 0644); run: chmod 600 ${keyPath}`,
  });
  const cli = await braidd([
    '--state-dir',
    dir,
    '--socket',
    join(dir, 's.sock'),
    '--bind',
    '127.0.0.1:0',
  ]);
  t.equal(cli.code, 1);
  t.same(cli.stderr, [
    `braidd: identity key ${keyPath} is accessible by group or others (mode 0644); run: chmod 600 ${keyPath}`,
  ]);

  chmodSync(keyPath, 0o600);
  const good = readFileSync(keyPath, 'utf8');
  for (const [body, why] of [
    ['not json at all', /not JSON/],
    [good.replace(/"secretKey": "[^"]+"/, '"secretKey": "AAAA"'), /"secretKey" is 3 bytes/],
    [
      good.replace(/"eid": "braid1[a-z0-9]+"/, '"eid": "braid1qy352euf40x77qfrg4ncn27dauqjx3t8"'),
      /does not match the key/,
    ],
  ] as const) {
    writeFileSync(keyPath, body, { mode: 0o600 });
    await t.rejects(startDaemon({ config: base, logDestination: new LogCapture() }), {
      code: 'ERR_BRAID_KEY_FILE_CORRUPT',
      message: why,
    });
  }
  t.ok(!existsSync(join(dir, 's.sock')), 'nothing left behind by the failed starts');
});

t.test(
  'garbage and an old protocol version on the control socket never hurt the daemon',
  async (t) => {
    const { daemon, logs } = await startTestDaemon(t);
    const app = await connect({ socketPath: daemon.socketPath });
    t.teardown(() => app.close());
    const frames = async (payloads: Buffer[]) => {
      const socket = await connectSocket(daemon.socketPath);
      t.teardown(() => socket.destroy());
      const decoder = new FrameDecoder();
      const got: { t: string; v?: number; e?: { code: string; message: string } }[] = [];
      socket.on('data', (c: Buffer) => {
        for (const b of decoder.push(c)) got.push(decodeBody(b) as (typeof got)[number]);
      });
      for (const p of payloads) socket.write(p);
      await once(socket, 'close');
      return got;
    };
    const garbage = await frames([Buffer.from('\x00\x00\x00\x05hello, is this braidd?')]);
    t.equal(garbage[0]?.t, 'hello', 'braidd said hello');
    t.equal(garbage.at(-1)?.e?.code, 'ERR_BRAID_IPC_MALFORMED');
    const huge = await frames([Buffer.from([0x7f, 0xff, 0xff, 0xff])]);
    t.equal(huge.at(-1)?.e?.code, 'ERR_BRAID_IPC_FRAME_TOO_LARGE');
    const old = await frames([encodeFrame({ t: 'hello', v: 0, sw: 'braid-sdk 0.0.1' })]);
    t.equal(old[0]?.v, IPC_PROTOCOL_VERSION);
    t.equal(old.at(-1)?.e?.code, 'ERR_BRAID_IPC_VERSION');
    t.equal(
      old.at(-1)?.e?.message,
      `braid-sdk 0.0.1 speaks control protocol version 0 but braidd 0.1.0 speaks version ${IPC_PROTOCOL_VERSION}: run the same Braid version on both sides`,
    );
    // Requests for things that do not exist get errors, not crashes.
    await t.rejects(app.connection.request('sessionStats', { session: 'nope' }), {
      code: 'ERR_BRAID_UNKNOWN_SESSION',
    });
    await t.rejects(app.openSession(new Eid(randomBytes(16)).toString()), {
      code: 'ERR_BRAID_PEER_UNKNOWN',
    });
    await t.rejects(app.openSession('not-an-eid'), { code: 'ERR_BRAID_EID_INVALID' });
    await t.rejects(app.listen('bad name!'), { code: 'ERR_BRAID_SERVICE_INVALID' });
    await t.rejects(app.connection.request('listen', { service: 'bad name!' }), {
      code: 'ERR_BRAID_IPC_INVALID_MESSAGE',
      message: /listen: invalid parameters: service: /,
    });
    // Still serving.
    t.equal((await app.status()).eid, daemon.eid);
    t.ok(
      logs.has(/control client dropped: .*control protocol version 0/),
      'the version clash is logged',
    );
  },
);

t.test(
  'port in use, metrics port in use, socket in use, stale socket, long socket path',
  async (t) => {
    const dir = tempDir(t);
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    t.teardown(() => udp.close());
    const taken = `127.0.0.1:${udp.address().port}`;
    const portInUse = await braidd([
      '--state-dir',
      dir,
      '--socket',
      join(dir, 'a.sock'),
      '--bind',
      taken,
    ]);
    t.equal(portInUse.code, 1);
    t.same(portInUse.stderr, [
      `braidd: cannot bind ${taken}: the address and port are already in use`,
    ]);

    const tcp = createServer();
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    t.teardown(() => tcp.close());
    const metricsTaken = `127.0.0.1:${(tcp.address() as { port: number }).port}`;
    const metricsInUse = await braidd([
      '--state-dir',
      dir,
      '--socket',
      join(dir, 'a.sock'),
      '--bind',
      '127.0.0.1:0',
      '--metrics',
      metricsTaken,
    ]);
    t.equal(metricsInUse.code, 1);
    t.match(
      metricsInUse.stderr[0],
      new RegExp(
        `^braidd: metrics: cannot listen on ${metricsTaken}: the address and port are already in use`,
      ),
    );
    t.ok(!existsSync(join(dir, 'a.sock')), 'no socket left behind');

    const running = await startTestDaemon(t);
    const twice = await braidd([
      '--state-dir',
      dir,
      '--socket',
      running.daemon.socketPath,
      '--bind',
      '127.0.0.1:0',
    ]);
    t.equal(twice.code, 1);
    t.same(twice.stderr, [
      `braidd: braidd already running at ${running.daemon.socketPath} (pid ${process.pid}); stop it first, or give this one another --socket`,
    ]);
    t.equal(
      (await (await connect({ socketPath: running.daemon.socketPath })).status()).eid,
      running.daemon.eid,
      'the running one is untouched',
    );

    // A stale socket (its daemon was killed) is replaced.
    const stalePath = join(dir, 'stale.sock');
    const child = spawn(
      process.execPath,
      [
        '-e',
        `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => console.log('up'))`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    await once(child.stdout, 'data');
    child.kill('SIGKILL');
    await once(child, 'exit');
    t.ok(existsSync(stalePath), 'the stale socket file is there');
    const replaced = await startDaemon({
      config: { stateDir: dir, socketPath: stalePath, bind: ['127.0.0.1:0'] },
      logDestination: new LogCapture(),
    });
    t.teardown(() => replaced.close());
    const app = await connect({ socketPath: stalePath });
    t.equal((await app.status()).eid, replaced.eid, 'the new daemon answers on it');
    await app.close();

    const long = join(dir, 'x'.repeat(120), 'braidd.sock');
    await t.rejects(
      startDaemon({
        config: { stateDir: dir, socketPath: long, bind: ['127.0.0.1:0'] },
        logDestination: new LogCapture(),
      }),
      {
        code: 'ERR_BRAID_CONTROL_SOCKET',
        message:
          /Unix sockets allow at most 107: set "socketPath" \(or --socket\) to a shorter path/,
      },
    );
    await t.rejects(connect({ socketPath: join(dir, 'none.sock') }), {
      code: 'ERR_BRAID_DAEMON_NOT_RUNNING',
      message: `braidd is not running (no socket at ${join(dir, 'none.sock')}); start it with \`braid daemon\``,
    });
  },
);

t.test('signals: SIGHUP reloads what it can, SIGTERM stops cleanly with exit 0', async (t) => {
  const dir = tempDir(t);
  const socketPath = join(dir, 'braidd.sock');
  const config = {
    stateDir: dir,
    socketPath,
    bind: ['127.0.0.1:0'],
    log: { format: 'json', level: 'info' },
  };
  const configPath = writeConfig(dir, config);
  const main = new URL('./support/braidd-main.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [main, '--config', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stdout.on('data', (c: Buffer) => {
    buffered += c.toString();
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
      buffered = buffered.slice(nl + 1);
      lines.push(line);
      for (const w of waiters.splice(0))
        if (w.re.test(String(line.msg))) w.resolve();
        else waiters.push(w);
    }
  });
  const logged = (re: RegExp) =>
    lines.some((l) => re.test(String(l.msg)))
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiters.push({ re, resolve }));
  await logged(/^braidd started$/);
  t.ok(existsSync(socketPath));
  t.equal(statSync(socketPath).mode & 0o777, 0o600, 'the control socket is owner-only');

  writeFileSync(
    configPath,
    JSON.stringify({
      ...config,
      bind: ['127.0.0.1:0', '127.0.0.2:0'],
      log: { format: 'json', level: 'debug' },
      allow: 'open',
    }),
  );
  child.kill('SIGHUP');
  await logged(/^config changes that need a restart were not applied: bind$/);
  t.ok(
    lines.some((l) => l.msg === 'config reloaded: allow, log.level'),
    'allow and log level applied',
  );

  writeFileSync(configPath, '{ broken');
  child.kill('SIGHUP');
  await logged(/^reload refused, nothing changed: config .*not valid JSON/);
  const app = await connect({ socketPath });
  t.ok((await app.status()).eid.startsWith('braid1'), 'still running after a bad reload');
  await app.close();

  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number];
  t.equal(code, 0, 'exit 0');
  t.ok(
    lines.some((l) => l.msg === 'stopped'),
    'logged its stop',
  );
  t.ok(!existsSync(socketPath), 'the socket file is removed');
});
