// The small parsers: locators and the service header, with adversarial inputs.
import fc from 'fast-check';
import t from 'tap';
import {
  defaultPathFilter,
  encodeServiceAccept,
  encodeServiceRequest,
  formatLocator,
  parseLocator,
  parseServiceAccept,
  parseServiceRequest,
  SERVICE_REQUEST_BYTES_MAX,
} from '@braid/endpoint';

t.test('locators', async (t) => {
  t.same(parseLocator('127.0.0.1:4433'), { host: '127.0.0.1', port: 4433, family: 4 });
  t.same(parseLocator('[2001:db8::1]:0'), { host: '2001:db8::1', port: 0, family: 6 });
  t.same(parseLocator('[fe80::1%eth0]:9'), { host: 'fe80::1%eth0', port: 9, family: 6 });
  t.equal(formatLocator('2001:db8::1', 1, 6), '[2001:db8::1]:1');
  t.equal(formatLocator('198.51.100.1', 1, 4), '198.51.100.1:1');
  for (const bad of [
    '',
    ':1',
    '1.2.3.4',
    '1.2.3.4:',
    '1.2.3.4:x',
    '1.2.3.4:65536',
    'host:1',
    '[::1]',
    '[::1:1',
    '::1:1',
    '1.2.3.4%eth0:1',
    '[nope]:1',
  ])
    t.throws(() => parseLocator(bad), { code: 'ERR_BRAID_LOCATOR_INVALID' }, JSON.stringify(bad));
  fc.assert(
    fc.property(fc.string(), (s) => {
      try {
        const p = parseLocator(s);
        return formatLocator(p.host, p.port, p.family).length > 0;
      } catch (err) {
        return (err as { code?: string }).code === 'ERR_BRAID_LOCATOR_INVALID';
      }
    }),
  );
});

t.test('the default path filter pairs same family and same loopback-ness', async (t) => {
  t.ok(defaultPathFilter('127.0.0.1:1', '127.0.0.2:2'));
  t.ok(defaultPathFilter('198.51.100.1:1', '203.0.113.1:2'));
  t.notOk(defaultPathFilter('127.0.0.1:1', '203.0.113.1:2'), 'loopback to the outside');
  t.notOk(defaultPathFilter('198.51.100.1:1', '[2001:db8::1]:2'), 'v4 to v6');
  t.notOk(defaultPathFilter('198.51.100.1:1', 'garbage'), 'an unparsable peer locator');
});

t.test(
  'service header: round trip, every prefix is partial, garbage is never accepted wrongly',
  async (t) => {
    const request = encodeServiceRequest('files.v2');
    t.same([...request.subarray(0, 2)], [1, 8], 'version 1, name length 8');
    t.same(parseServiceRequest(request), { state: 'done', service: 'files.v2' });
    for (let i = 0; i < request.length; i++)
      t.equal(parseServiceRequest(request.subarray(0, i)).state, 'partial', `${i} bytes`);
    t.match(parseServiceRequest(Uint8Array.of(2, 1, 0x61)), {
      state: 'invalid',
      reason: /version 2/,
    });
    t.match(parseServiceRequest(Uint8Array.of(1, 0)), { state: 'invalid' });
    t.match(parseServiceRequest(Uint8Array.of(1, 65)), { state: 'invalid' });
    t.match(parseServiceRequest(Uint8Array.of(1, 1, 0x20)), { state: 'invalid' }, 'a space');
    t.same(parseServiceAccept(encodeServiceAccept()), { state: 'done', service: '' });
    t.match(parseServiceAccept(Uint8Array.of(1, 1)), { state: 'invalid' });
    t.throws(() => encodeServiceRequest('bad name'), { code: 'ERR_BRAID_SERVICE_INVALID' });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const r = parseServiceRequest(bytes);
        if (r.state === 'partial')
          return r.need > 0 && bytes.length + r.need <= SERVICE_REQUEST_BYTES_MAX;
        if (r.state === 'invalid') return true;
        return bytes.length >= 2 + r.service.length && /^[A-Za-z0-9._-]{1,64}$/.test(r.service);
      }),
    );
  },
);
