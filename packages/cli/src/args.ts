/**
 * Parsers for the CLI's arguments. Each returns the parsed value or throws a {@link UsageError}
 * whose message says what is wrong with which argument (exit status 2).
 */
import { isIP } from 'node:net';
import { Eid } from '@braid/protocol';
import { UsageError } from './errors.js';
import { SERVICE_NAME_PATTERN } from './client-api.js';

/** Largest path id accepted on the command line (paths per session are at most 64). */
export const PATH_ID_MAX = 0xffff_ffff;

/** An EID in text form; the message is the protocol's own parse error. */
export function parseEid(text: string, what = 'EID'): string {
  try {
    return Eid.parse(text).toString();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(`bad ${what} "${text}": ${message}`, { cause: error });
  }
}

/** A path id: a non-negative integer, as `braid paths` prints in its PATH column. */
export function parsePathId(text: string): number {
  if (!/^\d+$/.test(text.trim()))
    throw new UsageError(
      `bad path id "${text}": expected a non-negative integer (see \`braid paths\`)`,
    );
  const id = Number(text.trim());
  if (!Number.isSafeInteger(id) || id > PATH_ID_MAX)
    throw new UsageError(`bad path id "${text}": at most ${PATH_ID_MAX}`);
  return id;
}

/**
 * A locator: `ipv4:port`, `[ipv6]:port` or `[fe80::1%eth0]:port` (IP literals only: the runtime
 * resolves no host names). Port 0 (any free port) only where `allowPortZero` (addresses to bind).
 */
export function parseLocator(text: string, allowPortZero = false): string {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m)
    throw new UsageError(
      `bad locator "${text}": expected ADDRESS:PORT, e.g. 192.0.2.1:4433 or [2001:db8::1]:4433`,
    );
  const host = m[1]!;
  const port = Number(m[2]);
  const bare = host.split('%')[0]!;
  const family = isIP(bare);
  if (family === 0)
    throw new UsageError(
      `bad locator "${text}": "${host}" is not an IP address (host names are not resolved)`,
    );
  if (family === 6 && !text.startsWith('['))
    throw new UsageError(
      `bad locator "${text}": write an IPv6 address in brackets, [${host}]:PORT`,
    );
  if (family === 4 && text.startsWith('['))
    throw new UsageError(`bad locator "${text}": brackets are for IPv6; write ${host}:${port}`);
  if (family === 4 && host !== bare)
    throw new UsageError(`bad locator "${text}": only IPv6 addresses take a %scope`);
  const min = allowPortZero ? 0 : 1;
  if (port < min || port > 65_535)
    throw new UsageError(`bad locator "${text}": the port must be in ${min}–65535`);
  return text;
}

/** A service name: 1–64 bytes of `[A-Za-z0-9._-]`. */
export function parseService(text: string): string {
  if (!SERVICE_NAME_PATTERN.test(text))
    throw new UsageError(
      `bad service name "${text}": use 1–64 characters from A–Z, a–z, 0–9, ".", "_" and "-"`,
    );
  return text;
}

/** An integer option within [min, max]. */
export function parseIntOption(name: string, min: number, max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new UsageError(`bad ${name} "${text}": expected an integer in [${min}, ${max}]`);
    return n;
  };
}
