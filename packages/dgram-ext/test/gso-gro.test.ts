import t from 'tap';
import { openSocket, SEGMENTS_MAX } from '@braid/dgram-ext';
import { collector, LOOPBACK, noAddon, payloads, until } from './support/sockets.js';

const SEGMENT_BYTES = 1400;

for (const gro of [false, true]) {
  t.test(
    `a GSO train arrives as its segments, GRO ${gro ? 'on' : 'off'} at the receiver`,
    { skip: noAddon },
    async (t) => {
      const rx = await collector({ gro });
      const tx = await openSocket({ type: 'udp4', address: LOOPBACK, onBatch: () => {} });
      t.teardown(() => (rx.socket.close(), tx.close()));
      t.equal(rx.socket.features.gro, gro);
      const port = rx.socket.address().port;
      // 44 full segments and a short last one, then a train of one, then 16 exact.
      const trains = [
        Buffer.concat(payloads([44 * SEGMENT_BYTES, 321])),
        ...payloads([700, 16 * SEGMENT_BYTES]),
      ];
      const expected = trains.flatMap((train) => {
        const out: Buffer[] = [];
        for (let o = 0; o < train.length; o += SEGMENT_BYTES) {
          out.push(train.subarray(o, o + SEGMENT_BYTES));
        }
        return out;
      });
      for (const train of trains) {
        t.equal(
          tx.sendSegments(train, SEGMENT_BYTES, port, LOOPBACK),
          Math.ceil(train.length / SEGMENT_BYTES),
        );
      }
      await until(() => rx.received.length === expected.length, 'every segment');
      t.same(rx.received, expected, 'byte-exact, in order, cut at the segment size');
      const stats = rx.socket.stats();
      t.equal(stats.recvDatagrams, expected.length);
      if (gro && tx.features.gso) {
        // Loopback keeps a GSO train whole, so a GRO socket reads each train as one message.
        t.ok(
          stats.recvMessages < stats.recvDatagrams,
          `GRO coalesced (${stats.recvMessages} reads)`,
        );
      } else {
        t.equal(stats.recvMessages, stats.recvDatagrams, 'one message per datagram without GRO');
      }
      if (tx.features.gso) t.equal(tx.stats().sendCalls, trains.length, 'one sendmsg per train');
    },
  );
}

t.test('sendSegments refuses what one GSO send cannot carry, with EMSGSIZE', async (t) => {
  for (const implementation of noAddon ? ['js' as const] : ['native' as const, 'js' as const]) {
    const tx = await openSocket({
      type: 'udp4',
      address: LOOPBACK,
      implementation,
      onBatch: () => {},
    });
    const tooMany = Buffer.alloc((SEGMENTS_MAX + 1) * 100);
    t.throws(
      () => tx.sendSegments(tooMany, 100, 9, LOOPBACK),
      { code: 'EMSGSIZE', name: 'DgramExtError' },
      implementation,
    );
    tx.close();
  }
});
