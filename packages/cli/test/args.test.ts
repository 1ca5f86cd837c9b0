import t from 'tap';
import {
  describeError,
  EXIT_RUNTIME,
  EXIT_USAGE,
  exitCodeOf,
  parseEid,
  parseIntOption,
  parseLocator,
  parsePathId,
  parseService,
  UsageError,
} from '@braid/cli';
import { Eid, EidParseError, UnknownSessionError } from '@braid/protocol';

const EID = new Eid(new Uint8Array(16).fill(7)).toString();

t.test('EIDs: the protocol parse error, as a usage error', (t) => {
  t.equal(parseEid(EID), EID);
  t.equal(parseEid(EID.toUpperCase()), EID, 'all upper case is the same EID');
  for (const bad of ['', 'hello', EID.slice(0, -1) + (EID.endsWith('q') ? 'p' : 'q'), EID + 'q']) {
    let protocolMessage = '';
    try {
      Eid.parse(bad);
    } catch (e) {
      protocolMessage = (e as EidParseError).message;
    }
    t.throws(
      () => parseEid(bad, 'peer EID'),
      { code: 'ERR_BRAID_USAGE', message: `bad peer EID "${bad}": ${protocolMessage}` },
      `"${bad}" is refused with the protocol's words`,
    );
  }
  t.end();
});

t.test('path ids are non-negative integers', (t) => {
  t.equal(parsePathId('0'), 0);
  t.equal(parsePathId('12'), 12);
  for (const bad of ['-1', '1.5', 'one', '', '99999999999'])
    t.throws(() => parsePathId(bad), { code: 'ERR_BRAID_USAGE', message: /bad path id/ }, bad);
  t.end();
});

t.test('locators: IP literals with a port; IPv6 in brackets', (t) => {
  t.equal(parseLocator('127.0.0.1:4433'), '127.0.0.1:4433');
  t.equal(parseLocator('[2001:db8::1]:4433'), '[2001:db8::1]:4433');
  t.equal(parseLocator('[fe80::1%eth0]:4433'), '[fe80::1%eth0]:4433');
  t.equal(parseLocator('127.0.0.1:0', true), '127.0.0.1:0', 'port 0 where binding');
  const cases: [string, RegExp][] = [
    ['127.0.0.1', /expected ADDRESS:PORT/],
    ['example.com:4433', /not an IP address/],
    ['2001:db8::1:4433', /expected ADDRESS:PORT/],
    ['127.0.0.1:0', /port must be in 1–65535/],
    ['127.0.0.1:70000', /port must be in 1–65535/],
    ['127.0.0.1%eth0:1', /only IPv6 addresses take a %scope/],
    ['[127.0.0.1]:1', /brackets are for IPv6/],
  ];
  for (const [bad, message] of cases)
    t.throws(() => parseLocator(bad), { code: 'ERR_BRAID_USAGE', message }, bad);
  t.end();
});

t.test('service names and integer options', (t) => {
  t.equal(parseService('echo.v1_test-2'), 'echo.v1_test-2');
  for (const bad of ['', 'a b', 'x'.repeat(65), 'café'])
    t.throws(() => parseService(bad), { code: 'ERR_BRAID_USAGE' }, JSON.stringify(bad));
  const interval = parseIntOption('--interval', 50, 1000);
  t.equal(interval('50'), 50);
  for (const bad of ['49', '1001', '1e2', 'abc', '10.5'])
    t.throws(() => interval(bad), { code: 'ERR_BRAID_USAGE', message: /--interval/ }, bad);
  t.end();
});

t.test('exit codes: 2 for a bad command line, 1 for the rest', (t) => {
  t.equal(exitCodeOf(new UsageError('x')), EXIT_USAGE);
  t.equal(exitCodeOf(new EidParseError('x')), EXIT_USAGE, 'a bad EID from any layer');
  t.equal(exitCodeOf(Object.assign(new Error('x'), { code: 'ERR_BRAID_LOCATOR_INVALID' })), 2);
  t.equal(exitCodeOf(new UnknownSessionError('x')), EXIT_RUNTIME);
  t.equal(exitCodeOf(new Error('boom')), EXIT_RUNTIME);
  t.equal(exitCodeOf('a string'), EXIT_RUNTIME);
  t.equal(
    describeError(new UnknownSessionError('no session "9"\nmore')),
    'no session "9" (ERR_BRAID_UNKNOWN_SESSION)',
  );
  t.equal(describeError(new Error('plain')), 'plain');
  t.end();
});
