import t from 'tap';
import { ReedSolomon } from '@braid/fec';
import { dataAndParity, firstDifference, prng, withMissing } from './support/shards.js';

const shards = dataAndParity(prng(7), 6, 3, 32);
new ReedSolomon(6, 3).encode(shards);

function rebuild(rs: ReedSolomon, missing: number[], dataOnly = false): void {
  const slots = withMissing(shards, missing);
  rs.reconstruct(slots, { dataOnly });
  const checked = dataOnly ? slots.slice(0, 6) : slots;
  const difference = firstDifference(checked, shards.slice(0, checked.length));
  if (difference !== undefined) throw new Error(`missing [${missing}]: ${difference}`);
}

t.test('a repeated erasure pattern is decoded from the cache', (t) => {
  const rs = new ReedSolomon(6, 3);
  rebuild(rs, [1, 7]);
  rebuild(rs, [1, 7]);
  rebuild(rs, [1, 7]);
  t.same(rs.stats(), { decodeCacheEntries: 1, decodeCacheHits: 2, decodeCacheMisses: 1 });
  // Same losses, data only: another set of rows to compute, so another entry.
  rebuild(rs, [1, 7], true);
  t.same(rs.stats(), { decodeCacheEntries: 2, decodeCacheHits: 2, decodeCacheMisses: 2 });
  // Nothing missing: no decode at all.
  rebuild(rs, []);
  t.equal(rs.stats().decodeCacheMisses, 2);
  t.end();
});

t.test(
  'the cache keeps at most decodeCacheEntries patterns, least recently used out first',
  (t) => {
    const rs = new ReedSolomon(6, 3, { decodeCacheEntries: 3 });
    for (const missing of [[0], [1], [2]]) rebuild(rs, missing);
    rebuild(rs, [0]); // now [1] is the least recently used
    rebuild(rs, [3]); // evicts [1]
    t.same(rs.stats(), { decodeCacheEntries: 3, decodeCacheHits: 1, decodeCacheMisses: 4 });
    rebuild(rs, [0]);
    rebuild(rs, [2]);
    t.equal(rs.stats().decodeCacheHits, 3, '[0] and [2] were kept');
    rebuild(rs, [1]);
    t.equal(rs.stats().decodeCacheMisses, 5, '[1] was evicted');
    for (let i = 0; i < 50; i++) rebuild(rs, [i % 9, (i + 4) % 9]);
    t.equal(rs.stats().decodeCacheEntries, 3);
    t.end();
  },
);

t.test('decodeCacheEntries: 0 caches nothing and still decodes', (t) => {
  const rs = new ReedSolomon(6, 3, { decodeCacheEntries: 0 });
  rebuild(rs, [2, 4, 8]);
  rebuild(rs, [2, 4, 8]);
  t.same(rs.stats(), { decodeCacheEntries: 0, decodeCacheHits: 0, decodeCacheMisses: 2 });
  t.end();
});
