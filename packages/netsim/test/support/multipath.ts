/** What the multipath tests share: running a scenario, and reading its event log. */
import { createSodiumCrypto } from '@braid/protocol';
import {
  MP_B,
  runMultipath,
  seedFromEnv,
  type LoggedEvent,
  type MultipathOptions,
  type MultipathResult,
  type Side,
} from '@braid/netsim';
import type { Test } from 'tap';

export const seed = seedFromEnv(process.env, 11);

export async function multipath(
  options: Omit<MultipathOptions, 'crypto' | 'seed'> & { seed?: number },
): Promise<MultipathResult> {
  return runMultipath({ seed, crypto: await createSodiumCrypto(), ...options });
}

/**
 * One side's events after `fromMs`, as short strings: `0:suspect`, `failover 0>1`,
 * `suspended`, `resumed`… (`established` and the opening of paths at start-up left out).
 */
export function trail(r: MultipathResult, side: Side, fromMs = 0): string[] {
  return r.events.filter((e) => e.side === side && e.atMs >= fromMs).map(short);
}

function short(e: LoggedEvent): string {
  switch (e.type) {
    case 'path':
      return `${e.pathId}:${e.change}`;
    case 'failover':
      return `failover ${e.from}>${e.to}`;
    default:
      return e.type;
  }
}

/** Whether `expected` appears in `actual` in this order (other entries may come between). */
export function inOrder(actual: readonly string[], expected: readonly string[]): boolean {
  let i = 0;
  for (const a of actual) if (i < expected.length && a === expected[i]) i++;
  return i === expected.length;
}

/** The first event of `side` matching `what` (a short string as {@link trail} gives) after `fromMs`. */
export function firstEvent(
  r: MultipathResult,
  side: Side,
  what: string,
  fromMs = 0,
): LoggedEvent | undefined {
  return r.events.find((e) => e.side === side && e.atMs >= fromMs && short(e) === what);
}

/** A's path on link `link` (whose remote is B's locator there). */
export function pathOnLink(r: MultipathResult, link: number): number {
  const p = r.paths.a.find((x) => x.remote === MP_B[link]);
  if (!p) throw new Error(`A has no path to ${MP_B[link]}`);
  return p.id;
}

/** The checks every scenario must pass: byte-exact, one session, never closed. */
export function holds(t: Test, r: MultipathResult, label: string = r.scenario): void {
  t.ok(r.verified, `${label}: ${r.failure ?? 'byte-exact, hashes agree, one session'}`);
  t.equal(r.hash.received, r.hash.sent, `${label}: hashes agree`);
  t.same(
    r.sessions,
    { establishedAtA: 1, establishedAtB: 1, closes: [] },
    `${label}: one session, never closed`,
  );
  t.equal(r.endpoints.a.handshakes.started, 1, `${label}: no new handshake`);
}
