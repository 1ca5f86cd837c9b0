import t from 'tap';
import { DEFAULT_PORT, fecRepairedPackets, parseConfig, unreloadableChanges } from '@braid/daemon';
import type { PathStats } from '@braid/protocol';

t.test('no config at all gives a working daemon configuration', async (t) => {
  const c = parseConfig(
    {},
    { env: { XDG_STATE_HOME: '/home/u/.state', XDG_RUNTIME_DIR: '/run/user/1000' } },
  );
  t.equal(c.stateDir, '/home/u/.state/braid');
  t.equal(c.identityKeyPath, '/home/u/.state/braid/identity.key');
  t.equal(c.socketPath, '/run/user/1000/braid/braidd.sock');
  t.same(c.bind, { all: true, port: DEFAULT_PORT });
  t.equal(c.allow, 'configured');
  t.same(c.metrics, { enabled: false, listen: '127.0.0.1:9477', allowNonLoopback: false });
  t.same(c.log, { level: 'info', format: 'auto' });
  // Without a runtime directory the socket lives in the state directory; systemd's win.
  t.equal(
    parseConfig({}, { env: { HOME: '/h', XDG_STATE_HOME: '/s' } }).socketPath,
    '/s/braid/braidd.sock',
  );
  const systemd = parseConfig(
    {},
    { env: { STATE_DIRECTORY: '/var/lib/braid', RUNTIME_DIRECTORY: '/run/braid' } },
  );
  t.equal(systemd.stateDir, '/var/lib/braid');
  t.equal(systemd.socketPath, '/run/braid/braidd.sock');
});

t.test('relative paths are relative to the config file; EIDs are canonical', async (t) => {
  const eid = 'braid1sphpuzpk2dakgz2pg83gn8n2ys7uxs22';
  const c = parseConfig(
    {
      stateDir: 'state',
      socketPath: '/tmp/b.sock',
      peers: [{ eid: eid.toUpperCase(), locators: ['[::1]:7420'] }],
    },
    { source: '/etc/braid/braidd.json', env: {} },
  );
  t.equal(c.stateDir, '/etc/braid/state');
  t.equal(c.identityKeyPath, '/etc/braid/state/identity.key');
  t.equal(c.peers[0]!.eid, eid);
  t.same(c.peers[0]!.locators, ['[::1]:7420']);
});

t.test('what a reload cannot apply is named', async (t) => {
  const a = parseConfig({ bind: ['127.0.0.1:1'] }, { env: { XDG_STATE_HOME: '/s' } });
  const b = parseConfig(
    { bind: ['127.0.0.1:2'], allow: 'open', log: { level: 'debug', format: 'pretty' } },
    { env: { XDG_STATE_HOME: '/s' } },
  );
  t.same(unreloadableChanges(a, b), ['bind', 'log.format']);
});

t.test(
  'FEC repair counts are read under whichever name the protocol uses, or not at all',
  async (t) => {
    const base = { id: 0 } as unknown as PathStats;
    t.equal(fecRepairedPackets(base), undefined);
    t.equal(fecRepairedPackets({ ...base, fecRepairedPackets: 7 } as PathStats), 7);
    t.equal(fecRepairedPackets({ ...base, fec: { repaired: 3 } } as unknown as PathStats), 3);
    t.equal(fecRepairedPackets({ ...base, fecRepaired: 'x' } as unknown as PathStats), undefined);
  },
);
