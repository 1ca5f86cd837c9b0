import { readlinkSync } from 'node:fs';
import t from 'tap';
import { addonLoadError, openSocket } from '@braid/dgram-ext';
import { collector, LOOPBACK, noAddon, until } from './support/sockets.js';

function fdTarget(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

t.test(
  'close() frees the fd and stops callbacks, even for datagrams already queued',
  { skip: noAddon },
  async (t) => {
    const tx = await collector();
    t.teardown(() => tx.socket.close());
    const rx = await collector();
    const fd = rx.socket.fd;
    const socketInode = fdTarget(fd);
    t.match(socketInode, /^socket:\[\d+\]$/);
    for (let i = 0; i < 5; i++)
      tx.socket.send(Buffer.from([i]), rx.socket.address().port, LOOPBACK);
    rx.socket.close(); // same turn: the datagrams are in the kernel's queue, unread
    rx.socket.close(); // idempotent
    t.equal(rx.socket.fd, -1);
    t.not(fdTarget(fd), socketInode, 'the fd no longer names that socket');
    // Give a stray poll callback every chance to run, then check none did.
    await new Promise((r) => setTimeout(r, 50));
    t.equal(rx.received.length, 0, 'no callback after close');
    t.throws(() => rx.socket.send(Buffer.from('x'), 9, LOOPBACK), {
      code: 'ERR_SOCKET_DGRAM_NOT_RUNNING',
    });
  },
);

t.test(
  'close() inside onBatch stops the batches of that same read',
  { skip: noAddon },
  async (t) => {
    const a = await collector();
    const b = await collector();
    t.teardown(() => (a.socket.close(), b.socket.close()));
    let batches = 0;
    const rx = await openSocket({
      type: 'udp4',
      address: LOOPBACK,
      onBatch: () => {
        batches++;
        rx.close();
      },
    });
    // Two sources in one recvmmsg make two batches; the first closes the socket.
    const port = rx.address().port;
    for (let i = 0; i < 3; i++) a.socket.send(Buffer.from('a'), port, LOOPBACK);
    for (let i = 0; i < 3; i++) b.socket.send(Buffer.from('b'), port, LOOPBACK);
    await until(() => batches > 0, 'a batch');
    await new Promise((r) => setTimeout(r, 50));
    t.equal(batches, 1);
  },
);

t.test('the fallback is chosen when the addon is missing', async (t) => {
  const addonPath = '/nonexistent/dgram_ext.node';
  t.type(addonLoadError(addonPath), Error);
  const s = await openSocket({ type: 'udp4', address: LOOPBACK, addonPath, onBatch: () => {} });
  t.teardown(() => s.close());
  t.equal(s.implementation, 'js');
  t.same(s.features, {
    gso: false,
    gro: false,
    batchedSend: false,
    batchedReceive: false,
    dontFragment: false,
  });
  await t.rejects(
    openSocket({ type: 'udp4', addonPath, implementation: 'native', onBatch: () => {} }),
    { code: 'MODULE_NOT_FOUND' },
  );
});

t.test('the addon loads where it was built', { skip: noAddon }, async (t) => {
  const s = await openSocket({ type: 'udp4', address: LOOPBACK, onBatch: () => {} });
  t.teardown(() => s.close());
  t.equal(s.implementation, 'native');
  t.ok(s.fd >= 0);
});

t.test('unref() lets the process exit with the socket open', { skip: noAddon }, async (t) => {
  const { spawnSync } = await import('node:child_process');
  const script = `
    import { openSocket } from '@braid/dgram-ext';
    const s = await openSocket({ type: 'udp4', address: '127.0.0.1', implementation: 'native', onBatch() {} });
    s.unref();
    console.log('opened');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: new URL('..', import.meta.url),
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout.trim(), 'opened');
});

t.test(
  'wantWritable() calls onWritable once the socket can send, once, and reads go on',
  { skip: noAddon },
  async (t) => {
    let writable = 0;
    const received: number[] = [];
    const rx = await openSocket({
      type: 'udp4',
      address: LOOPBACK,
      onBatch: (b) => received.push(b.count),
      onWritable: () => writable++,
    });
    t.teardown(() => rx.close());
    const tx = await collector();
    t.teardown(() => tx.socket.close());
    rx.wantWritable();
    rx.wantWritable(); // idempotent until it fires
    await until(() => writable > 0, 'onWritable');
    await new Promise((r) => setTimeout(r, 30));
    t.equal(writable, 1, 'once per wantWritable, not on every writable poll');
    // The poll is back to reads only: datagrams still arrive, and no further onWritable.
    tx.socket.send(Buffer.from('after'), rx.address().port, LOOPBACK);
    await until(() => received.length > 0, 'a datagram after wantWritable');
    t.equal(writable, 1);
    rx.wantWritable();
    await until(() => writable === 2, 'a second onWritable for a second wantWritable');
  },
);

t.test('the js fallback calls onWritable on the next turn', async (t) => {
  let writable = 0;
  const s = await openSocket({
    type: 'udp4',
    address: LOOPBACK,
    implementation: 'js',
    onBatch: () => {},
    onWritable: () => writable++,
  });
  s.wantWritable();
  t.equal(writable, 0, 'not from inside the call');
  await until(() => writable === 1, 'onWritable');
  s.close();
  s.wantWritable();
  await new Promise((r) => setImmediate(r));
  t.equal(writable, 1, 'not after close');
});

t.test(
  'receive memory detached by JavaScript: the socket reports EFAULT and closes, never reads into it',
  { skip: noAddon },
  async (t) => {
    const errors: { code?: string; syscall?: string }[] = [];
    let memory: ArrayBuffer | undefined;
    const rx = await openSocket({
      type: 'udp4',
      address: LOOPBACK,
      implementation: 'native',
      onBatch: (b) => void (memory ??= b.data.buffer as ArrayBuffer),
      onError: (err) => void errors.push(err as { code?: string; syscall?: string }),
    });
    t.teardown(() => rx.close());
    const tx = await collector();
    t.teardown(() => tx.socket.close());
    const port = rx.address().port;
    tx.socket.send(Buffer.from('first'), port, LOOPBACK);
    await until(() => memory !== undefined, 'the first datagram');
    structuredClone(memory, { transfer: [memory!] }); // detaches it
    t.equal(memory!.byteLength, 0, 'detached');
    tx.socket.send(Buffer.from('second'), port, LOOPBACK);
    await until(() => errors.length > 0, 'the error');
    t.match(errors[0], { code: 'EFAULT', syscall: 'recvmmsg' });
    t.throws(() => rx.send(Buffer.from('x'), 9, LOOPBACK), { code: 'EBADF' }, 'closed');
  },
);

t.test(
  'an open socket nobody references is not collected: it reads until closed',
  { skip: noAddon },
  async (t) => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let got = 0;
    // The socket object lives only in this function; the callback does not capture it. It is
    // unref'd so that it does not hold the test process open; the process's exit closes it.
    const { port, fd } = await (async () => {
      const s = await openSocket({
        type: 'udp4',
        address: LOOPBACK,
        implementation: 'native',
        onBatch: (b) => void (got += b.count),
      });
      s.unref();
      return { port: s.address().port, fd: s.fd };
    })();
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    t.match(fdTarget(fd), /^socket:/, 'its fd is still a socket');
    const tx = await collector();
    t.teardown(() => tx.socket.close());
    tx.socket.send(Buffer.from('still there?'), port, LOOPBACK);
    await until(() => got > 0, 'the datagram');
    t.equal(got, 1);
  },
);
