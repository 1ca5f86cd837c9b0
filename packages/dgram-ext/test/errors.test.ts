import t from 'tap';
import { openSocket, type DgramExtSocket } from '@braid/dgram-ext';
import { LOOPBACK, noAddon } from './support/sockets.js';

async function nativeSocket(): Promise<DgramExtSocket> {
  return openSocket({ type: 'udp4', implementation: 'native', onBatch: () => {} });
}

t.test(
  'a failed send throws a DgramExtError naming errno and syscall',
  { skip: noAddon },
  async (t) => {
    const s = await nativeSocket();
    t.teardown(() => s.close());
    const one = Buffer.from('x');
    // The kernel refuses these before anything leaves the host.
    t.throws(() => s.send(one, 9, '255.255.255.255'), {
      name: 'DgramExtError',
      code: 'EACCES', // broadcast without SO_BROADCAST
      errno: -13,
      syscall: 'sendto',
      datagramsSent: 0,
    });
    t.throws(() => s.send(one, 0, LOOPBACK), { code: 'EINVAL', errno: -22 });
    t.throws(() => s.sendBatch([one, one], 9, '255.255.255.255'), {
      code: 'EACCES',
      syscall: 'sendmmsg',
      datagramsSent: 0,
    });
    t.throws(() => s.sendSegments(Buffer.alloc(3000), 1400, 9, '255.255.255.255'), {
      code: 'EACCES',
    });
  },
);

t.test(
  'an address that is not a numeric literal is ERR_BRAID_INVALID_ADDRESS',
  { skip: noAddon },
  async (t) => {
    const s = await nativeSocket();
    t.teardown(() => s.close());
    for (const address of ['localhost', '', '1.2.3', '::1']) {
      t.throws(
        () => s.send(Buffer.from('x'), 9, address),
        {
          code: address === '::1' ? 'EINVAL' : 'ERR_BRAID_INVALID_ADDRESS',
        },
        JSON.stringify(address),
      );
    }
  },
);

t.test(
  'opening on an address the host does not have rejects with EADDRNOTAVAIL',
  { skip: noAddon },
  async (t) => {
    await t.rejects(
      openSocket({
        type: 'udp4',
        address: '192.0.2.77',
        implementation: 'native',
        onBatch: () => {},
      }),
      { name: 'DgramExtError', code: 'EADDRNOTAVAIL', syscall: 'bind' },
    );
    await t.rejects(
      openSocket({ type: 'udp4', address: 'nope', implementation: 'native', onBatch: () => {} }),
      { code: 'EINVAL' },
    );
    await t.rejects(
      openSocket({ type: 'udp4', recvBatchMax: 65, implementation: 'native', onBatch: () => {} }),
      RangeError,
    );
  },
);

t.test('the js fallback reports send errors to onError', async (t) => {
  const errors: Error[] = [];
  const s = await openSocket({
    type: 'udp4',
    implementation: 'js',
    onBatch: () => {},
    onError: (e) => errors.push(e),
  });
  t.teardown(() => s.close());
  s.send(Buffer.from('x'), 9, '255.255.255.255');
  await new Promise<void>((resolve) => {
    const poll = () => (errors.length ? resolve() : setTimeout(poll, 5));
    poll();
  });
  t.match(errors[0], { code: 'EACCES', syscall: 'send' });
});
