import t from 'tap';
import { pair } from './support/endpoints.js';

t.test('datagrams go both ways as session-wide events', async (t) => {
  const { session, peerSession } = await pair(t);
  const COUNT = 20;
  const atB: string[] = [];
  const atA: string[] = [];
  const bGotAll = new Promise<void>((resolve) =>
    peerSession.on('datagram', (data) => {
      atB.push(Buffer.from(data).toString());
      peerSession.sendDatagram(Buffer.from(`re:${Buffer.from(data).toString()}`));
      if (atB.length === COUNT) resolve();
    }),
  );
  const aGotAll = new Promise<void>((resolve) =>
    session.on('datagram', (data) => {
      atA.push(Buffer.from(data).toString());
      if (atA.length === COUNT) resolve();
    }),
  );
  for (let i = 0; i < COUNT; i++) session.sendDatagram(Buffer.from(`d${i}`));
  // Loopback with room in every buffer: none is lost (datagrams are never retransmitted).
  await bGotAll;
  await aGotAll;
  t.same(
    [...atB].sort(),
    Array.from({ length: COUNT }, (_, i) => `d${i}`).sort(),
    'B got each datagram once',
  );
  t.same([...atA].sort(), [...atB].map((d) => `re:${d}`).sort(), 'A got each reply once');
  const stats = await session.stats();
  t.equal(stats.datagramsSent, COUNT);
  t.equal(stats.datagramsReceived, COUNT);
});

t.test('a datagram too large or on a closed session is refused with a typed error', async (t) => {
  const { session } = await pair(t);
  t.throws(() => session.sendDatagram(new Uint8Array(5000)), {
    code: 'ERR_BRAID_DATAGRAM_TOO_LARGE',
  });
  await session.close();
  t.throws(() => session.sendDatagram(new Uint8Array(10)), { code: 'ERR_BRAID_SESSION_CLOSED' });
});
