// Google Wycheproof X25519 vectors (fixtures/x25519_test.json, Apache-2.0) through the default
// crypto provider. Decisions for the "acceptable" cases are in docs/crypto.md:
// - low-order public keys (all-zero shared secret) are refused with LowOrderPointError, so a
//   handshake that meets one aborts (RFC 7748 §6.1, Noise §12.1);
// - twist points, non-canonical encodings (u ≥ p, top bit set) and other edge cases are
//   accepted and must give exactly the expected shared secret (RFC 7748 §5, §7).
import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  BraidError,
  createSodiumCrypto,
  fromHex,
  isLowOrderX25519Point,
  toHex,
} from '@braid/protocol';

interface XdhTest {
  tcId: number;
  comment: string;
  flags: string[];
  public: string;
  private: string;
  shared: string;
  result: 'valid' | 'acceptable' | 'invalid';
}
const FIXTURE = new URL('../test/fixtures/x25519_test.json', import.meta.url);
const data = JSON.parse(readFileSync(FIXTURE, 'utf8')) as {
  numberOfTests: number;
  testGroups: { curve: string; tests: XdhTest[] }[];
};
const tests = data.testGroups.flatMap((g) => g.tests);
const crypto = await createSodiumCrypto();
const isZero = (hex: string): boolean => /^(00)+$/.test(hex);
const label = (tc: XdhTest): string => `tcId ${tc.tcId} (${tc.flags.join(',')}): ${tc.comment}`;

/** Runs one case: the shared secret in hex, or the error code it threw. */
function run(tc: XdhTest): string {
  try {
    return toHex(crypto.x25519(fromHex(tc.private), fromHex(tc.public)));
  } catch (err) {
    return err instanceof BraidError ? err.code : `threw ${String(err)}`;
  }
}

t.equal(tests.length, data.numberOfTests, 'every test of the file is read');
t.ok(
  data.testGroups.every((g) => g.curve === 'curve25519'),
  'only curve25519 groups',
);

t.test('valid cases give the expected shared secret', async (t) => {
  const cases = tests.filter((tc) => tc.result === 'valid');
  t.ok(cases.length > 200, `${cases.length} valid cases`);
  for (const tc of cases) t.equal(run(tc), tc.shared, label(tc));
});

t.test('acceptable: low-order public keys are refused with LowOrderPointError', async (t) => {
  const cases = tests.filter((tc) => tc.result === 'acceptable' && isZero(tc.shared));
  t.ok(cases.length >= 30, `${cases.length} zero-shared-secret cases`);
  for (const tc of cases) t.equal(run(tc), 'ERR_BRAID_LOW_ORDER_POINT', label(tc));
});

t.test(
  'acceptable: twist and non-canonical public keys are accepted with the expected result',
  async (t) => {
    const cases = tests.filter((tc) => tc.result === 'acceptable' && !isZero(tc.shared));
    t.ok(cases.length > 200, `${cases.length} cases`);
    t.ok(
      cases.some((tc) => tc.flags.includes('NonCanonicalPublic')) &&
        cases.some((tc) => tc.flags.includes('Twist')),
      'both twist and non-canonical keys are among them',
    );
    for (const tc of cases) t.equal(run(tc), tc.shared, label(tc));
  },
);

t.test('invalid cases are refused', async (t) => {
  // Wycheproof 0.9rc5 has none for X25519; this keeps a future fixture honest.
  for (const tc of tests.filter((tc) => tc.result === 'invalid'))
    t.match(run(tc), /^ERR_BRAID_/, label(tc));
  t.pass('checked');
});

t.test('the handshake’s early low-order check agrees with X25519 on every vector', async (t) => {
  // The handshake rejects a peer key on reading it (isLowOrderX25519Point), before any DH.
  for (const tc of tests)
    t.equal(isLowOrderX25519Point(fromHex(tc.public)), isZero(tc.shared), label(tc));
});
