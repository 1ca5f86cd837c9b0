import t from 'tap';
import { ReedSolomon } from '@braid/fec';
import { dataAndParity, firstDifference, prng, subsets, withMissing } from './support/shards.js';

// Every erasure pattern of every small code: all (k, m) with k + m ≤ 8, every set of at most m
// missing shards, rebuilt three ways (new buffers, caller's buffers, data only). 75-byte shards
// go through every part of the coding loop: 16 words unrolled, 2 more words, 3 tail bytes.
const SHARD_BYTES = 75;
const TOTAL_SHARDS_MAX = 8;

for (let n = 2; n <= TOTAL_SHARDS_MAX; n++)
  for (let m = 1; m < n; m++) {
    const k = n - m;
    t.test(`k=${k}, m=${m}: every pattern of up to ${m} missing shards is rebuilt`, (t) => {
      const rs = new ReedSolomon(k, m);
      const shards = dataAndParity(prng(n * 31 + m), k, m, SHARD_BYTES);
      rs.encode(shards);
      const failures: string[] = [];
      let patterns = 0;
      for (let lost = 0; lost <= m; lost++)
        for (const missing of subsets(n, lost)) {
          patterns++;
          const fresh = withMissing(shards, missing);
          rs.reconstruct(fresh);
          const d1 = firstDifference(fresh, shards);
          if (d1 !== undefined) failures.push(`[${missing}] new buffers: ${d1}`);

          // The caller's buffers, with garbage where shards are missing.
          const owned = shards.map((s, i) =>
            missing.includes(i) ? s.map((b) => b ^ 0xa5) : s.slice(),
          );
          rs.reconstruct(owned, { present: shards.map((_, i) => !missing.includes(i)) });
          const d2 = firstDifference(owned, shards);
          if (d2 !== undefined) failures.push(`[${missing}] caller's buffers: ${d2}`);

          const dataOnly = withMissing(shards, missing);
          rs.reconstruct(dataOnly, { dataOnly: true });
          const d3 = firstDifference(dataOnly.slice(0, k), shards.slice(0, k));
          if (d3 !== undefined) failures.push(`[${missing}] data only: ${d3}`);
          for (const i of missing)
            if (i >= k && dataOnly[i] !== null)
              failures.push(`[${missing}] data only wrote parity ${i}`);
        }
      t.same(failures, [], `${patterns} patterns`);
      t.end();
    });
  }

t.test('one shard more than m missing is refused, every pattern, for k=4, m=3', (t) => {
  const rs = new ReedSolomon(4, 3);
  const shards = dataAndParity(prng(1), 4, 3, 5);
  rs.encode(shards);
  let refused = 0;
  for (const missing of subsets(7, 4)) {
    t.throws(() => rs.reconstruct(withMissing(shards, missing)), {
      code: 'ERR_BRAID_FEC_TOO_FEW_SHARDS',
    });
    refused++;
  }
  t.equal(refused, 35);
  t.end();
});
