import t from 'tap';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpcConnection, listenSocket, probeSocket } from '@braid/ipc';
import { testSpec } from './support/harness.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'braid-ipc-transport-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
function closeServer(server: Server): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}

t.test('the socket is owner-only, in a directory created owner-only', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'sub', 'braidd.sock');
  const server = await listenSocket(path, (s) => s.destroy());
  t.teardown(() => closeServer(server));
  t.equal(statSync(path).mode & 0o777, 0o600);
  t.equal(statSync(join(dir, 'sub')).mode & 0o777, 0o700);
  t.same(await probeSocket(join(dir, 'absent.sock')), { state: 'absent' });
});

t.test('a stale socket file is replaced', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'stale.sock');
  // A socket file whose server died without cleaning up: a child listens, then is SIGKILLed.
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('ready'))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await once(child.stdout, 'data');
  child.kill('SIGKILL');
  await once(child, 'exit');
  t.same(await probeSocket(path), { state: 'stale' });
  const server = await listenSocket(path, (s) => s.destroy());
  t.teardown(() => closeServer(server));
  t.equal((await probeSocket(path)).state, 'live');
});

t.test('a live server is never replaced, and its pid is named', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'live.sock');
  const server = await listenSocket(path, (socket) => {
    const conn = new IpcConnection(socket, {
      role: 'server',
      spec: testSpec,
      software: 'braidd 9',
    });
    conn.on('close', () => undefined);
  });
  t.teardown(() => closeServer(server));
  const probe = await probeSocket(path);
  t.same(probe, { state: 'live', pid: process.pid, software: 'braidd 9' });
  await t.rejects(
    listenSocket(path, () => undefined),
    {
      code: 'ERR_BRAID_IPC_SOCKET_IN_USE',
      pid: process.pid,
      message: `braidd 9 is already listening at ${path} (pid ${process.pid})`,
    },
  );
  // The live server still works.
  t.equal((await probeSocket(path)).state, 'live');
});

t.test('a path that is not a socket is refused, not removed', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'file.sock');
  writeFileSync(path, 'precious');
  await t.rejects(
    listenSocket(path, () => undefined),
    {
      code: 'ERR_BRAID_IPC_SOCKET_IN_USE',
      message: /exists and is not a socket/,
    },
  );
  t.equal(statSync(path).isFile(), true);
});
