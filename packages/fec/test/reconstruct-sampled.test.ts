import t from 'tap';
import { ReedSolomon } from '@braid/fec';
import {
  dataAndParity,
  firstDifference,
  prng,
  randomSubset,
  withMissing,
} from './support/shards.js';

// Large codes, sampled: random patterns of exactly m missing shards (the hardest case) and of
// fewer, with a seeded generator so a failure replays.
const cases = [
  { k: 10, m: 4, shardBytes: 1400, patterns: 200 },
  { k: 17, m: 3, shardBytes: 1001, patterns: 100 },
  { k: 200, m: 55, shardBytes: 64, patterns: 40 },
];

for (const { k, m, shardBytes, patterns } of cases)
  t.test(`k=${k}, m=${m}: ${patterns} sampled erasure patterns are rebuilt`, (t) => {
    const random = prng(k * 1000 + m);
    const rs = new ReedSolomon(k, m);
    const shards = dataAndParity(random, k, m, shardBytes);
    rs.encode(shards);
    t.equal(rs.verify(shards), true);
    const failures: string[] = [];
    for (let p = 0; p < patterns; p++) {
      const lost = p % 4 === 3 ? 1 + Math.floor(random() * m) : m;
      const missing = randomSubset(random, k + m, lost);
      const rebuilt = withMissing(shards, missing);
      rs.reconstruct(rebuilt);
      const difference = firstDifference(rebuilt, shards);
      if (difference !== undefined) failures.push(`missing [${missing}]: ${difference}`);
    }
    t.same(failures, []);
    t.end();
  });

t.test('k=10, m=4: losing all four parity shards or the last four data shards', (t) => {
  const rs = new ReedSolomon(10, 4);
  const shards = dataAndParity(prng(9), 10, 4, 1400);
  rs.encode(shards);
  for (const missing of [
    [10, 11, 12, 13],
    [6, 7, 8, 9],
    [0, 9, 10, 13],
  ]) {
    const rebuilt = withMissing(shards, missing);
    rs.reconstruct(rebuilt);
    t.equal(firstDifference(rebuilt, shards), undefined, `missing [${missing}]`);
  }
  t.end();
});
