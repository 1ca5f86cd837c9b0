// Google Wycheproof ChaCha20-Poly1305 vectors (fixtures/chacha20_poly1305_test.json,
// Apache-2.0) through the default crypto provider's IETF AEAD (RFC 8439, 96-bit nonce).
// Decisions, also in docs/crypto.md:
// - valid cases must seal to exactly ct‖tag and open back to msg;
// - a modified tag makes aeadOpen return null (no exception: a forged datagram is routine);
// - a nonce that is not 12 bytes is a caller error: aeadSeal and aeadOpen throw InvalidKeyError
//   (ERR_BRAID_INVALID_KEY) rather than returning null, so it cannot pass for a forgery.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { BraidError, createSodiumCrypto, fromHex, toHex } from '@braid/protocol';

interface AeadTest {
  tcId: number;
  comment: string;
  flags: string[];
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'acceptable' | 'invalid';
}
const FIXTURE = new URL('../test/fixtures/chacha20_poly1305_test.json', import.meta.url);
const data = JSON.parse(readFileSync(FIXTURE, 'utf8')) as {
  numberOfTests: number;
  testGroups: { ivSize: number; keySize: number; tagSize: number; tests: AeadTest[] }[];
};
const crypto = await createSodiumCrypto();
const cases = data.testGroups.flatMap((g) =>
  g.tests.map((tc) => ({ ...tc, ivSize: g.ivSize, keySize: g.keySize, tagSize: g.tagSize })),
);
type Case = (typeof cases)[number];
const label = (tc: Case): string => `tcId ${tc.tcId} (${tc.flags.join(',')}): ${tc.comment}`;
const supported = (tc: Case): boolean =>
  tc.ivSize === 96 && tc.keySize === 256 && tc.tagSize === 128;

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return err instanceof BraidError ? err.code : `threw ${String(err)}`;
  }
}

t.equal(cases.length, data.numberOfTests, 'every test of the file is read');
t.notOk(
  cases.some((tc) => tc.result === 'acceptable'),
  'the file has no acceptable cases',
);

t.test('valid cases seal to the expected bytes and open back', async (t) => {
  const valid = cases.filter((tc) => tc.result === 'valid');
  t.ok(valid.length > 250, `${valid.length} valid cases`);
  for (const tc of valid) {
    t.ok(supported(tc), `${label(tc)}: 96-bit nonce, 256-bit key, 128-bit tag`);
    const [key, iv, aad, msg] = [tc.key, tc.iv, tc.aad, tc.msg].map(fromHex) as Uint8Array[];
    t.equal(toHex(crypto.aeadSeal(key!, iv!, aad!, msg!)), tc.ct + tc.tag, `${label(tc)}: seal`);
    const opened = crypto.aeadOpen(key!, iv!, aad!, fromHex(tc.ct + tc.tag));
    t.equal(opened === null ? 'null' : toHex(opened), tc.msg, `${label(tc)}: open`);
  }
});

t.test('invalid: a modified tag makes aeadOpen return null', async (t) => {
  const invalid = cases.filter((tc) => tc.result === 'invalid' && supported(tc));
  t.ok(invalid.length >= 60, `${invalid.length} cases`);
  for (const tc of invalid) {
    const opened = crypto.aeadOpen(
      fromHex(tc.key),
      fromHex(tc.iv),
      fromHex(tc.aad),
      fromHex(tc.ct + tc.tag),
    );
    t.equal(opened, null, label(tc));
  }
});

t.test('invalid: nonces other than 96 bits are refused with InvalidKeyError', async (t) => {
  const badNonce = cases.filter((tc) => !supported(tc));
  t.ok(badNonce.length >= 9, `${badNonce.length} cases`);
  for (const tc of badNonce) {
    t.equal(tc.result, 'invalid', `${label(tc)}: Wycheproof calls it invalid`);
    const [key, iv, aad, msg] = [tc.key, tc.iv, tc.aad, tc.msg].map(fromHex) as Uint8Array[];
    t.equal(
      codeOf(() => crypto.aeadSeal(key!, iv!, aad!, msg!)),
      'ERR_BRAID_INVALID_KEY',
      `${label(tc)}: seal`,
    );
    t.equal(
      codeOf(() => crypto.aeadOpen(key!, iv!, aad!, fromHex(tc.ct + tc.tag))),
      'ERR_BRAID_INVALID_KEY',
      `${label(tc)}: open`,
    );
  }
});
