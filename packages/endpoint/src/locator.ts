/**
 * Locators as the runtime writes them: `198.51.100.1:4433`, `[2001:db8::1]:4433`, and for a
 * link-local IPv6 address the scope as well, `[fe80::1%eth0]:4433`. The protocol treats them as
 * opaque strings; here they are parsed once and cached.
 */
import { isIP } from 'node:net';
import { LocatorError } from './errors.js';

export interface ParsedLocator {
  /** The address as `dgram` wants it (IPv6 without brackets, with its `%scope` if any). */
  host: string;
  port: number;
  family: 4 | 6;
}

/** Parsed locators kept; beyond this the cache is cleared (peers' addresses come and go). */
export const LOCATOR_CACHE_MAX = 4096;
const cache = new Map<string, ParsedLocator>();

/** Parses `host:port` or `[v6]:port`; throws {@link LocatorError} saying what is wrong. */
export function parseLocator(locator: string): ParsedLocator {
  const hit = cache.get(locator);
  if (hit) return hit;
  const parsed = parseUncached(locator);
  if (cache.size >= LOCATOR_CACHE_MAX) cache.clear();
  cache.set(locator, parsed);
  return parsed;
}

function parseUncached(locator: string): ParsedLocator {
  if (typeof locator !== 'string' || locator.length === 0)
    throw new LocatorError('a locator must be a non-empty "host:port" string');
  let host: string;
  let portText: string;
  if (locator.startsWith('[')) {
    const close = locator.indexOf(']');
    if (close < 0 || locator[close + 1] !== ':')
      throw new LocatorError(`locator "${locator}": expected "[v6-address]:port"`);
    host = locator.slice(1, close);
    portText = locator.slice(close + 2);
  } else {
    const colon = locator.lastIndexOf(':');
    if (colon <= 0) throw new LocatorError(`locator "${locator}": expected "host:port"`);
    host = locator.slice(0, colon);
    portText = locator.slice(colon + 1);
    if (host.includes(':'))
      throw new LocatorError(`locator "${locator}": write an IPv6 address as "[${host}]:port"`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65_535)
    throw new LocatorError(`locator "${locator}": port "${portText}" is not in 0..65535`);
  const bare = host.split('%')[0]!;
  const family = isIP(bare);
  if (family === 0)
    throw new LocatorError(
      `locator "${locator}": "${host}" is not an IP address (host names are not resolved)`,
    );
  if (family === 4 && host !== bare)
    throw new LocatorError(`locator "${locator}": only IPv6 addresses take a %scope`);
  return { host, port: Number(portText), family: family as 4 | 6 };
}

export function formatLocator(host: string, port: number, family: 4 | 6 | string): string {
  return family === 6 || family === 'IPv6' || host.includes(':')
    ? `[${host}]:${port}`
    : `${host}:${port}`;
}

/** 127.0.0.0/8 or ::1. */
export function isLoopbackHost(host: string): boolean {
  return host.startsWith('127.') || host === '::1';
}

/** fe80::/10 (link-local IPv6: usable only with a scope). */
export function isLinkLocalV6(host: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(host);
}

/** 0.0.0.0 or :: — a wildcard is not an address a peer can reach. */
export function isWildcardHost(host: string): boolean {
  const bare = host.split('%')[0]!;
  return bare === '0.0.0.0' || /^[0:]+$/.test(bare);
}

/**
 * The default `pathFilter` of a UDP endpoint: a (local, remote) pair is tried only when both
 * are of the same address family and both or neither are loopback addresses (the kernel does
 * not route between loopback and the outside, so such a path could never validate).
 */
export function defaultPathFilter(local: string, remote: string): boolean {
  let l: ParsedLocator;
  let r: ParsedLocator;
  try {
    l = parseLocator(local);
    r = parseLocator(remote);
  } catch {
    return false;
  }
  return l.family === r.family && isLoopbackHost(l.host) === isLoopbackHost(r.host);
}
