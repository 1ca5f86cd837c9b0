/**
 * `braid init` (config and identity key in a directory), `braid id` without a daemon, and
 * `braid daemon` running braidd in the foreground from that config until SIGTERM.
 */
import t from 'tap';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { eventually, runBraid, spawnBraid, tempDir } from './support/run.js';

t.setTimeout(300_000); // a bound on a hang; nothing here is timed

/** No runtime directory: the socket goes in the state directory, never a real user's. */
const ENV = {
  XDG_RUNTIME_DIR: undefined,
  RUNTIME_DIRECTORY: undefined,
  STATE_DIRECTORY: undefined,
};

t.test('init writes an owner-only config and key, keeps them, and prints the EID', async (t) => {
  const dir = join(await tempDir(t), 'node');
  const first = await runBraid(['init', dir, '--bind', '127.0.0.1:0', '--json'], { env: ENV });
  t.equal(first.code, 0, first.stderr);
  const made = JSON.parse(first.stdout) as Record<string, unknown>;
  t.match(made.eid, /^braid1[a-z0-9]{32}$/);
  t.same(
    { ...made, eid: undefined },
    {
      eid: undefined,
      dir,
      configPath: join(dir, 'braidd.json'),
      identityKeyPath: join(dir, 'identity.key'),
      socketPath: join(dir, 'braidd.sock'),
      identityCreated: true,
      configWritten: true,
    },
  );
  for (const file of ['braidd.json', 'identity.key'])
    t.equal((await stat(join(dir, file))).mode & 0o777, 0o600, `${file} is owner-only`);

  const again = JSON.parse((await runBraid(['init', dir, '--json'], { env: ENV })).stdout);
  t.equal(again.eid, made.eid, 'the same identity');
  t.equal(again.identityCreated, false);
  t.equal(again.configWritten, false, 'an existing config is kept');
  const forced = JSON.parse(
    (await runBraid(['init', dir, '--force', '--open', '--json'], { env: ENV })).stdout,
  );
  t.equal(forced.configWritten, true, '--force rewrites the config');
  t.equal(forced.eid, made.eid, '--force never replaces the key');

  const text = await runBraid(['init', dir], { env: ENV });
  t.match(text.stdout, `EID ${String(made.eid)}`);
  t.match(text.stdout, `braid daemon --config ${join(dir, 'braidd.json')}`);

  const offline = await runBraid(['id', '--config', join(dir, 'braidd.json')], { env: ENV });
  t.equal(offline.code, 0, offline.stderr);
  t.equal(offline.stdout, `${String(made.eid)}\n`, '`id --config` reads the key without a daemon');
});

t.test('braid daemon runs braidd from the config until SIGTERM', async (t) => {
  const dir = join(await tempDir(t), 'node');
  const init = JSON.parse(
    (await runBraid(['init', dir, '--bind', '127.0.0.1:0', '--json'], { env: ENV })).stdout,
  ) as { eid: string; socketPath: string; configPath: string };
  const daemon = spawnBraid(
    t,
    ['daemon', '--config', init.configPath, '--log-level', 'warn', '--log-format', 'json'],
    ENV,
  );
  const status = await eventually(async () => {
    const r = await runBraid(['--socket', init.socketPath, 'status', '--json']);
    return r.code === 0 ? (JSON.parse(r.stdout) as { eid: string; locators: string[] }) : undefined;
  }, 'braidd to answer on its socket');
  t.equal(status.eid, init.eid, 'the daemon runs with the identity init made');
  t.match(status.locators[0], /^127\.0\.0\.1:\d+$/);
  const id = await runBraid(['--socket', init.socketPath, 'id']);
  t.equal(id.stdout, `${init.eid}\n`);

  daemon.child.kill('SIGTERM');
  const end = await daemon.exited;
  t.equal(end.code, 0, `braidd stopped cleanly on SIGTERM\n${end.output}`);
  const gone = await runBraid(['--socket', init.socketPath, 'status']);
  t.equal(gone.code, 1);
  t.match(gone.stderr, 'braidd is not running');
});
