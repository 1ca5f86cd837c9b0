import t from 'tap';
import { FecError, MAX_TOTAL_SHARDS, ReedSolomon } from '@braid/fec';
import { dataAndParity, prng, withMissing } from './support/shards.js';

t.test('bad shard counts are refused with ERR_BRAID_FEC_PARAMS', (t) => {
  const bad: [number, number][] = [
    [0, 1],
    [-1, 2],
    [1.5, 1],
    [Number.NaN, 1],
    [Infinity, 1],
    [4, -1],
    [4, 0.5],
    [200, 56],
    [MAX_TOTAL_SHARDS, 1],
    [1, MAX_TOTAL_SHARDS],
  ];
  for (const [k, m] of bad)
    t.throws(
      () => new ReedSolomon(k, m),
      { code: 'ERR_BRAID_FEC_PARAMS', name: 'FecParamsError' },
      `k=${k} m=${m}`,
    );
  t.throws(() => new ReedSolomon(2, 2, { decodeCacheEntries: -1 }), {
    code: 'ERR_BRAID_FEC_PARAMS',
  });
  t.throws(() => new ReedSolomon(2, 2, { decodeCacheEntries: 1.5 }), {
    code: 'ERR_BRAID_FEC_PARAMS',
  });
  t.end();
});

t.test('the limits themselves are accepted: k + m = 255, k = 1, m = 0', (t) => {
  t.equal(new ReedSolomon(200, 55).totalShards, 255);
  t.equal(new ReedSolomon(254, 1).totalShards, 255);
  t.equal(new ReedSolomon(1, 254).totalShards, 255);
  const none = new ReedSolomon(3, 0);
  const shards = dataAndParity(prng(3), 3, 0, 8);
  none.encode(shards);
  t.equal(none.verify(shards), true);
  none.reconstruct(shards.slice());
  t.throws(() => none.reconstruct(withMissing(shards, [1])), {
    code: 'ERR_BRAID_FEC_TOO_FEW_SHARDS',
  });
  t.end();
});

t.test('errors are FecErrors with a name, a code and a message that says what is wrong', (t) => {
  const rs = new ReedSolomon(3, 2);
  const shards = dataAndParity(prng(1), 3, 2, 16);
  shards[4] = new Uint8Array(15);
  const err = t.throws(() => rs.encode(shards)) as FecError;
  t.ok(err instanceof FecError);
  t.ok(err instanceof Error);
  t.equal(err.name, 'ShardSizeError');
  t.equal(err.code, 'ERR_BRAID_FEC_SHARD_SIZE');
  t.match(err.message, /shards\[4\] is 15 bytes, expected 16/);
  t.end();
});

t.test('encode and verify need exactly k + m present shards of one size', (t) => {
  const rs = new ReedSolomon(3, 2);
  const good = (): Uint8Array[] => dataAndParity(prng(2), 3, 2, 16);
  for (const call of [(s: Uint8Array[]) => rs.encode(s), (s: Uint8Array[]) => rs.verify(s)]) {
    t.throws(() => call(good().slice(0, 4)), { code: 'ERR_BRAID_FEC_SHARD_COUNT' });
    t.throws(() => call([...good(), new Uint8Array(16)]), { code: 'ERR_BRAID_FEC_SHARD_COUNT' });
    const missingData = good() as (Uint8Array | null)[];
    missingData[1] = null;
    t.throws(() => call(missingData as Uint8Array[]), {
      code: 'ERR_BRAID_FEC_SHARD_MISSING',
      message: /shards\[1\]/,
    });
    const shortData = good();
    shortData[0] = new Uint8Array(17);
    t.throws(() => call(shortData), { code: 'ERR_BRAID_FEC_SHARD_SIZE' });
  }
  t.end();
});

t.test('encodeParity needs k data shards and m parity shards of the data size', (t) => {
  const rs = new ReedSolomon(3, 2);
  const [a, b, c, p, q] = dataAndParity(prng(4), 3, 2, 8) as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  t.throws(() => rs.encodeParity([a, b], [p, q]), {
    code: 'ERR_BRAID_FEC_SHARD_COUNT',
    message: /3 data shards/,
  });
  t.throws(() => rs.encodeParity([a, b, c], [p]), {
    code: 'ERR_BRAID_FEC_SHARD_COUNT',
    message: /2 parity shards/,
  });
  t.throws(() => rs.encodeParity([a, b, c], [p, new Uint8Array(9)]), {
    code: 'ERR_BRAID_FEC_SHARD_SIZE',
    message: /parity shards\[1\] is 9 bytes, expected 8/,
  });
  t.end();
});

t.test('reconstruct refuses too few shards, wrong counts and mismatched sizes', (t) => {
  const rs = new ReedSolomon(4, 2);
  const shards = dataAndParity(prng(5), 4, 2, 10);
  rs.encode(shards);
  t.throws(() => rs.reconstruct(withMissing(shards, [0, 2, 5])), {
    code: 'ERR_BRAID_FEC_TOO_FEW_SHARDS',
    message: /3 shards present, 4 needed/,
  });
  t.throws(() => rs.reconstruct(withMissing(shards, [0, 1, 2, 3, 4, 5])), {
    code: 'ERR_BRAID_FEC_TOO_FEW_SHARDS',
  });
  t.throws(() => rs.reconstruct(withMissing(shards, [0]).slice(1)), {
    code: 'ERR_BRAID_FEC_SHARD_COUNT',
  });
  const uneven = withMissing(shards, [0]);
  uneven[3] = new Uint8Array(11);
  t.throws(() => rs.reconstruct(uneven), {
    code: 'ERR_BRAID_FEC_SHARD_SIZE',
    message: /shards\[3\] is 11 bytes/,
  });
  const flags = shards.map(() => true);
  t.throws(() => rs.reconstruct(shards.slice(), { present: flags.slice(1) }), {
    code: 'ERR_BRAID_FEC_SHARD_COUNT',
  });
  t.throws(() => rs.reconstruct(withMissing(shards, [2]), { present: flags }), {
    code: 'ERR_BRAID_FEC_SHARD_MISSING',
    message: /shards\[2\]/,
  });
  t.end();
});

t.test('a refused reconstruct leaves the caller’s shards untouched', (t) => {
  const rs = new ReedSolomon(4, 2);
  const shards = dataAndParity(prng(6), 4, 2, 10);
  rs.encode(shards);
  const slots = withMissing(shards, [0, 1, 2]);
  const before = slots.map((s) => s?.slice());
  t.throws(() => rs.reconstruct(slots));
  t.same(slots, before);
  t.end();
});
