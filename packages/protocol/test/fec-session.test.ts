/**
 * FEC in the session, end to end over the test pair (docs/fec.md): protected packets are
 * grouped, repairs rebuild lost ones, what is rebuilt is accepted only if it authenticates, and
 * groups span paths. Loss comes from a seeded generator, so each case replays exactly.
 */
import t from 'tap';
import {
  bytesEqual,
  createSeededRandom,
  type EndpointOptions,
  type FecSetting,
  type Transmit,
} from '@braid/protocol';
import { A, B } from './support/pair.js';
import { connected, payload, Reader, runDelayed, type Connected } from './support/sessions.js';

const KIB = 1024;
const A2 = '198.51.100.2:4433';
const B2 = '203.0.113.2:4433';

/** Drops datagrams with probability `loss`, in bursts of mean length `burst` (Gilbert–Elliott). */
function lossy(seed: number, loss: number, burst = 1): (tr: Transmit) => boolean {
  const rnd = createSeededRandom(seed);
  const uniform = () => rnd.nextU32() / 2 ** 32;
  // Bad state always drops; leaving it has probability 1 / burst; entering it is set so that
  // the long-run loss is `loss`.
  const r = 1 / burst;
  const p = loss >= 1 ? 1 : (r * loss) / (1 - loss);
  let bad = false;
  return () => {
    if (burst <= 1) return uniform() < loss;
    bad = bad ? uniform() >= r : uniform() < p;
    return bad;
  };
}

/** A writes `bytes` on one stream with `fec`; B reads; returns what B read and the stats. */
function transfer(c: Connected, bytes: number, fec: FecSetting, drop: (tr: Transmit) => boolean) {
  const { p, a, b } = c;
  const data = payload(bytes, 7);
  const sid = p.a.openStream(p.now, a, { mode: 'low-latency', fec });
  const rb = new Reader(p, 'b', b);
  let written = 0;
  const pump = () => {
    rb.drain();
    for (let e = p.a.pollEvent(); e; e = p.a.pollEvent()) p.events.a.push(e);
    while (written < data.length) {
      // Written in 1 KB messages, a few at a time, as a low-latency application would.
      const n = p.a.streamWrite(p.now, a, sid, data.subarray(written, written + KIB));
      if (n === 0) break;
      written += n;
      if (written % (8 * KIB) === 0) break;
    }
    if (written === data.length) {
      try {
        p.a.streamEnd(p.now, a, sid);
      } catch {
        // already ended
      }
    }
  };
  pump();
  runDelayed(p, p.now + 120_000, { delayMs: 20, drop, afterDeliver: pump });
  return {
    ok: bytesEqual(rb.data(sid), data),
    a: p.a.sessionInfo(a).stats,
    b: p.b.sessionInfo(b).stats,
  };
}

for (const burst of [1, 3])
  for (const loss of [0, 0.05, 0.2, 0.3])
    t.test(
      `byte-exact with FEC at ${loss * 100}% loss${burst > 1 ? `, bursts of ${burst}` : ''}`,
      async (t) => {
        const seed = 700 + loss * 100 + burst;
        const c = await connected(seed, {}, {}, 20);
        const drop = lossy(seed, loss, burst);
        // Loss both ways: repairs and ACKs are lost too.
        const r = transfer(c, 256 * KIB, { k: 8, m: 3 }, (tr) => tr.from !== tr.to && drop(tr));
        t.ok(r.ok, 'every byte delivered, in order');
        t.ok(r.a.fecProtectedPackets > 100, `${r.a.fecProtectedPackets} packets protected`);
        t.ok(r.a.fecRepairPackets > 0, 'repairs sent');
        if (loss === 0) t.equal(r.b.fecRecoveredPackets, 0, 'nothing to rebuild');
        else t.ok(r.b.fecRecoveredPackets > 0, `${r.b.fecRecoveredPackets} packets rebuilt`);
        t.equal(r.b.fecRebuiltRejected, 0, 'every rebuilt packet authenticated');
        t.equal(
          r.a.fecPeerRecoveredPackets,
          r.b.fecRecoveredPackets > 0 ? r.a.fecPeerRecoveredPackets : 0,
        );
      },
    );

t.test('auto on a clean path sends no repair; on a lossy one it adapts', async (t) => {
  // Until the estimate settles (1,000 outcomes without a loss) `auto` sends its prior, 1 repair
  // per 8 packets; after that, nothing.
  const cc = await connected(801, {}, {}, 20);
  const first = transfer(cc, 512 * KIB, 'auto', () => false);
  t.ok(first.a.fecRepairPackets > 0, `the prior's repairs: ${first.a.fecRepairPackets}`);
  // 1 per 8 by the ratio, and the time bound's after each burst of 8 KB goes quiet.
  t.ok(
    first.a.fecRepairPackets <= first.a.fecProtectedPackets / 4,
    `${first.a.fecRepairPackets} repairs for ${first.a.fecProtectedPackets} protected packets`,
  );
  const clean = transfer(cc, 2 * 1024 * KIB, 'auto', () => false);
  const settled = transfer(cc, 512 * KIB, 'auto', () => false);
  t.ok(clean.ok && settled.ok, 'byte-exact');
  t.equal(
    settled.a.fecRepairPackets,
    clean.a.fecRepairPackets,
    'no repair once the estimate settled without loss',
  );
  t.equal(settled.a.fecProtectedPackets, clean.a.fecProtectedPackets, 'nothing protected either');
  const c = await connected(802, {}, {}, 20);
  const drop = lossy(802, 0.05);
  const lossyRun = transfer(c, 512 * KIB, 'auto', (tr) => tr.to === B && drop(tr));
  t.ok(lossyRun.ok, 'byte-exact');
  t.ok(
    lossyRun.a.fecRepairPackets > 0,
    `repairs once loss was seen: ${lossyRun.a.fecRepairPackets}`,
  );
  const path = c.p.a.paths(c.a)[0]!;
  t.ok(path.fecLossRate > 0.02 && path.fecLossRate < 0.1, `estimate ${path.fecLossRate}`);
  t.ok(path.fecK > 0 && path.fecM > 0, `auto chose (${path.fecK}, ${path.fecM})`);
  // The other direction saw no loss: B's estimate of its own sending path stays clean.
  t.equal(c.p.b.paths(c.b)[0]!.fecLossRate, 0, 'each direction adapts on its own');
});

t.test('a corrupted repair never yields accepted data', async (t) => {
  const c = await connected(803, {}, {}, 20);
  const { p, a, b } = c;
  const sid = p.a.openStream(p.now, a, { mode: 'low-latency', fec: { k: 4, m: 1 } });
  const data = payload(4 * KIB, 3);
  p.a.streamWrite(p.now, a, sid, data);
  // Capture A's four protected packets and its repair; deliver three packets and a repair
  // whose shard is flipped, so B rebuilds garbage for the fourth.
  const held: Transmit[] = [];
  const rb = new Reader(p, 'b', b);
  // Nothing reaches B meanwhile (A's own repair neither): the protected packets are kept.
  runDelayed(p, p.now + 5, {
    delayMs: 1,
    drop: (tr) => {
      if (tr.to !== B) return false;
      if ((tr.bytes[0]! & 0x08) !== 0) held.push(tr);
      return true;
    },
  });
  t.ok(held.length >= 4, `${held.length} protected packets held`);
  // A corrupted repair packet fails its own AEAD; what must be shown is that a repair that
  // authenticates but carries a wrong shard (a buggy or hostile peer) rebuilds nothing
  // accepted. A seals such a REPAIR frame, naming the four held packets, and B gets three.
  const before = p.b.sessionInfo(b).stats.fecRebuiltRejected;
  for (const tr of held.slice(0, 3)) p.b.handleDatagram(p.now, { local: B, remote: A }, tr.bytes);
  const frameFor = (pns: number[]) => ({
    type: 'repair' as const,
    repairId: 1_000_000,
    sources: [...pns].sort((x, y) => x - y).map((packetNumber) => ({ pathId: 0, packetNumber })),
    data: new Uint8Array(Math.max(...held.map((h) => h.bytes.length)) + 2).fill(0x5a),
  });
  const pnOf = (tr: Transmit) =>
    new DataView(tr.bytes.buffer, tr.bytes.byteOffset + 9, 4).getUint32(0);
  const recoveredBefore = p.b.sessionInfo(b).stats.fecRecoveredPackets;
  p.a.injectFrames(p.now, a, [frameFor(held.slice(0, 4).map(pnOf))]);
  const forged = p.a.pollTransmit(p.now);
  t.ok(forged, 'the forged repair went out');
  p.b.handleDatagram(p.now, { local: B, remote: A }, forged!.bytes);
  rb.drain();
  const s = p.b.sessionInfo(b).stats;
  t.ok(s.fecRebuiltRejected > before, `rejected: ${s.fecRebuiltRejected}`);
  t.equal(s.fecRecoveredPackets, recoveredBefore, 'nothing accepted from it');
  const read = rb.data(sid);
  t.ok(bytesEqual(read, data.subarray(0, read.length)), 'what B read is what A wrote');
  t.equal(p.b.sessionInfo(b).state, 'established', 'and the session lives on');
  // Everything still arrives, through retransmission.
  runDelayed(p, p.now + 10_000, { delayMs: 1, afterDeliver: () => rb.drain() });
  t.ok(bytesEqual(rb.data(sid), data), 'byte-exact after retransmission');
});

t.test('FEC with two paths: groups span the paths and rebuild on both', async (t) => {
  const twoLinks: Partial<EndpointOptions> = {
    pathFilter: (l, r) => (l === A || l === B) === (r === A || r === B),
    localAddresses: [A, A2],
  };
  const c = await connected(804, twoLinks, { localAddresses: [B, B2] }, 20);
  runDelayed(c.p, c.p.now + 500, { delayMs: 20 });
  t.equal(c.p.a.paths(c.a).filter((x) => x.status === 'active').length, 2, 'two paths up');
  const drop = lossy(804, 0.1);
  const r = transfer(c, 512 * KIB, { k: 8, m: 3 }, (tr) => tr.to !== tr.from && drop(tr));
  t.ok(r.ok, 'byte-exact');
  const paths = c.p.b.paths(c.b);
  for (const path of paths)
    t.ok(path.fecRecoveredPackets > 0, `path ${path.id}: ${path.fecRecoveredPackets} rebuilt`);
  t.ok(
    c.p.a.paths(c.a).every((x) => x.fecProtectedPackets > 0),
    'both paths carried protected packets',
  );
});
