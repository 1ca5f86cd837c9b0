// CipherState (Noise §5.1): nonce handling, its 2^64-1 limit, and REKEY (§11.3).
import t from 'tap';
import {
  CipherState,
  NOISE_NONCE_MAX,
  bytesEqual,
  createSodiumCrypto,
  fromHex,
  toHex,
} from '@braid/protocol';

const crypto = await createSodiumCrypto();
const KEY = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const AD = Uint8Array.of(0xad);
const EMPTY = new Uint8Array(0);

t.test('without a key, data passes through and the nonce stays at 0', async (t) => {
  const cs = new CipherState(crypto);
  t.equal(cs.key, undefined);
  t.notOk(cs.hasKey);
  t.same(cs.encryptWithAd(AD, Uint8Array.of(1, 2)), Uint8Array.of(1, 2));
  t.same(cs.decryptWithAd(AD, Uint8Array.of(3)), Uint8Array.of(3));
  t.equal(cs.nonce, 0n);
  cs.rekey();
  t.equal(cs.key, undefined, 'rekey of an empty key keeps it empty');
});

t.test('nonces count up and are encoded as Noise §12.3 says', async (t) => {
  const cs = new CipherState(crypto, KEY);
  const first = cs.encryptWithAd(AD, Uint8Array.of(1));
  const second = cs.encryptWithAd(AD, Uint8Array.of(1));
  t.equal(cs.nonce, 2n);
  t.notSame(first, second, 'a new nonce per message');
  // 32 zero bits then the 64-bit counter little-endian.
  const nonce1 = fromHex('000000000100000000000000');
  t.equal(toHex(second), toHex(crypto.aeadSeal(KEY, nonce1, AD, Uint8Array.of(1))));
  cs.nonce = 0x0102030405060708n;
  const sealed = cs.encryptWithAd(AD, EMPTY);
  t.equal(
    toHex(sealed),
    toHex(crypto.aeadSeal(KEY, fromHex('000000000807060504030201'), AD, EMPTY)),
  );
});

t.test('a failed decryption throws DecryptError and leaves the nonce alone', async (t) => {
  const sender = new CipherState(crypto, KEY);
  const receiver = new CipherState(crypto, KEY);
  const sealed = sender.encryptWithAd(AD, Uint8Array.of(7, 7, 7));
  const forged = sealed.slice();
  forged[0]! ^= 1;
  t.throws(() => receiver.decryptWithAd(AD, forged), { code: 'ERR_BRAID_DECRYPT_FAILED' });
  t.throws(
    () => receiver.decryptWithAd(Uint8Array.of(0), sealed),
    {
      code: 'ERR_BRAID_DECRYPT_FAILED',
    },
    'wrong associated data',
  );
  t.throws(
    () => receiver.decryptWithAd(AD, sealed.subarray(0, 15)),
    {
      code: 'ERR_BRAID_DECRYPT_FAILED',
    },
    'shorter than the tag',
  );
  t.equal(receiver.nonce, 0n);
  t.same(receiver.decryptWithAd(AD, sealed), Uint8Array.of(7, 7, 7));
  t.equal(receiver.nonce, 1n);
});

t.test('nonce 2^64-1 is reserved: NonceExhaustedError (Noise §5.1)', async (t) => {
  t.equal(NOISE_NONCE_MAX, 2n ** 64n - 1n);
  const sender = new CipherState(crypto, KEY);
  const receiver = new CipherState(crypto, KEY);
  sender.nonce = NOISE_NONCE_MAX - 1n;
  receiver.nonce = NOISE_NONCE_MAX - 1n;
  const last = sender.encryptWithAd(AD, Uint8Array.of(1));
  t.same(receiver.decryptWithAd(AD, last), Uint8Array.of(1), 'nonce 2^64-2 is the last usable');
  t.equal(sender.nonce, NOISE_NONCE_MAX);
  t.throws(() => sender.encryptWithAd(AD, Uint8Array.of(1)), { code: 'ERR_BRAID_NONCE_EXHAUSTED' });
  t.throws(() => receiver.decryptWithAd(AD, last), { code: 'ERR_BRAID_NONCE_EXHAUSTED' });
  t.equal(sender.nonce, NOISE_NONCE_MAX, 'stays exhausted');
  t.throws(() => (sender.nonce = NOISE_NONCE_MAX + 1n), RangeError);
  t.throws(() => (sender.nonce = -1n), RangeError);
});

t.test('rekey replaces the key deterministically (Noise §11.3)', async (t) => {
  const a = new CipherState(crypto, KEY);
  const b = new CipherState(crypto, KEY);
  a.encryptWithAd(AD, EMPTY);
  a.rekey();
  b.rekey();
  // REKEY(k) = first 32 bytes of ENCRYPT(k, 2^64-1, zerolen, zeros).
  const expected = crypto
    .aeadSeal(KEY, fromHex('00000000ffffffffffffffff'), EMPTY, new Uint8Array(32))
    .subarray(0, 32);
  t.equal(toHex(a.key!), toHex(expected));
  t.equal(toHex(b.key!), toHex(expected), 'same result on both sides');
  t.not(toHex(a.key!), toHex(KEY), 'the key changed');
  t.equal(a.nonce, 1n, 'rekey keeps the nonce');
  b.nonce = 1n;
  t.same(b.decryptWithAd(AD, a.encryptWithAd(AD, Uint8Array.of(5))), Uint8Array.of(5));
  const stale = new CipherState(crypto, KEY);
  stale.nonce = 2n;
  t.throws(
    () => stale.decryptWithAd(AD, a.encryptWithAd(AD, Uint8Array.of(5))),
    {
      code: 'ERR_BRAID_DECRYPT_FAILED',
    },
    'the old key no longer decrypts',
  );
  a.rekey();
  t.not(toHex(a.key!), toHex(expected), 'a second rekey moves on again');
});

t.test('the key getter returns a copy, and keys must be 32 bytes', async (t) => {
  const cs = new CipherState(crypto, KEY);
  cs.key![0] = 0xff;
  t.ok(bytesEqual(cs.key!, KEY));
  t.throws(() => new CipherState(crypto, new Uint8Array(16)), { code: 'ERR_BRAID_INVALID_KEY' });
});
