import t from 'tap';
import { holds, multipath, trail } from './support/multipath.js';

t.test('aggregate over a 10 ms and a 40 ms path: both carry the bulk stream', async (t) => {
  const r = await multipath({ scenario: 'aggregate', bytes: 3_000_000 });
  holds(t, r);
  t.ok(r.onePath?.verified, `one-path baseline: ${r.onePath?.failure ?? 'verified'}`);
  t.same(r.rttMs, [10, 40]);
  for (const p of r.paths.a)
    t.ok(
      p.streamBytesSent > 0.2 * r.bytes,
      `path ${p.id} (${p.remote}) carried ${p.streamBytesSent} of ${r.bytes} bytes`,
    );
  const events = trail(r, 'a').filter((e) => /suspect|down|failover/.test(e));
  t.same(events, [], 'clean links: no path was ever suspected');
});
