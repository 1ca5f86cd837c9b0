// The sodium-native provider against the known answers the protocol's default provider passes
// (Wycheproof X25519 and ChaCha20-Poly1305, the cacophony Noise vectors, from
// packages/protocol/test/fixtures), differentially against libsodium-wrappers, and in a real
// session with an endpoint on the other backend.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import t from 'tap';
import {
  BraidError,
  createSodiumCrypto,
  fromHex,
  runNoiseTestVector,
  toHex,
  type NoiseTestVector,
} from '@braid/protocol';
import { createSodiumNativeCrypto, selectCrypto, type BraidStream } from '@braid/endpoint';
import { content, endpoint, readAll, sha256, writeAll } from './support/endpoints.js';

const wasm = await createSodiumCrypto();
const native = await createSodiumNativeCrypto();
// sodium-native is optional: where it does not load, every test here is skipped, saying why.
const skip = native ? false : 'sodium-native is not installed or does not load here';
const crypto = native ?? wasm;
/** Key, nonce, associated data, message, and where the message sits in a larger array. */
const AEAD_CASE = [
  fc.uint8Array({ minLength: 32, maxLength: 32 }),
  fc.uint8Array({ minLength: 12, maxLength: 12 }),
  fc.uint8Array({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 1500 }),
  fc.integer({ min: 0, max: 9 }),
] as const;
const fixture = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`../../protocol/test/fixtures/${name}`, import.meta.url), 'utf8'),
  ) as unknown;

function codeOf(fn: () => unknown): string {
  try {
    const r = fn();
    return r instanceof Uint8Array ? toHex(r) : String(r);
  } catch (err) {
    return err instanceof BraidError ? err.code : `threw ${String(err)}`;
  }
}

if (native) t.equal(crypto.name, 'sodium-native');

t.test('Wycheproof X25519: every case as the default provider decides it', { skip }, async (t) => {
  const data = fixture('x25519_test.json') as {
    testGroups: {
      tests: { tcId: number; public: string; private: string; shared: string; result: string }[];
    }[];
  };
  const tests = data.testGroups.flatMap((g) => g.tests);
  t.ok(tests.length > 500, `${tests.length} cases`);
  for (const tc of tests) {
    const zero = /^(00)+$/.test(tc.shared);
    const got = codeOf(() => crypto.x25519(fromHex(tc.private), fromHex(tc.public)));
    t.equal(got, zero ? 'ERR_BRAID_LOW_ORDER_POINT' : tc.shared, `tcId ${tc.tcId}`);
  }
});

t.test('Wycheproof ChaCha20-Poly1305: seal, open, forged tags, bad nonces', { skip }, async (t) => {
  const data = fixture('chacha20_poly1305_test.json') as {
    testGroups: {
      ivSize: number;
      tests: {
        tcId: number;
        key: string;
        iv: string;
        aad: string;
        msg: string;
        ct: string;
        tag: string;
        result: string;
      }[];
    }[];
  };
  let valid = 0;
  let invalid = 0;
  for (const g of data.testGroups)
    for (const tc of g.tests) {
      const [key, iv, aad, msg] = [tc.key, tc.iv, tc.aad, tc.msg].map(fromHex) as Uint8Array[];
      if (g.ivSize !== 96) {
        t.equal(
          codeOf(() => crypto.aeadSeal(key!, iv!, aad!, msg!)),
          'ERR_BRAID_INVALID_KEY',
        );
        continue;
      }
      const opened = crypto.aeadOpen(key!, iv!, aad!, fromHex(tc.ct + tc.tag));
      if (tc.result === 'valid') {
        valid++;
        t.equal(
          toHex(crypto.aeadSeal(key!, iv!, aad!, msg!)),
          tc.ct + tc.tag,
          `tcId ${tc.tcId} seal`,
        );
        t.equal(opened && toHex(opened), tc.msg, `tcId ${tc.tcId} open`);
      } else {
        invalid++;
        t.equal(opened, null, `tcId ${tc.tcId} refused`);
      }
    }
  t.ok(valid > 250 && invalid >= 60, `${valid} valid, ${invalid} invalid cases`);
  t.equal(
    crypto.aeadOpen(new Uint8Array(32), new Uint8Array(12), new Uint8Array(0), new Uint8Array(15)),
    null,
    'shorter than a tag',
  );
});

t.test('the 59 cacophony Noise vectors reproduce byte for byte', { skip }, async (t) => {
  const { vectors } = fixture('cacophony-25519-ChaChaPoly-BLAKE2b.json') as {
    vectors: NoiseTestVector[];
  };
  t.equal(vectors.length, 59);
  for (const v of vectors) {
    const r = runNoiseTestVector(crypto, v);
    t.same([r.status, r.failures], ['passed', []], v.protocol_name);
  }
});

t.test('BLAKE2b and X25519 agree with libsodium-wrappers on random inputs', { skip }, async (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.integer({ min: 1, max: 64 }),
      fc.option(fc.uint8Array({ minLength: 1, maxLength: 64 }), { nil: undefined }),
      (data, outBytes, key) =>
        toHex(crypto.blake2b(data, outBytes, key)) === toHex(wasm.blake2b(data, outBytes, key)),
    ),
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (secret) => {
      const pub = crypto.x25519PublicKey(secret);
      return toHex(pub) === toHex(wasm.x25519PublicKey(secret));
    }),
  );
  t.equal(
    codeOf(() => crypto.x25519PublicKey(new Uint8Array(31))),
    'ERR_BRAID_INVALID_KEY',
  );
  t.equal(
    toHex(crypto.blake2b(new Uint8Array(1), 8, new Uint8Array(3))),
    toHex(wasm.blake2b(new Uint8Array(1), 8, new Uint8Array(3))),
    'outputs and keys under 16 bytes too',
  );
});

t.test(
  "aeadSealInto, in place and into another array, is the default provider's seal",
  { skip },
  async (t) => {
    const sealInto = crypto.aeadSealInto?.bind(crypto);
    if (!sealInto) throw new Error('sodium-native has an aeadSealInto');
    fc.assert(
      fc.property(...AEAD_CASE, (key, nonce, ad, msg, at) => {
        const want = toHex(wasm.aeadSeal(key, nonce, ad, msg));
        // In place: the message sits where the output begins, inside a larger array.
        const datagram = new Uint8Array(at + msg.length + 16 + 5);
        datagram.set(msg, at);
        const plaintext = datagram.subarray(at, at + msg.length);
        sealInto(key, nonce, ad, plaintext, datagram.subarray(at, at + msg.length + 16));
        const apart = new Uint8Array(msg.length + 16);
        sealInto(key, nonce, ad, msg, apart);
        return (
          toHex(datagram.subarray(at, at + msg.length + 16)) === want &&
          toHex(apart) === want &&
          datagram.subarray(0, at).every((b) => b === 0) &&
          datagram.subarray(at + msg.length + 16).every((b) => b === 0)
        );
      }),
      { seed: 21, numRuns: 500 },
    );
    const key = new Uint8Array(32);
    t.equal(
      codeOf(() =>
        sealInto(key, new Uint8Array(11), new Uint8Array(0), new Uint8Array(1), new Uint8Array(17)),
      ),
      'ERR_BRAID_INVALID_KEY',
    );
    t.throws(() =>
      sealInto(key, new Uint8Array(12), new Uint8Array(0), new Uint8Array(4), new Uint8Array(4)),
    );
  },
);

t.test('an endpoint on libsodium-wrappers and one on sodium-native talk', { skip }, async (t) => {
  const a = await endpoint(t, { crypto: 'libsodium' });
  const b = await endpoint(t, { crypto: 'sodium-native' });
  t.equal(a.crypto.name, 'libsodium-wrappers');
  t.equal(b.crypto.name, 'sodium-native');
  const listener = await b.listen('echo');
  listener.on('stream', (s: BraidStream) => s.pipe(s));
  await a.addPeer(b.eid, b.locators, { staticKey: b.publicKey });
  const session = await a.openSession(b.eid);
  const stream = await session.openStream('echo');
  const data = content(1 << 20, 5);
  const [echoed] = await Promise.all([readAll(stream), writeAll(stream, data)]);
  t.equal(sha256(echoed), sha256(data), '1 MiB through the echo, byte-exact');
});

t.test(
  "selectCrypto: 'auto' measures and says why; bad choices are refused",
  { skip },
  async (t) => {
    const auto = await selectCrypto('auto');
    t.match(auto.provider.name, /^(sodium-native|libsodium-wrappers)$/);
    t.match(auto.reason, /^auto: /);
    t.equal(await selectCrypto('auto'), auto, 'measured once per process');
    if (auto.measured)
      t.equal(
        auto.provider.name,
        auto.measured.sodiumNative >= 1.1 * auto.measured.libsodium
          ? 'sodium-native'
          : 'libsodium-wrappers',
        'the faster backend by the recorded figures',
      );
    t.equal((await selectCrypto('libsodium')).provider.name, 'libsodium-wrappers');
    t.equal((await selectCrypto('sodium-native')).provider.name, 'sodium-native');
    await t.rejects(selectCrypto('openssl' as 'auto'), { code: 'ERR_BRAID_CRYPTO_UNAVAILABLE' });
  },
);

t.test(
  'aeadOpenInPlace opens what aeadOpen opens, over the ciphertext itself',
  { skip },
  async (t) => {
    const openInPlace = crypto.aeadOpenInPlace?.bind(crypto);
    if (!openInPlace) throw new Error('sodium-native has an aeadOpenInPlace');
    fc.assert(
      fc.property(
        ...AEAD_CASE,
        fc.option(fc.nat(), { nil: undefined }),
        (key, nonce, ad, msg, at, flip) => {
          const sealed = wasm.aeadSeal(key, nonce, ad, msg);
          if (flip !== undefined) sealed[flip % sealed.length]! ^= 1;
          const want = wasm.aeadOpen(key, nonce, ad, sealed);
          // Inside a larger array, as a datagram's payload is.
          const datagram = new Uint8Array(at + sealed.length + 5).fill(0xee);
          datagram.set(sealed, at);
          const got = openInPlace(key, nonce, ad, datagram.subarray(at, at + sealed.length));
          if (want === null) return got === null;
          return (
            got !== null &&
            got.buffer === datagram.buffer &&
            got.byteOffset === datagram.byteOffset + at &&
            toHex(got) === toHex(want) &&
            datagram.subarray(0, at).every((b) => b === 0xee) &&
            datagram.subarray(at + sealed.length).every((b) => b === 0xee)
          );
        },
      ),
      { seed: 22, numRuns: 500 },
    );
    t.equal(
      openInPlace(new Uint8Array(32), new Uint8Array(12), new Uint8Array(0), new Uint8Array(15)),
      null,
    );
  },
);
