// `bind: { all: true }`: one socket per local address, addresses appearing and disappearing
// seen by polling the interface list (injected here, so the test can add and remove loopback
// addresses without root), and a session using a new address as soon as it appears.
import type { NetworkInterfaceInfo } from 'node:os';
import t from 'tap';
import { bindableAddresses, type InterfaceList } from '@braid/endpoint';
import { endpoint, once } from './support/endpoints.js';

function v4(address: string, internal = true): NetworkInterfaceInfo {
  return {
    address,
    family: 'IPv4',
    internal,
    netmask: '255.0.0.0',
    mac: '00:00:00:00:00:00',
    cidr: `${address}/8`,
  };
}
function v6(address: string, scopeid: number, internal = false): NetworkInterfaceInfo {
  return {
    address,
    family: 'IPv6',
    internal,
    netmask: 'ffff:ffff:ffff:ffff::',
    mac: '00:00:00:00:00:00',
    cidr: `${address}/64`,
    scopeid,
  };
}

t.test('bindableAddresses: loopback and link-local only when asked', async (t) => {
  const list: InterfaceList = {
    lo: [v4('127.0.0.1'), v6('::1', 0, true)],
    eth0: [v4('198.51.100.7', false), v6('fe80::1', 2), v6('2001:db8::7', 0)],
  };
  t.same(
    bindableAddresses(list, { loopback: false, linkLocal: false }).map((a) => a.host),
    ['198.51.100.7', '2001:db8::7'],
  );
  t.same(
    bindableAddresses(list, { loopback: true, linkLocal: true }).map((a) => a.host),
    ['127.0.0.1', '::1', '198.51.100.7', 'fe80::1%eth0', '2001:db8::7'],
    'link-local addresses carry their scope',
  );
});

t.test('an address that appears gets a socket and a path; one that goes is removed', async (t) => {
  let list: InterfaceList = { lo: [v4('127.0.0.1')] };
  const a = await endpoint(t, {
    bind: { all: true, loopback: true },
    networkInterfaces: () => list,
    addressPollMs: 20,
  });
  t.equal(a.locators.length, 1, 'one socket at start');
  t.match(a.locators[0], /^127\.0\.0\.1:\d+$/);
  const b = await endpoint(t, { bind: ['127.0.0.1:0', '127.0.0.2:0'] });
  await a.addPeer(b.eid, b.locators);
  const session = await a.openSession(b.eid);

  const added = once<{ locator: string; change: string }>(
    a,
    'address',
    (e) => e.change === 'added',
  );
  list = { lo: [v4('127.0.0.1'), v4('127.0.0.2')] };
  const event = await added;
  t.match(event.locator, /^127\.0\.0\.2:\d+$/, 'the new address was bound');
  t.equal(a.locators.length, 2);
  let fromNew = 0;
  for (let i = 0; i < 300 && fromNew === 0; i++) {
    fromNew = (await session.paths()).filter(
      (p) => p.local === event.locator && p.status === 'active',
    ).length;
    if (fromNew === 0) await new Promise((r) => setTimeout(r, 10));
  }
  t.ok(fromNew >= 1, 'the session opened a path from the new address');

  const removed = once<{ locator: string; change: string }>(
    a,
    'address',
    (e) => e.change === 'removed',
  );
  list = { lo: [v4('127.0.0.1')] };
  t.same(await removed, {
    locator: event.locator,
    change: 'removed',
    reason: 'address disappeared',
  });
  t.same(a.locators, [a.locators[0]], 'its socket is gone');
  t.equal((await a.status()).locators.length, 1);
  for (let i = 0; i < 300; i++) {
    if (!(await session.paths()).some((p) => p.local === event.locator && p.status !== 'down'))
      break;
    await new Promise((r) => setTimeout(r, 10));
  }
  t.notOk(
    (await session.paths()).some((p) => p.local === event.locator && p.status !== 'down'),
    'no live path uses the removed address',
  );
});

t.test(
  'a configured address that leaves the interface list is removed, and re-added',
  async (t) => {
    let list: InterfaceList = { lo: [v4('127.0.0.1')] };
    const a = await endpoint(t, {
      bind: ['127.0.0.1:0'],
      networkInterfaces: () => list,
      addressPollMs: 20,
    });
    const changes: string[] = [];
    a.on('address', (e) => changes.push(`${e.change}: ${e.reason}`));
    const removed = once(a, 'address');
    list = { lo: [] };
    await removed;
    t.same(a.locators, [], 'no usable address while it is gone');
    const added = once(a, 'address');
    list = { lo: [v4('127.0.0.1')] };
    await added;
    t.equal(a.locators.length, 1, 'the same socket serves again');
    t.same(changes, [
      'removed: address disappeared from its interface',
      'added: address listed again',
    ]);
  },
);
