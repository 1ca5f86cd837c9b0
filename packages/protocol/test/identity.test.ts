import t from 'tap';
import fc from 'fast-check';
import {
  createSeededRandom,
  createSodiumCrypto,
  Eid,
  EID_TEXT_LENGTH,
  fromHex,
  generateIdentity,
  identityFromSecretKey,
  toHex,
} from '@braid/protocol';

t.test(
  'EID = BLAKE2b-128("braid eid v1" || public key), bech32m text with prefix braid',
  async (t) => {
    const crypto = await createSodiumCrypto();
    // Known answer: the RFC 7748 §6.1 Alice key. Computed independently with Python's hashlib:
    //   blake2b(b"braid eid v1" + pk, digest_size=16)
    const id = identityFromSecretKey(
      crypto,
      fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
    );
    t.equal(
      toHex(id.publicKey),
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    );
    t.equal(toHex(id.eid.bytes), '3b6c65cf993ee8a047eef0a3271127ef');
    const text = id.eid.toString();
    t.match(text, /^braid1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{32}$/);
    t.equal(text.length, EID_TEXT_LENGTH);
    t.ok(Eid.parse(text).equals(id.eid));
    t.ok(Eid.parse(text.toUpperCase()).equals(id.eid), 'upper case is accepted');
    t.ok(Eid.parse(`  ${text}\n`).equals(id.eid), 'surrounding whitespace is ignored');
  },
);

t.test('EID parse errors say what is wrong', async (t) => {
  const crypto = await createSodiumCrypto();
  const text = generateIdentity(crypto, createSeededRandom(1)).eid.toString();
  const cases: [string, RegExp][] = [
    ['', /empty/],
    [text.replace('braid1', 'brain1'), /prefix is "brain"/],
    [text.slice(6), /no "braid1" prefix/],
    [text.slice(0, 12) + 'b' + text.slice(13), /character "b" at position 13/],
    [text.slice(0, -1), /37 characters long, expected 38/],
    [text + 'q', /39 characters long/],
    [text.slice(0, 10) + text[10]!.toUpperCase() + text.slice(11), /mixes upper- and lower-case/],
  ];
  for (const [input, message] of cases)
    t.throws(
      () => Eid.parse(input),
      { code: 'ERR_BRAID_EID_INVALID', message },
      JSON.stringify(input),
    );
  // Any single-character substitution is caught by the checksum (bech32m guarantees it).
  const alphabet = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
  let caught = 0;
  let total = 0;
  for (let i = 6; i < text.length; i++)
    for (const c of alphabet) {
      if (c === text[i]) continue;
      total++;
      try {
        Eid.parse(text.slice(0, i) + c + text.slice(i + 1));
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BRAID_EID_INVALID') caught++;
      }
    }
  t.equal(caught, total, `all ${total} one-character typos rejected`);
});

t.test('fuzz: Eid.parse on arbitrary strings throws only ERR_BRAID_EID_INVALID', async (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      try {
        Eid.parse(s);
        return s.trim().toLowerCase().startsWith('braid1');
      } catch (err) {
        return (err as { code?: string }).code === 'ERR_BRAID_EID_INVALID';
      }
    }),
    { seed: 1, numRuns: 3000 },
  );
  t.pass();
});

t.test('key sizes are checked', async (t) => {
  const crypto = await createSodiumCrypto();
  t.throws(() => identityFromSecretKey(crypto, new Uint8Array(31)), {
    code: 'ERR_BRAID_INVALID_KEY',
  });
  t.throws(() => Eid.fromPublicKey(crypto, new Uint8Array(33)), { code: 'ERR_BRAID_INVALID_KEY' });
  t.throws(() => new Eid(new Uint8Array(15)), { code: 'ERR_BRAID_INVALID_KEY' });
});
