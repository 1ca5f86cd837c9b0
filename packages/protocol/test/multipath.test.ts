/**
 * Multipath in the session, end to end over the test pair (docs/protocol.md §Paths): paths come
 * up validated, take data, fail over, move, and a spoofed address cannot move them. The
 * simulator's scenarios (packages/netsim) cover timing under realistic links.
 */
import t from 'tap';
import {
  bytesEqual,
  decodeFrames,
  encodeFrames,
  packetNonce,
  WireDecodeError,
  type EndpointOptions,
  type Frame,
  type Transmit,
} from '@braid/protocol';
import { A, B } from './support/pair.js';
import { connected, eventsOf, payload, Reader, runDelayed } from './support/sessions.js';

const A2 = '198.51.100.2:4433';
const B2 = '203.0.113.2:4433';
const KIB = 1024;

/** Two addresses each; only same-index pairs route (A–B and A2–B2), as with two links. */
const twoLinks: Partial<EndpointOptions> = {
  pathFilter: (l, r) => (l === A || l === B) === (r === A || r === B),
};

async function twoPaths(seed: number, options: Partial<EndpointOptions> = {}) {
  const c = await connected(
    seed,
    { ...twoLinks, localAddresses: [A, A2], ...options },
    { localAddresses: [B, B2] },
    10,
  );
  runDelayed(c.p, c.p.now + 500, { delayMs: 10 });
  return c;
}

function onLink2(tr: Transmit): boolean {
  return tr.from === A2 || tr.from === B2 || tr.to === A2 || tr.to === B2;
}

t.test('new frames round-trip; bad path IDs and locators are encoding errors', (t) => {
  const frames: Frame[] = [
    { type: 'ack', pathId: 7, ranges: [{ smallest: 3, largest: 9 }], ackDelayMs: 1 },
    { type: 'path_cid', pathId: 3, cid: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) },
    { type: 'path_challenge', data: Uint8Array.from([9, 9, 9, 9, 1, 2, 3, 4]) },
    { type: 'path_response', data: Uint8Array.from([9, 9, 9, 9, 1, 2, 3, 4]) },
    { type: 'add_address', seq: 2, locator: '[2001:db8::1]:4433' },
    { type: 'remove_address', seq: 2 },
    { type: 'path_abandon', pathId: 3 },
  ];
  t.same(decodeFrames(encodeFrames(frames).finish()), frames);
  // Path 0's ACK keeps the one-path form (type 0x02, no path ID).
  const ack0 = encodeFrames([
    { type: 'ack', ranges: [{ smallest: 0, largest: 0 }], ackDelayMs: 0 },
  ]);
  t.equal(ack0.finish()[0], 0x02);
  // PATH_ACK for path 2^32: beyond the nonce's 32 bits.
  t.throws(
    () => decodeFrames(Uint8Array.from([0x03, 0xc0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])),
    WireDecodeError,
  );
  t.throws(
    () => decodeFrames(Uint8Array.from([0x3a, 0, 2, 0x41, 0x0a])),
    WireDecodeError,
    'control byte',
  );
  t.throws(() => decodeFrames(Uint8Array.from([0x3a, 0, 0])), WireDecodeError, 'empty locator');
  t.end();
});

t.test('the nonce carries the path ID; path 0 keeps the Noise layout', (t) => {
  t.same([...packetNonce(0, 258)], [0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0]);
  t.same([...packetNonce(5, 258)], [5, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0]);
  t.end();
});

t.test('two addresses each: a second path is opened, validated, and carries data', async (t) => {
  const { p, a, b } = await twoPaths(401);
  const pa = p.a.paths(a);
  const pb = p.b.paths(b);
  t.same(
    pa.map((x) => [x.local, x.remote, x.status]),
    [
      [A, B, 'active'],
      [A2, B2, 'active'],
    ],
  );
  t.same(
    pb.map((x) => x.status),
    ['active', 'active'],
  );
  t.same(
    eventsOf(p, 'a', 'path').map((e) => [e.pathId, e.change]),
    [
      [1, 'added'],
      [1, 'validated'],
    ],
  );
  t.ok(pa[1]!.rttMs > 15 && pa[1]!.rttMs < 40, `path 1 RTT ${pa[1]!.rttMs} ms from validation`);
  const data = payload(600 * KIB, 1);
  const sid = p.a.openStream(p.now, a);
  p.a.streamWrite(p.now, a, sid, data);
  p.a.streamEnd(p.now, a, sid);
  const rb = new Reader(p, 'b', b);
  runDelayed(p, p.now + 30_000, { delayMs: 10, afterDeliver: () => rb.drain() });
  t.ok(bytesEqual(rb.data(sid), data), 'byte-exact');
  const sent = p.a.paths(a).map((x) => x.streamBytesSent);
  t.ok(sent[0]! > 50 * KIB && sent[1]! > 50 * KIB, `both paths carried data: ${sent.join(', ')}`);
});

t.test(
  'a path the peer opens is held to 3x the bytes received until it is validated',
  async (t) => {
    const { p, b } = await twoPaths(402);
    // B's first packet to A2 went out before A2 was validated: it must fit 3x what came from A2.
    const bPath = p.b.paths(b).find((x) => x.remote === A2)!;
    t.equal(bPath.status, 'active');
    let received = 0;
    let sentBefore = 0;
    for (const w of p.wire) {
      if (w.from === A2 && w.to === B2) received += w.bytes.length;
      if (w.from === B2 && w.to === A2) {
        sentBefore += w.bytes.length;
        t.ok(sentBefore <= 3 * received, `B sent ${sentBefore} <= 3 x ${received} to A2`);
        break; // the first reply is the one that must fit; later ones follow the answer
      }
    }
    t.ok(received > 0);
  },
);

t.test('administrative down moves the data at once (failover event), byte-exact', async (t) => {
  const { p, a, b } = await twoPaths(403);
  const data = payload(2048 * KIB, 2);
  const sid = p.a.openStream(p.now, a);
  let written = 0;
  const rb = new Reader(p, 'b', b);
  let downAt: number | undefined;
  const pump = () => {
    rb.drain();
    while (written < data.length) {
      const n = p.a.streamWrite(p.now, a, sid, data.subarray(written));
      if (n === 0) break;
      written += n;
    }
    if (written === data.length) p.a.streamEnd(p.now, a, sid);
    if (downAt === undefined && rb.record(sid).bytes > 512 * KIB) {
      downAt = p.now;
      p.a.setPathDown(p.now, a, 1, true);
    }
  };
  pump();
  runDelayed(p, p.now + 60_000, {
    delayMs: 10,
    afterDeliver: pump,
    // A down path is dead both ways on this link, as an operator's blackhole would make it.
    drop: (tr) => downAt !== undefined && onLink2(tr),
  });
  t.ok(bytesEqual(rb.data(sid), data), 'byte-exact');
  const failovers = eventsOf(p, 'a', 'failover');
  t.equal(failovers.length, 1);
  t.match(failovers[0], { from: 1, to: 0, reason: 'taken down administratively' });
  t.equal(p.a.paths(a)[1]!.status, 'down');
  t.same(eventsOf(p, 'a', 'suspended'), [], 'never suspended: path 0 was there');
  // Let it up: it is probed, validated, and rejoins.
  downAt = undefined;
  p.a.setPathDown(p.now, a, 1, false);
  runDelayed(p, p.now + 5_000, { delayMs: 10 });
  t.equal(p.a.paths(a)[1]!.status, 'active');
  t.ok(
    eventsOf(p, 'a', 'path').some((e) => e.pathId === 1 && e.change === 'recovered'),
    'recovered',
  );
});

t.test(
  'active-backup: the path an idle request/response client keeps to is taken down: failover reported',
  async (t) => {
    // Between two requests nothing is in flight and nothing went out for many PTOs: the path
    // is still the one data keeps to, so its next request moving elsewhere is a failover.
    const { p, a, b } = await twoPaths(409, { scheduler: 'active-backup' });
    const sid = p.a.openStream(p.now, a);
    const request = payload(16 * KIB, 7);
    p.a.streamWrite(p.now, a, sid, request);
    const rb = new Reader(p, 'b', b);
    runDelayed(p, p.now + 2_000, { delayMs: 10, afterDeliver: () => rb.drain() });
    t.ok(bytesEqual(rb.data(sid), request), 'the first request arrived');
    const carrying = p.a.paths(a).filter((path) => path.streamBytesSent > 0);
    t.equal(carrying.length, 1, 'one path carried it (active-backup)');
    const id = carrying[0]!.id;
    t.same(eventsOf(p, 'a', 'failover'), [], 'no failover yet');
    p.a.setPathDown(p.now, a, id, true);
    const second = payload(16 * KIB, 8);
    p.a.streamWrite(p.now, a, sid, second);
    const before = p.a.paths(a)[1 - id]!.streamBytesSent;
    runDelayed(p, p.now + 2_000, {
      delayMs: 10,
      afterDeliver: () => rb.drain(),
      drop: (tr) => (id === 1 ? onLink2(tr) : !onLink2(tr)),
    });
    t.ok(bytesEqual(rb.data(sid).subarray(request.length), second), 'the next request arrived');
    t.ok(p.a.paths(a)[1 - id]!.streamBytesSent >= before + second.length, 'on the other path');
    t.match(eventsOf(p, 'a', 'failover'), [
      { from: id, to: 1 - id, reason: 'taken down administratively' },
    ]);
  },
);

t.test('no route on one pair: only that path goes down, at once; it comes back', async (t) => {
  // Every pair routes: A has paths to B and to B2.
  const { p, a } = await connected(
    410,
    { localAddresses: [A, A2] },
    { localAddresses: [B, B2] },
    10,
  );
  runDelayed(p, p.now + 500, { delayMs: 10 });
  const pair = (l: string, r: string) => p.a.paths(a).find((x) => x.local === l && x.remote === r)!;
  t.equal(pair(A, B2).status, 'active', 'A -> B2 is up');
  t.equal(pair(A, B).status, 'active', 'A -> B is up');
  const at = p.now;
  p.a.pathUnreachable(p.now, { local: A, remote: B2 }, 'send failed: ENETUNREACH');
  t.equal(pair(A, B2).status, 'down', 'A -> B2 is down at once');
  t.equal(p.now, at, 'no time passed');
  t.equal(pair(A, B).status, 'active', "the address's other path is untouched");
  t.ok(p.a.localAddressList().includes(A), 'the address stays');
  // The route was never really gone: the probes get through and the path recovers.
  runDelayed(p, p.now + 3_000, { delayMs: 10 });
  t.equal(pair(A, B2).status, 'active', 'A -> B2 recovered');
});

t.test('a lost local address takes its paths down without waiting for timers', async (t) => {
  const { p, a } = await twoPaths(404);
  const before = p.now;
  p.a.removeLocalAddress(p.now, A2);
  for (let e = p.a.pollEvent(); e; e = p.a.pollEvent()) p.events.a.push(e);
  const events = eventsOf(p, 'a', 'path').filter((e) => e.pathId === 1);
  t.same(
    events.slice(-2).map((e) => e.change),
    ['down', 'removed'],
    'down and replaced at once (A has another address)',
  );
  t.equal(p.now, before, 'no time passed');
  t.same(
    p.a.paths(a).map((x) => x.id),
    [0],
  );
  runDelayed(p, p.now + 2_000, { delayMs: 10 });
  // The peer hears REMOVE_ADDRESS and PATH_ABANDON: its path goes too.
  const bPaths = p.b.paths(p.b.sessionIds()[0]!);
  t.same(
    bPaths.map((x) => x.id),
    [0],
  );
});

t.test('every path down: suspended, then resumed with nothing lost or repeated', async (t) => {
  const { p, a, b } = await twoPaths(405);
  const data = payload(300 * KIB, 3);
  const sid = p.a.openStream(p.now, a);
  p.a.streamWrite(p.now, a, sid, data);
  p.a.streamEnd(p.now, a, sid);
  const rb = new Reader(p, 'b', b);
  runDelayed(p, p.now + 40, { delayMs: 10, afterDeliver: () => rb.drain() });
  const outageEnd = p.now + 20_000;
  runDelayed(p, outageEnd, {
    delayMs: 10,
    afterDeliver: () => rb.drain(),
    drop: () => p.now < outageEnd,
  });
  t.equal(eventsOf(p, 'a', 'suspended').length, 1, 'a suspended');
  t.equal(eventsOf(p, 'b', 'suspended').length, 1, 'b suspended');
  t.equal(p.a.sessionInfo(a).state, 'established', 'not closed');
  runDelayed(p, p.now + 30_000, { delayMs: 10, afterDeliver: () => rb.drain() });
  const resumed = eventsOf(p, 'a', 'resumed');
  t.equal(resumed.length, 1);
  t.ok(resumed[0]!.suspendedMs > 15_000, `suspended ${resumed[0]!.suspendedMs} ms`);
  t.ok(bytesEqual(rb.data(sid), data), 'byte-exact after the outage');
  t.equal(p.b.sessionIds().length, 1, 'no new session');
});

t.test('a replayed packet from a spoofed address does not move the path', async (t) => {
  const { p, a, b } = await twoPaths(406);
  const SPOOF = '198.51.100.66:9999';
  const sid = p.a.openStream(p.now, a);
  const data = payload(200 * KIB, 4);
  p.a.streamWrite(p.now, a, sid, data);
  p.a.streamEnd(p.now, a, sid);
  const rb = new Reader(p, 'b', b);
  let spoofed = 0;
  let toSpoof = 0;
  let spoofBytes = 0;
  runDelayed(p, p.now + 30_000, {
    delayMs: 10,
    afterDeliver: () => rb.drain(),
    drop: (tr) => {
      if (tr.to === SPOOF) {
        toSpoof += tr.bytes.length;
        return true;
      }
      // An attacker on the path races every 50th packet from A, from its own address.
      if (tr.from === A && tr.to === B && p.wire.length % 50 === 0 && spoofed < 5) {
        spoofed++;
        spoofBytes += tr.bytes.length;
        p.b.handleDatagram(p.now, { local: B, remote: SPOOF }, tr.bytes);
      }
      return false;
    },
  });
  t.ok(spoofed > 0, `${spoofed} spoofed copies`);
  t.ok(bytesEqual(rb.data(sid), data), 'byte-exact');
  t.ok(toSpoof > 0, 'B challenged the spoofed address');
  t.ok(toSpoof <= 3 * spoofBytes, `${toSpoof} bytes to the spoofed address <= 3 x ${spoofBytes}`);
  t.same(
    p.b.paths(b).map((x) => x.remote),
    [A, A2],
    'no path moved',
  );
  t.same(
    eventsOf(p, 'b', 'path').filter((e) => e.change === 'rebound'),
    [],
  );
});

t.test('redundant stream: every byte goes on both paths; key updates span paths', async (t) => {
  const { p, a, b } = await twoPaths(407, { keyUpdateAfterPackets: 40 });
  const sid = p.a.openStream(p.now, a, { mode: 'redundant', fec: 'off' });
  const data = payload(100 * KIB, 5);
  p.a.streamWrite(p.now, a, sid, data);
  p.a.streamEnd(p.now, a, sid);
  const rb = new Reader(p, 'b', b);
  runDelayed(p, p.now + 20_000, { delayMs: 10, afterDeliver: () => rb.drain() });
  t.ok(bytesEqual(rb.data(sid), data), 'byte-exact, nothing twice');
  const sent = p.a.paths(a).map((x) => x.streamBytesSent);
  t.ok(
    sent.every((s) => s >= data.length),
    `each path carried the whole stream: ${sent.join(', ')}`,
  );
  t.ok(p.a.sessionInfo(a).stats.keyUpdates >= 2, 'keys updated while two paths were in use');
});

t.test('a standby path carries nothing while an active one works, and takes over', async (t) => {
  const { p, a, b } = await twoPaths(408);
  p.a.setPathStandby(p.now, a, 1, true);
  const sid = p.a.openStream(p.now, a);
  const data = payload(400 * KIB, 6);
  p.a.streamWrite(p.now, a, sid, data);
  p.a.streamEnd(p.now, a, sid);
  const rb = new Reader(p, 'b', b);
  let halfAt: number | undefined;
  runDelayed(p, p.now + 30_000, {
    delayMs: 10,
    afterDeliver: () => {
      rb.drain();
      if (halfAt === undefined && rb.record(sid).bytes > 200 * KIB) {
        halfAt = p.now;
        t.equal(p.a.paths(a)[1]!.streamBytesSent, 0, 'nothing on standby so far');
      }
    },
    // Path 0 dies halfway: the standby must take the rest.
    drop: (tr) => halfAt !== undefined && !onLink2(tr),
  });
  t.ok(bytesEqual(rb.data(sid), data), 'byte-exact');
  const paths = p.a.paths(a);
  t.equal(paths[1]!.status, 'standby');
  t.ok(paths[1]!.streamBytesSent > 100 * KIB, `standby took over: ${paths[1]!.streamBytesSent}`);
  t.match(eventsOf(p, 'a', 'failover')[0], { from: 0, to: 1 });
});

t.test('pingPaths measures each usable path once, and skips paths taken down', async (t) => {
  const { p, a } = await twoPaths(515);
  p.events.a.length = 0;
  t.same(p.a.pingPaths(p.now, a), [0, 1]);
  runDelayed(p, p.now + 200, { delayMs: 10 });
  const pings = eventsOf(p, 'a', 'ping');
  t.same(pings.map((e) => e.pathId).sort(), [0, 1], 'one answer per path');
  for (const e of pings) {
    // 10 ms each way; the peer's reported ACK delay is taken out.
    t.ok(e.rttMs >= 20 && e.rttMs < 30, `path ${e.pathId}: ${e.rttMs} ms`);
  }
  p.a.setPathDown(p.now, a, 1, true);
  t.same(p.a.pingPaths(p.now, a), [0], 'a path taken down is not asked');
  // A marked packet that is lost is asked again on the path's next packet.
  p.events.a.length = 0;
  let dropped = 0;
  runDelayed(p, p.now + 3_000, {
    delayMs: 10,
    drop: (tr) => tr.from === A && dropped++ === 0,
  });
  t.same(
    eventsOf(p, 'a', 'ping').map((e) => e.pathId),
    [0],
    'answered after the loss',
  );
});
