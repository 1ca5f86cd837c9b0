import dgram from 'node:dgram';
import t from 'tap';
import { openEndpoint } from '@braid/endpoint';

async function boundSocket(host: string, port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => resolve());
  });
  return socket;
}

t.test(
  'a port in use is ERR_BRAID_ADDRESS_IN_USE naming the locator; nothing stays bound',
  async (t) => {
    const holder = await boundSocket('127.0.0.1');
    t.teardown(() => holder.close());
    const taken = `127.0.0.1:${holder.address().port}`;
    // A free port on 127.0.0.2, to see afterwards that the failed endpoint released it.
    const probe = await boundSocket('127.0.0.2');
    const freePort = probe.address().port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const error = await openEndpoint({
      bind: [`127.0.0.2:${freePort}`, taken],
      crypto: 'libsodium',
    }).then(
      () => undefined,
      (e: Error & { code?: string; locator?: string }) => e,
    );
    t.equal(error?.code, 'ERR_BRAID_ADDRESS_IN_USE');
    t.equal(error?.locator, taken, 'the error names the locator');
    t.match(error?.message, taken);
    const again = await boundSocket('127.0.0.2', freePort);
    t.pass('the socket bound before the failure was closed');
    await new Promise<void>((resolve) => again.close(() => resolve()));
  },
);

t.test('bad bind options are refused with typed errors', async (t) => {
  const cases: [unknown, string][] = [
    [['0.0.0.0:0'], 'ERR_BRAID_LOCATOR_INVALID'],
    [['[::]:0'], 'ERR_BRAID_LOCATOR_INVALID'],
    [['localhost:1234'], 'ERR_BRAID_LOCATOR_INVALID'],
    [['127.0.0.1'], 'ERR_BRAID_LOCATOR_INVALID'],
    [['127.0.0.1:70000'], 'ERR_BRAID_LOCATOR_INVALID'],
    [['::1:80'], 'ERR_BRAID_LOCATOR_INVALID'],
    [{ all: true, port: -1 }, 'ERR_BRAID_INVALID_OPTION'],
    [{ all: false }, 'ERR_BRAID_INVALID_OPTION'],
  ];
  for (const [bind, code] of cases)
    await t.rejects(
      openEndpoint({ bind: bind as string[], crypto: 'libsodium' }),
      { code },
      JSON.stringify(bind),
    );
  await t.rejects(openEndpoint({ bind: ['127.0.0.1:0'], crypto: 'libsodium', addressPollMs: -1 }), {
    code: 'ERR_BRAID_INVALID_OPTION',
  });
  await t.rejects(
    openEndpoint({ bind: ['127.0.0.1:0'], crypto: 'libsodium', secretKey: new Uint8Array(31) }),
    { code: 'ERR_BRAID_INVALID_KEY' },
  );
  await t.rejects(openEndpoint({ bind: ['127.0.0.1:0'], crypto: 'libsodium', maxPaths: 0 }), {
    code: 'ERR_BRAID_INVALID_OPTION',
  });
  await t.rejects(
    openEndpoint({
      bind: ['127.0.0.1:0'],
      crypto: 'libsodium',
      peers: [{ eid: 'nope', locators: [] }],
    }),
    { code: 'ERR_BRAID_EID_INVALID' },
  );
});

t.test('IPv6 loopback and a fixed secret key', async (t) => {
  const secretKey = new Uint8Array(32).fill(9);
  const e = await openEndpoint({
    bind: ['[::1]:0', '127.0.0.1:0'],
    crypto: 'libsodium',
    secretKey,
  });
  t.teardown(() => e.close());
  t.match(e.locators[0], /^\[::1\]:\d+$/, 'IPv6 locators are bracketed');
  const same = await openEndpoint({ bind: ['127.0.0.1:0'], crypto: 'libsodium', secretKey });
  t.teardown(() => same.close());
  t.equal(same.eid, e.eid, 'the same key gives the same EID');
  await e.close();
  await e.close();
  t.pass('close is idempotent');
  await t.rejects(e.listen('x'), { code: 'ERR_BRAID_ENDPOINT_CLOSED' });
  await t.rejects(e.openSession(same.eid), { code: 'ERR_BRAID_ENDPOINT_CLOSED' });
});
