/**
 * Local addresses from `os.networkInterfaces()`: which ones a `{ all: true }` endpoint binds,
 * and the set of addresses present now (to see addresses appear and disappear).
 */
import type { NetworkInterfaceInfo } from 'node:os';
import { isLinkLocalV6, isWildcardHost } from './locator.js';

export type InterfaceList = NodeJS.Dict<NetworkInterfaceInfo[]>;

export interface LocalAddress {
  /** As bound and written in locators: link-local IPv6 carries its `%interface` scope. */
  host: string;
  family: 4 | 6;
  internal: boolean;
  iface: string;
}

function familyOf(info: NetworkInterfaceInfo): 4 | 6 {
  // Node 18.0–18.3 reported 4/6 instead of 'IPv4'/'IPv6'.
  const f = info.family as string | number;
  return f === 'IPv4' || f === 4 ? 4 : 6;
}

/** Every address of every interface, link-local IPv6 ones scoped by interface name. */
export function localAddresses(list: InterfaceList): LocalAddress[] {
  const out: LocalAddress[] = [];
  for (const [iface, infos] of Object.entries(list)) {
    for (const info of infos ?? []) {
      const family = familyOf(info);
      const host =
        family === 6 && isLinkLocalV6(info.address) ? `${info.address}%${iface}` : info.address;
      out.push({ host, family, internal: info.internal, iface });
    }
  }
  return out;
}

export interface BindAllFilter {
  /** Include loopback addresses (127.0.0.0/8, ::1). */
  loopback: boolean;
  /** Include link-local IPv6 addresses (fe80::/10), bound with their scope. */
  linkLocal: boolean;
}

/** The addresses a `{ all: true }` endpoint binds one socket each to. */
export function bindableAddresses(list: InterfaceList, filter: BindAllFilter): LocalAddress[] {
  const seen = new Set<string>();
  return localAddresses(list).filter((a) => {
    if (seen.has(a.host) || isWildcardHost(a.host)) return false;
    if (a.internal && !filter.loopback) return false;
    if (a.family === 6 && isLinkLocalV6(a.host) && !filter.linkLocal) return false;
    seen.add(a.host);
    return true;
  });
}
