import t from 'tap';
import {
  FecWindowDecoder,
  FecWindowEncoder,
  repairCoefficient,
  type RebuiltPacket,
  type RepairFrame,
} from '../dist/fec/index.js';

/** xorshift32: a seeded stream of uint32s, so every run sees the same losses. */
function prng(seed: number) {
  let s = seed >>> 0 || 1;
  const u32 = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  return { u32, chance: (p: number) => u32() / 2 ** 32 < p };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const key = (pathId: number, pn: number) => `${pathId}:${pn}`;

function packet(rand: ReturnType<typeof prng>, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => rand.u32() & 0xff);
}

function drain(enc: FecWindowEncoder): RepairFrame[] {
  const out: RepairFrame[] = [];
  for (let f = enc.pollRepair(); f; f = enc.pollRepair()) out.push(f);
  return out;
}

/** `n` packets of lengths 1 to 200 on path 0, numbered from `first`. */
function packets(rand: ReturnType<typeof prng>, n: number, first = 0) {
  return Array.from({ length: n }, (_, i) => ({
    pathId: 0,
    packetNumber: first + i,
    bytes: packet(rand, 1 + (rand.u32() % 200)),
  }));
}

t.test('one loss is rebuilt by the next repair, byte for byte', async (t) => {
  const rand = prng(1);
  const enc = new FecWindowEncoder({ maxDelayMs: 10 });
  const dec = new FecWindowDecoder();
  const sent = packets(rand, 5);
  for (const p of sent) enc.add(0, p.pathId, p.packetNumber, p.bytes, { k: 5, m: 1 });
  const [repair, ...more] = drain(enc);
  t.equal(more.length, 0, 'one repair for five packets');
  t.same(
    repair!.sources.map((s) => s.packetNumber),
    [0, 1, 2, 3, 4],
    'it covers the whole window',
  );
  for (const p of sent) if (p.packetNumber !== 2) dec.onPacket(1, 0, p.packetNumber, p.bytes);
  const rebuilt = dec.onRepair(1, repair!);
  t.equal(rebuilt.length, 1);
  t.equal(rebuilt[0]!.packetNumber, 2);
  t.equal(hex(rebuilt[0]!.bytes), hex(sent[2]!.bytes));
  t.equal(dec.stats().recovered, 1);
  t.equal(dec.stats().pendingEquations, 0, 'nothing left pending');
  t.same(dec.onRepair(1, repair!), [], 'the same repair again rebuilds nothing');
  t.equal(dec.stats().redundantRepairs, 1);
});

t.test(
  'every pattern of up to m losses among k packets, from m repairs (+2 for all)',
  async (t) => {
    // Random coefficients make a square system singular now and then (about 1 in 255 per
    // pivot); two repairs more than the losses make that vanishingly rare.
    const k = 12;
    const m = 4;
    const rand = prng(2);
    const sent = packets(rand, k);
    const enc = new FecWindowEncoder({ maxDelayMs: 10 });
    for (const p of sent) enc.add(0, p.pathId, p.packetNumber, p.bytes, { k, m: m + 2 });
    const repairs = drain(enc);
    t.equal(repairs.length, m + 2);
    let patterns = 0;
    let fromM = 0;
    let fromMore = 0;
    for (let mask = 1; mask < 1 << k; mask++) {
      const lost = [...Array(k).keys()].filter((i) => mask & (1 << i));
      if (lost.length > m) continue;
      patterns++;
      const dec = new FecWindowDecoder();
      for (const p of sent)
        if (!lost.includes(p.packetNumber)) dec.onPacket(0, 0, p.packetNumber, p.bytes);
      const got: RebuiltPacket[] = [];
      repairs.forEach((r, i) => {
        got.push(...dec.onRepair(0, r));
        if (i === m - 1 && got.length === lost.length) fromM++;
      });
      if (got.length === lost.length) fromMore++;
      for (const r of got)
        if (hex(r.bytes) !== hex(sent[r.packetNumber]!.bytes))
          t.fail(`wrong bytes for ${r.packetNumber}`);
    }
    t.equal(patterns, 12 + 66 + 220 + 495);
    t.ok(fromM / patterns >= 0.98, `${fromM} of ${patterns} from exactly m repairs`);
    t.equal(fromMore, patterns, 'every pattern with two repairs more');
  },
);

t.test('a packet that arrives after the repair is substituted, solving the other', async (t) => {
  const rand = prng(3);
  const sent = packets(rand, 4);
  const enc = new FecWindowEncoder({ maxDelayMs: 10 });
  for (const p of sent) enc.add(0, p.pathId, p.packetNumber, p.bytes, { k: 4, m: 1 });
  const [repair] = drain(enc);
  const dec = new FecWindowDecoder();
  dec.onPacket(0, 0, 0, sent[0]!.bytes);
  dec.onPacket(0, 0, 1, sent[1]!.bytes);
  t.same(dec.onRepair(0, repair!), [], 'two missing, one equation');
  t.equal(dec.stats().pendingEquations, 1);
  const rebuilt = dec.onPacket(0, 0, 3, sent[3]!.bytes);
  t.equal(rebuilt.length, 1, 'the late packet leaves one unknown');
  t.equal(hex(rebuilt[0]!.bytes), hex(sent[2]!.bytes));
});

t.test(
  'losses spread over many repairs are all rebuilt (sliding window, seeded run)',
  async (t) => {
    const rand = prng(4);
    const enc = new FecWindowEncoder({ maxDelayMs: 10 });
    const dec = new FecWindowDecoder();
    const sent = new Map<string, Uint8Array>();
    let lost = 0;
    let rebuilt = 0;
    const inFlight: number[] = [];
    for (let pn = 0; pn < 5000; pn++) {
      const now = pn;
      const bytes = packet(rand, 20 + (rand.u32() % 100));
      sent.set(key(0, pn), bytes);
      enc.add(now, 0, pn, bytes, { k: 4, m: 1 });
      inFlight.push(pn);
      if (rand.chance(0.05)) lost++;
      else dec.onPacket(now, 0, pn, bytes);
      for (const r of drain(enc)) {
        if (rand.chance(0.05)) continue;
        for (const p of dec.onRepair(now, r)) {
          rebuilt++;
          if (hex(p.bytes) !== hex(sent.get(key(p.pathId, p.packetNumber))!))
            t.fail(`wrong bytes for ${p.packetNumber}`);
        }
      }
      // The sender learns each fate 20 packets later (one round trip).
      while (inFlight.length > 20) enc.onOutcome(0, inFlight.shift()!);
    }
    t.ok(lost > 200, `${lost} lost`);
    t.ok(rebuilt >= lost * 0.97, `${rebuilt} of ${lost} rebuilt with 25% repair`);
    t.ok(rebuilt <= lost, 'nothing rebuilt that was not lost');
  },
);

t.test('the window: acknowledged packets leave it, an empty window owes nothing', async (t) => {
  const rand = prng(5);
  const enc = new FecWindowEncoder({ maxDelayMs: 10 });
  for (const p of packets(rand, 6)) enc.add(0, p.pathId, p.packetNumber, p.bytes, { k: 3, m: 1 });
  t.equal(enc.pendingRepairs, 2);
  enc.onOutcome(0, 0);
  enc.onOutcome(0, 4);
  const r = enc.pollRepair()!;
  t.same(
    r.sources.map((s) => s.packetNumber),
    [1, 2, 3, 5],
    'what the peer acknowledged is left out',
  );
  for (const pn of [1, 2, 3, 5]) enc.onOutcome(0, pn);
  t.equal(enc.pendingRepairs, 0, 'nothing to repair');
  t.equal(enc.pollRepair(), undefined);
  t.equal(enc.stats().repairsDropped, 1, 'the owed repair is dropped');
  t.equal(enc.stats().windowPackets, 0);
});

t.test('the time bound: a quiet stream still gets its repair', async (t) => {
  const rand = prng(6);
  const enc = new FecWindowEncoder({ maxDelayMs: 10 });
  enc.add(100, 0, 0, packet(rand, 50), { k: 8, m: 1 });
  t.equal(enc.pendingRepairs, 0, 'the ratio owes nothing yet');
  t.equal(enc.deadline(), 110);
  enc.onTimeout(105);
  t.equal(enc.pendingRepairs, 0, 'not before the bound');
  enc.onTimeout(110);
  t.equal(enc.pendingRepairs, 1, 'a repair is owed at the bound');
  t.equal(enc.deadline(), undefined, 'no deadline while a repair is owed');
  t.equal(enc.pollRepair()!.sources.length, 1);
  t.equal(enc.deadline(), undefined, 'everything is covered');
  enc.add(120, 0, 1, packet(rand, 50), { k: 8, m: 1 });
  t.equal(enc.deadline(), 130, 'a new packet starts a new bound');
});

t.test('bounds: window size and age, owed repairs, names that fit', async (t) => {
  const rand = prng(7);
  const enc = new FecWindowEncoder({
    maxDelayMs: 10,
    maxWindowSources: 8,
    maxOwedRepairs: 3,
    maxWindowMs: 100,
  });
  for (let pn = 0; pn < 20; pn++) enc.add(0, 0, pn, packet(rand, 10), { k: 1, m: 1 });
  t.equal(enc.stats().windowPackets, 8, 'window bounded by count');
  t.equal(enc.pendingRepairs, 3, 'owed repairs bounded');
  t.equal(enc.stats().repairsDropped, 17);
  t.same(
    enc.pollRepair()!.sources.map((s) => s.packetNumber),
    [12, 13, 14, 15, 16, 17, 18, 19],
    'the newest packets',
  );
  enc.onTimeout(101);
  t.equal(enc.stats().windowPackets, 0, 'window bounded by age');
  // Sources spread over many paths cannot all be named in the budget: the oldest go.
  const wide = new FecWindowEncoder({ maxDelayMs: 10, maxSourcesBytes: 24 });
  for (let path = 0; path < 6; path++)
    wide.add(0, path, 2 ** 40 + path, packet(rand, 10), { k: 6, m: 1 });
  const names = wide.pollRepair()!.sources.map((s) => s.pathId);
  t.ok(names.length < 6 && names.includes(5), `named ${names.join()}`);
  t.throws(() => new FecWindowEncoder({ maxDelayMs: -1 }), { code: 'ERR_BRAID_INVALID_OPTION' });
  t.throws(() => new FecWindowEncoder({ maxDelayMs: 1, maxWindowSources: 256 }), {
    code: 'ERR_BRAID_INVALID_OPTION',
  });
  t.throws(() => enc.add(0, 0, 99, packet(rand, 10), { k: 1, m: 9 }), {
    code: 'ERR_BRAID_FEC_PARAMS',
  });
  t.throws(() => enc.add(0, 0, 99, new Uint8Array(0), { k: 1, m: 1 }), RangeError);
});

t.test('decoder bounds: equations and packets by count and age', async (t) => {
  const rand = prng(8);
  const dec = new FecWindowDecoder({ maxEquations: 4, maxPackets: 16, maxAgeMs: 1000 });
  // Ten equations, each naming two packets never received: at most four are kept.
  for (let i = 0; i < 10; i++) {
    const frame: RepairFrame = {
      type: 'repair',
      repairId: i,
      sources: [
        { pathId: 0, packetNumber: 100 * i },
        { pathId: 0, packetNumber: 100 * i + 1 },
      ],
      data: packet(rand, 40),
    };
    dec.onRepair(0, frame);
  }
  t.equal(dec.stats().pendingEquations, 4);
  t.equal(dec.stats().unrecovered, 6, 'the oldest were dropped');
  for (let pn = 0; pn < 40; pn++) dec.onPacket(0, 1, pn, packet(rand, 10));
  t.equal(dec.stats().bufferedPackets, 16);
  dec.onPacket(1001, 2, 0, packet(rand, 10));
  t.equal(dec.stats().pendingEquations, 0, 'equations age out');
  t.equal(dec.stats().bufferedPackets, 1, 'packets age out');
});

t.test('impossible repairs: too short for a packet they name, or a garbage shard', async (t) => {
  const rand = prng(9);
  const dec = new FecWindowDecoder();
  dec.onPacket(0, 0, 0, packet(rand, 100));
  const short: RepairFrame = {
    type: 'repair',
    repairId: 0,
    sources: [
      { pathId: 0, packetNumber: 0 },
      { pathId: 0, packetNumber: 1 },
    ],
    data: packet(rand, 50),
  };
  t.same(dec.onRepair(0, short), []);
  t.equal(dec.stats().inconsistent, 1);
  // A repair naming one missing packet whose combination is no shard at all (length 0xffff).
  const garbage: RepairFrame = {
    ...short,
    sources: [{ pathId: 0, packetNumber: 7 }],
    data: new Uint8Array(200).fill(0xff),
  };
  t.same(dec.onRepair(0, garbage), []);
  t.equal(dec.stats().corrupt, 1, 'withheld, counted');
  t.equal(repairCoefficient(0, 0) > 0, true);
});
