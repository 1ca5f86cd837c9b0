import t from 'tap';
// Imported from the build directly until the package index exports FEC (session integration).
import {
  FecReceiveGroups,
  FecSendGroups,
  partialGroupParity,
  type FecParams,
  type RebuiltPacket,
  type RepairFrame,
} from '../dist/fec/index.js';

/** xorshift32: a seeded stream of uint32s, so every run sees the same losses. */
function prng(seed: number): {
  u32(): number;
  below(n: number): number;
  chance(p: number): boolean;
} {
  let s = seed >>> 0 || 1;
  const u32 = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  return { u32, below: (n) => u32() % n, chance: (p) => u32() / 2 ** 32 < p };
}

interface Sent {
  pathId: number;
  packetNumber: number;
  bytes: Uint8Array;
}

const key = (pathId: number, pn: number) => `${pathId}:${pn}`;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function randomPacket(rand: ReturnType<typeof prng>, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = rand.u32() & 0xff;
  return bytes;
}

function drain(send: FecSendGroups): RepairFrame[] {
  const out: RepairFrame[] = [];
  for (let f = send.pollRepair(); f; f = send.pollRepair()) out.push(f);
  return out;
}

t.test(
  'end to end: up to m erasures per group rebuild byte-exact, more rebuild nothing',
  async (t) => {
    const paramsChoices: FecParams[] = [
      { k: 1, m: 1 },
      { k: 4, m: 1 },
      { k: 4, m: 2 },
      { k: 8, m: 3 },
      { k: 16, m: 8 },
    ];
    let recoverable = 0;
    let unrecoverable = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const rand = prng(seed);
      const send = new FecSendGroups({ maxGroupDelayMs: 1_000_000, maxPendingRepairs: 10_000 });
      const sent = new Map<string, Sent>();
      const nextPn = [0, 0];
      let params = paramsChoices[rand.below(paramsChoices.length)]!;
      for (let i = 0; i < 200; i++) {
        if (rand.chance(0.02)) params = paramsChoices[rand.below(paramsChoices.length)]!;
        const pathId = rand.below(2);
        const packetNumber = nextPn[pathId]!++;
        const bytes = randomPacket(rand, 1 + rand.below(1400));
        sent.set(key(pathId, packetNumber), { pathId, packetNumber, bytes });
        send.add(0, pathId, packetNumber, bytes, params);
      }
      send.flush();
      const frames = drain(send);
      t.equal(send.repairsDropped, 0);

      // One delivery plan per group: erase some of its k + m shards, shuffle the rest a little.
      const groups = new Map<number, RepairFrame[]>();
      for (const f of frames) groups.set(f.groupId, [...(groups.get(f.groupId) ?? []), f]);
      const receive = new FecReceiveGroups();
      const expected = new Map<string, Uint8Array>(); // lost and recoverable: must come back
      const forbidden = new Set<string>(); // lost beyond m: must not come back
      // Sources of recoverable groups: one that is merely late may be rebuilt before it arrives.
      const mayRebuild = new Set<string>();
      let groupsSeen = 0; // groups with a repair delivered: the receiver knows of them
      let groupsStuck = 0; // of those, groups that lost more than m
      const got = new Map<string, Uint8Array>();
      const collect = (rebuilt: readonly RebuiltPacket[]) => {
        for (const p of rebuilt) {
          const k = key(p.pathId, p.packetNumber);
          if (got.has(k)) t.fail(`${k} rebuilt twice`);
          got.set(k, p.bytes);
        }
      };
      let grouped = 0;
      let now = 0;
      for (const repairs of groups.values()) {
        const { k, m, sources } = repairs[0]!;
        t.equal(repairs.length, m, 'all m repairs queued');
        grouped += k;
        const shards = k + m;
        const erasures = rand.chance(0.25) ? m + 1 + rand.below(k) : rand.below(m + 1);
        const erased = new Set<number>();
        while (erased.size < Math.min(erasures, shards)) erased.add(rand.below(shards));
        const lostSources = [...erased].filter((i) => i < k);
        if (erased.size <= m)
          for (const s of sources) mayRebuild.add(key(s.pathId, s.packetNumber));
        if ([...erased].filter((i) => i >= k).length < m) {
          groupsSeen++;
          if (erased.size > m) groupsStuck++;
        }
        for (const i of lostSources) {
          const s = sources[i]!;
          if (erased.size <= m)
            expected.set(
              key(s.pathId, s.packetNumber),
              sent.get(key(s.pathId, s.packetNumber))!.bytes,
            );
          else forbidden.add(key(s.pathId, s.packetNumber));
        }
        if (erased.size <= m) recoverable++;
        else unrecoverable++;
        const plan: (() => void)[] = [];
        for (let i = 0; i < shards; i++) {
          if (erased.has(i)) continue;
          if (i < k) {
            const s = sent.get(key(sources[i]!.pathId, sources[i]!.packetNumber))!;
            plan.push(() => collect(receive.onPacket(now, s.pathId, s.packetNumber, s.bytes)));
          } else {
            const f = repairs[i - k]!;
            plan.push(() => collect(receive.onRepair(now, f)));
          }
        }
        // Reordering: a repair may overtake sources, so rebuilding is triggered from onPacket too.
        for (let i = 0; i < plan.length; i++) {
          const j = i + rand.below(Math.min(3, plan.length - i));
          [plan[i], plan[j]] = [plan[j]!, plan[i]!];
        }
        for (const step of plan) {
          step();
          now += 1;
        }
      }
      t.equal(grouped, 200, 'every packet in exactly one group');
      for (const [k, bytes] of expected) {
        const rebuilt = got.get(k);
        if (rebuilt === undefined) t.fail(`seed ${seed}: ${k} not rebuilt`);
        else if (hex(rebuilt) !== hex(bytes)) t.fail(`seed ${seed}: ${k} rebuilt wrong`);
      }
      for (const [k, bytes] of got) {
        if (!mayRebuild.has(k)) t.fail(`seed ${seed}: ${k} rebuilt in a group that lost > m`);
        if (hex(bytes) !== hex(sent.get(k)!.bytes)) t.fail(`seed ${seed}: ${k} rebuilt wrong`);
      }
      for (const k of forbidden) if (got.has(k)) t.fail(`seed ${seed}: ${k} beyond m rebuilt`);
      const stats = receive.stats();
      t.equal(stats.recovered, got.size);
      t.ok(got.size >= expected.size);
      t.equal(stats.corrupt, 0);
      t.equal(stats.inconsistent, 0);
      t.equal(stats.pendingGroups, groupsStuck, 'groups that lost more than m wait');
      t.equal(stats.groupsComplete, groupsSeen - groupsStuck, 'the others are complete');
    }
    t.ok(
      recoverable > 100 && unrecoverable > 30,
      `${recoverable} recoverable, ${unrecoverable} not`,
    );
  },
);

t.test('the time bound closes a partial group as (n, m′) and it still repairs', async (t) => {
  const send = new FecSendGroups({ maxGroupDelayMs: 10 });
  t.equal(send.deadline(), undefined, 'no group, no deadline');
  const packets = [Uint8Array.of(1), Uint8Array.of(2, 2), Uint8Array.of(3, 3, 3)];
  packets.forEach((p, i) => send.add(i, 0, 100 + i, p, { k: 8, m: 4 }));
  t.equal(send.deadline(), 10, 'opened at 0');
  send.onTimeout(9.5);
  t.equal(send.pendingRepairs, 0, 'not due');
  send.onTimeout(10);
  t.equal(send.deadline(), undefined);
  t.equal(send.groupsClosed, 1);
  t.equal(send.groupsClosedEarly, 1);
  const frames = drain(send);
  t.equal(frames.length, 2, 'm′ = ceil(4 · 3 / 8) = 2');
  t.same(
    frames.map((f) => [f.k, f.m, f.index, f.data.length]),
    [
      [3, 2, 0, 5],
      [3, 2, 1, 5],
    ],
    'k is the actual count; shards are 2 + the longest packet',
  );
  const receive = new FecReceiveGroups();
  receive.onPacket(11, 0, 101, packets[1]!);
  t.same(receive.onRepair(12, frames[0]!), [], 'one source and one repair: two still missing');
  const rebuilt = receive.onRepair(13, frames[1]!);
  t.same(
    rebuilt.map((p) => [p.packetNumber, [...p.bytes]]),
    [
      [100, [1]],
      [102, [3, 3, 3]],
    ],
  );

  // A packet added after the deadline closes the old group first and opens a new one.
  send.add(20, 0, 200, Uint8Array.of(9), { k: 4, m: 2 });
  send.add(30, 0, 201, Uint8Array.of(9), { k: 4, m: 2 });
  t.equal(send.groupsClosed, 2);
  t.equal(send.openGroupPackets, 1);
  t.equal(send.deadline(), 40);
  t.same(
    drain(send).map((f) => [f.groupId, f.k, f.m]),
    [[1, 1, 1]],
    'a lone packet gets one repair',
  );
});

t.test('partial-group parity keeps the ratio, rounded up, at least one', async (t) => {
  t.equal(partialGroupParity(8, 8, 4), 4);
  t.equal(partialGroupParity(1, 8, 4), 1);
  t.equal(partialGroupParity(3, 8, 4), 2);
  t.equal(partialGroupParity(5, 16, 2), 1);
  t.equal(partialGroupParity(9, 16, 2), 2);
  t.equal(partialGroupParity(15, 16, 8), 8);
  for (let k = 1; k <= 32; k++)
    for (let m = 1; m <= 16; m++)
      for (let n = 1; n <= k; n++) {
        const p = partialGroupParity(n, k, m);
        if (p < 1 || p > m || p / n < m / k) t.fail(`n ${n} of (${k}, ${m}) → ${p}`);
      }
});

t.test('new parameters close the open group; group IDs increase', async (t) => {
  const send = new FecSendGroups({ maxGroupDelayMs: 100 });
  send.add(0, 0, 0, Uint8Array.of(1), { k: 4, m: 2 });
  send.add(0, 0, 1, Uint8Array.of(1), { k: 4, m: 2 });
  send.add(0, 0, 2, Uint8Array.of(1), { k: 4, m: 1 });
  t.equal(send.groupsClosed, 1);
  for (let pn = 3; pn < 6; pn++) send.add(0, 1, pn, Uint8Array.of(1), { k: 4, m: 1 });
  t.equal(send.groupsClosed, 2, 'the second group filled');
  t.same(
    drain(send).map((f) => [f.groupId, f.k, f.m, f.sources.map((s) => s.packetNumber)]),
    [
      [0, 2, 1, [0, 1]],
      [1, 4, 1, [2, 3, 4, 5]],
    ],
  );
  t.throws(() => send.add(0, 0, 9, Uint8Array.of(1), { k: 0, m: 1 }), {
    code: 'ERR_BRAID_FEC_PARAMS',
  });
  t.throws(() => send.add(0, 0, 9, Uint8Array.of(1), { k: 200, m: 56 }), {
    code: 'ERR_BRAID_FEC_PARAMS',
  });
  t.throws(() => send.add(0, 0, 9, Uint8Array.of(1), { k: 4, m: 0 }), {
    code: 'ERR_BRAID_FEC_PARAMS',
  });
  t.throws(() => send.add(0, 0, 9, new Uint8Array(0), { k: 4, m: 1 }), RangeError);
  t.throws(() => send.add(0, 0, 9, new Uint8Array(65_536), { k: 4, m: 1 }), RangeError);
  t.throws(() => new FecSendGroups({ maxGroupDelayMs: -1 }), { code: 'ERR_BRAID_INVALID_OPTION' });
});

t.test('sender bounds: open-group bytes and the repair queue', async (t) => {
  const send = new FecSendGroups({
    maxGroupDelayMs: 1000,
    maxOpenGroupBytes: 70_000,
    maxPendingRepairs: 5,
  });
  const big = new Uint8Array(30_000).fill(7);
  for (let pn = 0; pn < 5; pn++) {
    send.add(0, 0, pn, big, { k: 16, m: 3 });
    t.ok(send.openGroupBytes <= 70_000, 'open group within its byte bound');
    t.ok(send.pendingRepairs <= 5, 'queue within its bound');
  }
  // Groups of 2 packets (a third would pass 70 000 bytes): (2, 1) each.
  t.equal(send.groupsClosed, 2);
  t.equal(send.openGroupPackets, 1);

  const queue = new FecSendGroups({ maxGroupDelayMs: 1000, maxPendingRepairs: 5 });
  for (let pn = 0; pn < 6; pn++) queue.add(0, 0, pn, Uint8Array.of(pn + 1), { k: 2, m: 3 });
  t.equal(queue.repairFramesQueued, 9);
  t.equal(queue.pendingRepairs, 5);
  t.equal(queue.repairsDropped, 4);
  t.same(queue.stats(), {
    groupsClosed: 3,
    groupsClosedEarly: 0,
    repairFramesQueued: 9,
    repairsDropped: 4,
    pendingRepairs: 5,
    openGroupPackets: 0,
    openGroupBytes: 0,
  });
  t.same(
    drain(queue).map((f) => [f.groupId, f.index]),
    [
      [1, 1],
      [1, 2],
      [2, 0],
      [2, 1],
      [2, 2],
    ],
    'the oldest group loses its frames first',
  );
});

t.test('both sides copy what they keep: callers may reuse their buffers', async (t) => {
  const send = new FecSendGroups({ maxGroupDelayMs: 100 });
  const buffer = new Uint8Array(4);
  const originals = [Uint8Array.of(1, 2, 3, 4), Uint8Array.of(5, 6, 7, 8)];
  for (const [pn, packet] of originals.entries()) {
    buffer.set(packet);
    send.add(0, 0, pn, buffer, { k: 2, m: 1 });
    buffer.fill(0xee);
  }
  const [frame] = drain(send);
  const receive = new FecReceiveGroups();
  buffer.set(originals[1]!);
  receive.onPacket(0, 0, 1, buffer);
  buffer.fill(0xee);
  const dataBefore = hex(frame!.data);
  const rebuilt = receive.onRepair(0, frame!);
  frame!.data.fill(0); // the receiver copied the shard; the frame is the caller's
  t.equal(hex(rebuilt[0]!.bytes), hex(originals[0]!));
  t.equal(dataBefore.length, 2 * 6, 'shard of 2 + 4 bytes');
});

/** A (4, 2) group of four 40-byte packets whose bytes are all non-zero. */
function fourPacketGroup(seed: number): { packets: Uint8Array[]; frames: RepairFrame[] } {
  const rand = prng(seed);
  const send = new FecSendGroups({ maxGroupDelayMs: 100 });
  const packets = Array.from({ length: 4 }, () => {
    const p = randomPacket(rand, 40);
    for (let i = 0; i < p.length; i++) p[i] = (p[i]! % 255) + 1;
    return p;
  });
  packets.forEach((p, pn) => send.add(0, 3, pn, p, { k: 4, m: 2 }));
  return { packets, frames: drain(send) };
}

t.test(
  'a flipped bit in a repair shard never yields the original; length damage is caught',
  async (t) => {
    const { packets, frames } = fourPacketGroup(5);
    const shardBytes = frames[0]!.data.length;
    t.equal(shardBytes, 42);
    let caught = 0;
    let passedOn = 0;
    for (const lost of [0, 2])
      for (let bit = 0; bit < shardBytes * 8; bit++) {
        const receive = new FecReceiveGroups();
        for (let pn = 0; pn < 4; pn++) if (pn !== lost) receive.onPacket(0, 3, pn, packets[pn]!);
        const data = frames[0]!.data.slice();
        data[bit >> 3]! ^= 1 << (bit & 7);
        const rebuilt = receive.onRepair(0, { ...frames[0]!, data });
        // The decode coefficients of an MDS code are all non-zero, so the rebuilt shard differs
        // from the original in exactly the flipped byte.
        if (bit < 16) {
          // Length prefix: the length grows past the shard, or shrinks and exposes packet bytes
          // (all non-zero here) where padding must be zero.
          t.same(rebuilt, [], `length bit ${bit} refused`);
          t.equal(receive.corrupt, 1);
          caught++;
        } else {
          // Packet bytes: FEC cannot tell; the AEAD does when the packet is opened.
          t.equal(rebuilt.length, 1);
          const bytes = rebuilt[0]!.bytes;
          t.equal(bytes.length, 40);
          t.not(hex(bytes), hex(packets[lost]!), `bit ${bit} changes the packet`);
          t.equal(
            bytes.reduce((n, b, i) => n + (b !== packets[lost]![i] ? 1 : 0), 0),
            1,
            'in one byte',
          );
          receive.onRebuiltRejected();
          t.equal(receive.stats().rebuiltRejected, 1);
          passedOn++;
        }
      }
    t.equal(caught, 32);
    t.equal(passedOn, 2 * 40 * 8);

    // Shorter packets leave padding: a flip there is refused, a length that grows into it gives
    // a longer packet (not the original, so the AEAD refuses it).
    const send = new FecSendGroups({ maxGroupDelayMs: 100 });
    const short = Uint8Array.of(1, 2, 3);
    send.add(0, 0, 0, short, { k: 2, m: 1 });
    send.add(0, 0, 1, new Uint8Array(10).fill(9), { k: 2, m: 1 });
    const [frame] = drain(send);
    for (let bit = 0; bit < frame!.data.length * 8; bit++) {
      const receive = new FecReceiveGroups();
      receive.onPacket(0, 0, 1, new Uint8Array(10).fill(9));
      const data = frame!.data.slice();
      data[bit >> 3]! ^= 1 << (bit & 7);
      const rebuilt = receive.onRepair(0, { ...frame!, data });
      for (const p of rebuilt) t.not(hex(p.bytes), hex(short), `bit ${bit}`);
      if (bit >= (2 + short.length) * 8) t.same(rebuilt, [], `padding bit ${bit} refused`);
    }
  },
);

t.test(
  'a kept packet longer than the shard: the repair is not for it, nothing is rebuilt',
  async (t) => {
    const { frames } = fourPacketGroup(6);
    const receive = new FecReceiveGroups();
    receive.onPacket(0, 3, 0, new Uint8Array(41).fill(1)); // 41 + 2 > 42
    receive.onPacket(0, 3, 1, new Uint8Array(40).fill(1));
    t.same(receive.onRepair(0, frames[0]!), [], 'one repair for two missing: waits');
    t.same(receive.onRepair(0, frames[1]!), [], 'decodable, but refused');
    t.equal(receive.corrupt, 2, 'the two missing packets withheld');
    t.same(receive.onRepair(0, frames[0]!), [], 'finished: a late repair');
    t.equal(receive.stats().lateRepairs, 1);
  },
);

t.test('inconsistent, duplicate and late repairs are counted and ignored', async (t) => {
  const { packets, frames } = fourPacketGroup(7);
  const receive = new FecReceiveGroups();
  receive.onPacket(0, 3, 0, packets[0]!);
  receive.onPacket(0, 3, 1, packets[1]!);
  t.same(receive.onRepair(0, frames[0]!), []);
  t.same(receive.onRepair(0, frames[0]!), [], 'duplicate index');
  const other = (change: Partial<RepairFrame>) => receive.onRepair(0, { ...frames[1]!, ...change });
  t.same(other({ data: new Uint8Array(43) }), [], 'other shard size');
  t.same(other({ k: 3, sources: frames[1]!.sources.slice(0, 3) }), [], 'other k');
  t.same(other({ m: 3 }), [], 'other m');
  const sources = [...frames[1]!.sources];
  sources[3] = { pathId: 3, packetNumber: 99 };
  t.same(other({ sources }), [], 'other sources');
  t.same(other({ index: 5 }), [], 'invalid on its face');
  const stats = receive.stats();
  t.equal(stats.inconsistent, 5);
  t.equal(stats.duplicateRepairs, 1);
  t.equal(stats.pendingGroups, 1);
  const rebuilt = receive.onRepair(0, frames[1]!);
  t.same(
    rebuilt.map((p) => hex(p.bytes)),
    [hex(packets[2]!), hex(packets[3]!)],
    'the consistent repairs still rebuild',
  );
  t.same(receive.onRepair(0, frames[1]!), [], 'late');
  t.same(receive.onPacket(1, 3, 2, packets[2]!), [], 'the original arriving late rebuilds nothing');
  t.equal(receive.stats().lateRepairs, 1);
  t.equal(receive.recovered, 2);
  t.equal(receive.groupsComplete, 1);
  t.equal(receive.stats().pendingGroups, 0);
  t.equal(receive.stats().bufferedRepairBytes, 0);
});

t.test(
  'a group whose sources all arrived finishes at its first repair, holding nothing',
  async (t) => {
    const { packets, frames } = fourPacketGroup(8);
    const receive = new FecReceiveGroups();
    packets.forEach((p, pn) => receive.onPacket(0, 3, pn, p));
    t.same(receive.onRepair(0, frames[1]!), []);
    t.same(receive.onRepair(0, frames[0]!), []);
    const stats = receive.stats();
    t.equal(stats.groupsComplete, 1);
    t.equal(stats.lateRepairs, 1);
    t.equal(stats.pendingGroups, 0);
    t.equal(stats.bufferedRepairBytes, 0);
    t.equal(stats.recovered, 0);
  },
);

t.test('a source arriving after the repairs completes its group', async (t) => {
  const { packets, frames } = fourPacketGroup(9);
  const receive = new FecReceiveGroups();
  t.same(receive.onRepair(0, frames[0]!), []);
  t.same(receive.onRepair(0, frames[1]!), []);
  t.same(receive.onPacket(0, 3, 0, packets[0]!), []);
  const rebuilt = receive.onPacket(0, 3, 3, packets[3]!);
  t.same(
    rebuilt.map((p) => [p.pathId, p.packetNumber, hex(p.bytes)]),
    [
      [3, 1, hex(packets[1]!)],
      [3, 2, hex(packets[2]!)],
    ],
  );
  t.same(receive.onPacket(0, 3, 0, Uint8Array.of(1)), [], 'a repeat is ignored');
});

t.test('receiver bounds: packets, groups, repair bytes and age', async (t) => {
  const limits = { maxPackets: 16, maxGroups: 4, maxRepairBytes: 70_000, maxAgeMs: 500 };
  const receive = new FecReceiveGroups(limits);
  const rand = prng(3);
  let now = 0;
  let groups = 0;
  const check = () => {
    const s = receive.stats();
    if (
      s.bufferedPackets > limits.maxPackets ||
      s.pendingGroups > limits.maxGroups ||
      s.bufferedRepairBytes > limits.maxRepairBytes
    )
      t.fail(`over a bound at ${now}: ${JSON.stringify(s)}`);
  };
  // Groups of (6, 3) with 10 000-byte shards, each missing two sources and given one repair:
  // none completes, so only the bounds free memory.
  for (let g = 0; g < 40; g++) {
    const sources = Array.from({ length: 6 }, (_, i) => ({ pathId: 0, packetNumber: g * 6 + i }));
    for (const s of sources.slice(2)) {
      receive.onPacket(now, s.pathId, s.packetNumber, randomPacket(rand, 1 + rand.below(9_998)));
      check();
    }
    for (let index = 0; index < 1 + (g % 2); index++) {
      const frame: RepairFrame = {
        type: 'repair',
        groupId: g,
        k: 6,
        m: 3,
        index,
        sources,
        data: randomPacket(rand, 10_000),
      };
      const rebuilt = receive.onRepair(now, frame);
      if (index === 1) t.ok(rebuilt.length <= 2); // two repairs for two missing: decodes (garbage)
      check();
    }
    groups++;
    now += 5;
  }
  const s = receive.stats();
  t.ok(s.unrecoverable > 0, `${s.unrecoverable} groups given up to bounds`);
  t.equal(
    s.groupsComplete + s.unrecoverable + s.pendingGroups,
    groups,
    'every group accounted for',
  );
  receive.expire(now + 500);
  t.same(
    [
      receive.stats().bufferedPackets,
      receive.stats().pendingGroups,
      receive.stats().bufferedRepairBytes,
    ],
    [0, 0, 0],
    'all aged out',
  );
  t.equal(receive.unrecoverable, s.unrecoverable + s.pendingGroups, 'pending ones counted too');
  t.throws(() => new FecReceiveGroups({ maxRepairBytes: 1000 }), {
    code: 'ERR_BRAID_INVALID_OPTION',
  });
  t.throws(() => new FecReceiveGroups({ maxPackets: 0 }), { code: 'ERR_BRAID_INVALID_OPTION' });
});

t.test('remembered finished groups are bounded', async (t) => {
  const receive = new FecReceiveGroups({ maxCompletedGroups: 2 });
  const frame = (groupId: number): RepairFrame => ({
    type: 'repair',
    groupId,
    k: 1,
    m: 1,
    index: 0,
    sources: [{ pathId: 0, packetNumber: groupId }],
    data: Uint8Array.of(0, 1, groupId),
  });
  for (let g = 0; g < 3; g++) t.same(receive.onRepair(0, frame(g))[0]!.bytes, [g]);
  t.same(receive.onRepair(0, frame(2)), [], 'group 2 remembered');
  t.equal(receive.onRepair(0, frame(0)).length, 1, 'group 0 forgotten: rebuilt again');
});
