import t from 'tap';
import type { SimulationFailure } from '@braid/netsim';
import { LivelockError, runScenario, seedFromEnv } from '@braid/netsim';

t.test('seedFromEnv reads BRAID_SEED in decimal or 0x-hex', (t) => {
  t.equal(seedFromEnv({}, 7), 7);
  t.equal(seedFromEnv({ BRAID_SEED: '' }, 7), 7);
  t.equal(seedFromEnv({ BRAID_SEED: undefined }, 7), 7);
  t.equal(seedFromEnv({ BRAID_SEED: '1234' }, 7), 1234);
  t.equal(seedFromEnv({ BRAID_SEED: ' 0 ' }, 7), 0);
  t.equal(seedFromEnv({ BRAID_SEED: '0x4d2' }, 7), 1234);
  t.equal(seedFromEnv({ BRAID_SEED: '0XFFFFFFFF' }, 7), 0xffff_ffff);
  t.equal(seedFromEnv({ BRAID_SEED: '4294967295' }, 7), 0xffff_ffff);
  t.end();
});

t.test('seedFromEnv refuses anything it would have to guess at', (t) => {
  for (const bad of ['-1', '1.5', '12abc', '0x', 'seed', '4294967296', '0x100000000', '1e3']) {
    t.throws(() => seedFromEnv({ BRAID_SEED: bad }, 7), { code: 'ERR_BRAID_INVALID_OPTION' }, bad);
  }
  t.end();
});

t.test('runScenario returns what a passing scenario returns', (t) => {
  t.equal(
    runScenario(5, (seed) => seed * 2),
    10,
  );
  t.equal(
    runScenario(5, () => undefined),
    undefined,
  );
  t.end();
});

t.test('a scenario that throws becomes a SimulationFailure naming the seed', (t) => {
  const cause = new Error('bytes differ at offset 17');
  const err = t.throws(() =>
    runScenario(99, () => {
      throw cause;
    }),
  ) as SimulationFailure;
  t.equal(err.code, 'ERR_BRAID_SIM_FAILED');
  t.equal(err.seed, 99);
  t.equal(err.cause, cause);
  t.match(err.message, /BRAID_SEED=99/);
  t.match(err.message, /bytes differ at offset 17/);
  t.end();
});

t.test('a scenario whose predicate fails becomes a SimulationFailure', (t) => {
  t.throws(() => runScenario(3, () => false), {
    code: 'ERR_BRAID_SIM_FAILED',
    message: /BRAID_SEED=3/,
  });
  t.end();
});

t.test('a livelock for the same seed passes through unchanged', (t) => {
  const livelock = new LivelockError(8, 1, 2, 'stuck');
  t.equal(
    t.throws(() =>
      runScenario(8, () => {
        throw livelock;
      }),
    ),
    livelock,
  );
  t.end();
});

t.test('async scenarios reject with the seed too', async (t) => {
  await t.rejects(
    runScenario(12, async () => false),
    {
      code: 'ERR_BRAID_SIM_FAILED',
      message: /BRAID_SEED=12/,
    },
  );
  await t.rejects(
    runScenario(13, async () => {
      throw new Error('late');
    }),
    { code: 'ERR_BRAID_SIM_FAILED', message: /late.*BRAID_SEED=13/ },
  );
  t.equal(await runScenario(14, async () => 'ok'), 'ok');
});
