import { InvalidOptionError } from '@braid/protocol';
import { LivelockError, SimulationFailure } from './errors.js';

/** The environment variable that pins a simulation's seed. */
export const SEED_ENV = 'BRAID_SEED';

/**
 * The seed named by `BRAID_SEED` in `env`, or `fallback` when it is unset or empty. Accepts a
 * decimal (`1234`) or hexadecimal (`0x4d2`) integer in [0, 2^32); anything else throws
 * `InvalidOptionError` rather than silently running another seed. netsim has no access to
 * `process`, so pass `process.env`.
 */
export function seedFromEnv(env: Record<string, string | undefined>, fallback: number): number {
  const raw = env[SEED_ENV]?.trim();
  if (raw === undefined || raw === '') return fallback;
  let seed: number;
  if (/^[0-9]+$/.test(raw)) seed = Number.parseInt(raw, 10);
  else if (/^0[xX][0-9a-fA-F]+$/.test(raw)) seed = Number.parseInt(raw.slice(2), 16);
  else throw new InvalidOptionError(`${SEED_ENV}=${raw} is not a decimal or 0x-hex integer`);
  if (!(seed <= 0xffff_ffff)) {
    throw new InvalidOptionError(`${SEED_ENV}=${raw} is out of range [0, 2^32)`);
  }
  return seed;
}

/**
 * Runs `scenario(seed)` and turns any failure into a {@link SimulationFailure} whose message says
 * `BRAID_SEED=<seed>`, so the failing run can be replayed exactly. A failure is a thrown error
 * or a returned `false` (directly or through a promise); anything else is returned unchanged.
 * A {@link LivelockError} or `SimulationFailure` that already names this seed is rethrown as is.
 */
export function runScenario<T>(seed: number, scenario: (seed: number) => T): T {
  let result: T;
  try {
    result = scenario(seed);
  } catch (err) {
    throw asFailure(seed, err);
  }
  if (isPromiseLike(result)) {
    return result.then(
      (value) => {
        if (value === false) throw new SimulationFailure(seed, 'the scenario returned false');
        return value;
      },
      (err: unknown) => {
        throw asFailure(seed, err);
      },
    ) as T;
  }
  if ((result as unknown) === false)
    throw new SimulationFailure(seed, 'the scenario returned false');
  return result;
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return (
    typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function'
  );
}

function asFailure(seed: number, err: unknown): Error {
  if ((err instanceof LivelockError || err instanceof SimulationFailure) && err.seed === seed) {
    return err;
  }
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new SimulationFailure(seed, detail, { cause: err });
}
