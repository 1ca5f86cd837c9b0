import t from 'tap';
import { firstEvent, holds, inOrder, multipath, pathOnLink, trail } from './support/multipath.js';

// Seeded, virtual time: the assertions are on correctness and on the order of events, never on
// how long anything took (`pnpm bench multipath` reports the figures).

for (const scheduler of ['aggregate', 'active-backup'] as const) {
  t.test(
    `${scheduler}: a silent blackhole midway — suspect, failover, down; recovered once the link is back`,
    async (t) => {
      const r = await multipath({
        scenario: 'failover-blackhole',
        scheduler,
        bytes: 8_000_000,
        restoreAfterMs: 1_500,
      });
      holds(t, r);
      t.not(r.faultAtMs, null, 'the fault happened during the transfer');
      const link = r.faultLink as number;
      const p = pathOnLink(r, link);
      const q = pathOnLink(r, 1 - link);
      const after = trail(r, 'a', r.faultAtMs!);
      t.ok(
        inOrder(after, [`${p}:suspect`, `failover ${p}>${q}`, `${p}:down`, `${p}:recovered`]),
        `A: ${after.join(', ')}`,
      );
      t.notOk(after.includes(`${q}:suspect`), 'the surviving path was never suspected');
      const recovered = firstEvent(r, 'a', `${p}:recovered`, r.faultAtMs!)!;
      t.ok(recovered.atMs > r.restoredAtMs!, 'recovered only after the link came back');
      const faulted = r.paths.a.find((x) => x.id === p)!;
      t.ok(faulted.reinjectedBytes > 0, `${faulted.reinjectedBytes} bytes moved off the dead path`);
      t.equal(faulted.status, 'active', 'the path is active again at the end');
      if (scheduler === 'aggregate')
        t.not(r.recoveredMs, null, 'the recovered path carries stream data again');
    },
  );
}

t.test(
  'the runtime says the address is gone: down at once (no timer), data moves, back when the address is',
  async (t) => {
    const r = await multipath({
      scenario: 'failover-down',
      bytes: 6_000_000,
      restoreAfterMs: 1_000,
    });
    holds(t, r);
    const link = r.faultLink as number;
    const p = pathOnLink(r, link);
    const q = pathOnLink(r, 1 - link);
    const after = trail(r, 'a', r.faultAtMs!);
    t.ok(inOrder(after, [`${p}:down`, `failover ${p}>${q}`, `${p}:recovered`]), after.join(', '));
    const down = firstEvent(r, 'a', `${p}:down`, r.faultAtMs!)!;
    t.equal(down.atMs, r.faultAtMs, 'down in the same instant as removeLocalAddress');
    t.equal(down.reason, 'local address gone');
    t.notOk(
      after.slice(0, after.indexOf(`${p}:down`)).includes(`${p}:suspect`),
      'never suspect first',
    );
    t.ok(
      firstEvent(r, 'a', `${p}:recovered`, r.faultAtMs!)!.atMs > r.restoredAtMs!,
      'recovered after addLocalAddress',
    );
  },
);

t.test(
  'an address that comes back on a lossy link: its path recovers even if the first challenge is lost',
  async (t) => {
    // Seed 2 loses that one challenge (or its answer) at 20% loss each way.
    const r = await multipath({
      scenario: 'failover-down',
      seed: 2,
      loss: 0.2,
      bytes: 3_000_000,
      restoreAfterMs: 1_000,
    });
    holds(t, r);
    const p = pathOnLink(r, r.faultLink as number);
    // A has another address, so its path on link 1 was replaced, not kept: the new one is
    // validated (a kept one would be `recovered`).
    const back =
      firstEvent(r, 'a', `${p}:recovered`, r.faultAtMs!) ??
      firstEvent(r, 'a', `${p}:validated`, r.faultAtMs!);
    t.ok(back, `path ${p} on link 1 is up again`);
    t.not(r.recoveredMs, null, 'and carries stream data again');
  },
);
