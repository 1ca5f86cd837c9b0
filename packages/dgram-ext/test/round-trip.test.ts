import t, { type Test } from 'tap';
import { openSocket, type DgramExtSocket } from '@braid/dgram-ext';
import { collector, LOOPBACK, noAddon, payloads, until } from './support/sockets.js';

const LENGTHS = [0, 1, 17, 1200, 1400, 2048];

async function roundTrip(t: Test, a: 'native' | 'js', b: 'native' | 'js'): Promise<void> {
  const one = await collector({ implementation: a });
  const two = await collector({ implementation: b });
  t.teardown(() => {
    one.socket.close();
    two.socket.close();
  });
  t.equal(one.socket.implementation, a);
  t.equal(two.socket.implementation, b);
  const toTwo = payloads(LENGTHS);
  const toOne = payloads(LENGTHS);
  for (const p of toTwo) one.socket.send(p, two.socket.address().port, LOOPBACK);
  for (const p of toOne) two.socket.send(p, one.socket.address().port, LOOPBACK);
  await until(() => two.received.length === LENGTHS.length, 'all datagrams at two');
  await until(() => one.received.length === LENGTHS.length, 'all datagrams at one');
  t.same(two.received, toTwo, `${a} -> ${b} byte-exact, in order`);
  t.same(one.received, toOne, `${b} -> ${a} byte-exact, in order`);
}

t.test('native <-> native: datagrams arrive byte-exact both ways', { skip: noAddon }, (t) =>
  roundTrip(t, 'native', 'native'),
);
t.test('js fallback <-> js fallback: the same', (t) => roundTrip(t, 'js', 'js'));
t.test('native <-> js fallback interoperate', { skip: noAddon }, (t) =>
  roundTrip(t, 'native', 'js'),
);

t.test('sendBatch sends each buffer as its own datagram, in order', async (t) => {
  for (const implementation of noAddon ? ['js' as const] : ['native' as const, 'js' as const]) {
    const rx = await collector();
    const tx: DgramExtSocket = await openSocket({
      type: 'udp4',
      address: LOOPBACK,
      implementation,
      onBatch: () => {},
    });
    const batch = payloads([5, 1400, 0, 900]);
    t.equal(tx.sendBatch(batch, rx.socket.address().port, LOOPBACK), batch.length);
    await until(() => rx.received.length === batch.length, 'the batch');
    t.same(rx.received, batch, `${implementation} sendBatch`);
    tx.close();
    rx.socket.close();
  }
});

t.test(
  "the address and the source of a batch are the sockets' own",
  { skip: noAddon },
  async (t) => {
    const tx = await collector();
    let source = '';
    const rx = await openSocket({
      type: 'udp4',
      address: LOOPBACK,
      onBatch: (b) => (source = `${b.address}:${b.port}`),
    });
    t.teardown(() => (tx.socket.close(), rx.close()));
    t.equal(rx.address().address, LOOPBACK);
    t.ok(rx.address().port > 0);
    tx.socket.send(Buffer.from('x'), rx.address().port, LOOPBACK);
    await until(() => source !== '', 'a datagram');
    t.equal(source, `${LOOPBACK}:${tx.socket.address().port}`);
  },
);

t.test('udp6 on ::1 round-trips too', { skip: noAddon }, async (t) => {
  const one = await collector({ type: 'udp6', address: '::1' });
  const two = await collector({ type: 'udp6', address: '::1' });
  t.teardown(() => (one.socket.close(), two.socket.close()));
  const data = payloads([1, 1400]);
  const port = two.socket.address().port;
  for (const d of data) one.socket.send(d, port, '::1');
  const train = Buffer.concat(data.concat(data)); // 2,802 bytes: segments of 1400, 1400, 2
  t.equal(one.socket.sendSegments(train, 1400, port, '::1'), 3);
  await until(() => two.received.length === 5, 'five datagrams');
  t.same(two.received, [
    ...data,
    train.subarray(0, 1400),
    train.subarray(1400, 2800),
    train.subarray(2800),
  ]);
});
