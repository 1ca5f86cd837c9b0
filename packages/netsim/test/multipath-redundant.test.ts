import t from 'tap';
import { holds, inOrder, multipath, trail } from './support/multipath.js';

t.test(
  'a redundant stream of 1 KB messages goes on both paths and survives a blackhole of one',
  async (t) => {
    const bytes = 600 * 1024;
    const r = await multipath({ scenario: 'redundant', bytes, restoreAfterMs: 1_500 });
    holds(t, r);
    t.equal(r.bytes, bytes, 'every message read');
    const after = trail(r, 'a', r.faultAtMs!);
    t.ok(inOrder(after, ['0:suspect', '0:down', '0:recovered']), `A: ${after.join(', ')}`);
    const [p0, p1] = [0, 1].map((id) => r.paths.a.find((p) => p.id === id)!);
    // Each message went on both paths, except while path 0 was dead (and before path 1 was up).
    t.ok(p1!.streamBytesSent >= 0.95 * bytes, `path 1 carried ${p1!.streamBytesSent} stream bytes`);
    t.ok(p0!.streamBytesSent >= bytes / 2, `path 0 carried ${p0!.streamBytesSent} stream bytes`);
    t.not(r.recoveredMs, null, 'copies go on path 0 again once it recovered');
  },
);
