// Adversarial input at the socket: garbage datagrams (empty, short, long-header look-alikes,
// random bytes of every size) are dropped and counted as rejects; nothing crashes, and a
// transfer in progress carries on byte-exact.
import dgram from 'node:dgram';
import t, { type Test } from 'tap';
import type { BraidStream, UdpEndpoint } from '@braid/endpoint';
import { content, endpoint, pair, readAll, sha256, writeAll } from './support/endpoints.js';

function seededBytes(seed: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed || 1;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function garbage(): Buffer[] {
  const out: Buffer[] = [
    Buffer.alloc(0),
    Buffer.from([0x00]),
    Buffer.from([0xff]),
    Buffer.alloc(1200, 0xc0), // looks like a long header
    Buffer.concat([Buffer.from([0xc0, 0, 0, 0, 1]), seededBytes(9, 1300)]),
    Buffer.alloc(1500, 0x40), // looks like a short header
  ];
  for (let i = 0; i < 200; i++) out.push(seededBytes(i + 1, (i * 37) % 1500));
  return out;
}

async function attacker(t: Test) {
  const socket = dgram.createSocket('udp4');
  t.teardown(() => socket.close());
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return async (target: UdpEndpoint, datagrams: Buffer[]) => {
    for (const l of target.locators)
      for (const g of datagrams)
        await new Promise<void>((resolve, reject) =>
          socket.send(
            g,
            Number(l.slice(l.lastIndexOf(':') + 1)),
            l.slice(0, l.lastIndexOf(':')),
            (err) => (err ? reject(err) : resolve()),
          ),
        );
    return datagrams.length * target.locators.length;
  };
}

const rejectedTotal = (e: UdpEndpoint) =>
  Object.values(e.stats().rejected).reduce((x, y) => x + y, 0);

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
}

t.test('every garbage datagram is rejected exactly once; nothing throws', async (t) => {
  const quiet = await endpoint(t);
  const send = await attacker(t);
  const expected = await send(quiet, garbage());
  await until(() => quiet.stats().datagramsReceived >= expected);
  const stats = quiet.stats();
  t.equal(stats.datagramsReceived, expected, 'all garbage arrived');
  t.equal(
    rejectedTotal(quiet),
    expected,
    `each was rejected once (${JSON.stringify(stats.rejected)})`,
  );
  t.equal(stats.internalErrors, 0, 'nothing threw in the loop');
  t.equal(stats.sessionsOpen, 0, 'no session was created by garbage');
  t.ok(quiet.recentRejects().length > 0, 'the recent rejects are kept for diagnostics');
});

t.test('garbage during a transfer: the transfer is byte-exact', async (t) => {
  const { b, session } = await pair(t);
  const send = await attacker(t);
  const listener = await b.listen('bulk');
  const data = content(2 << 20, 11);
  const got = new Promise<Buffer>((resolve) =>
    listener.on('stream', (s: BraidStream) => resolve(readAll(s))),
  );
  const stream = await session.openStream('bulk');
  const rejectedBefore = rejectedTotal(b);
  const [sent] = await Promise.all([send(b, garbage()), writeAll(stream, data)]);
  t.equal(sha256(await got), sha256(data), 'byte-exact');
  await until(() => rejectedTotal(b) - rejectedBefore >= sent);
  t.ok(rejectedTotal(b) - rejectedBefore >= sent, 'the garbage was rejected');
  t.equal(b.stats().internalErrors, 0, 'nothing threw in the loop');
});
