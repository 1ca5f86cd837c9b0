// Noise known-answer vectors (cacophony, via snow): every protocol name in the fixture must
// reproduce every handshake and transport ciphertext byte for byte, decrypt on the other side,
// and end with the expected handshake hash on both sides.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { createSodiumCrypto, runNoiseTestVector, type NoiseTestVector } from '@braid/protocol';

const FIXTURE = new URL(
  '../test/fixtures/cacophony-25519-ChaChaPoly-BLAKE2b.json',
  import.meta.url,
);
const { vectors } = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { vectors: NoiseTestVector[] };
const crypto = await createSodiumCrypto();

// The fixture holds one vector per protocol name; the goal is every one of them.
t.equal(new Set(vectors.map((v) => v.protocol_name)).size, 59, 'fixture has 59 protocol names');

for (const vector of vectors) {
  t.test(vector.protocol_name, async (t) => {
    const result = runNoiseTestVector(crypto, vector);
    t.same(result.failures, [], 'no mismatches');
    t.equal(result.status, 'passed');
  });
}

t.test('the runner notices a wrong ciphertext, payload or handshake hash', async (t) => {
  const xx = vectors.find((v) => v.protocol_name === 'Noise_XX_25519_ChaChaPoly_BLAKE2b')!;
  const flip = (hex: string, at: number): string =>
    hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);
  for (const index of [0, 1, 2, 4]) {
    const messages = xx.messages.map((m) => ({ ...m }));
    messages[index]!.ciphertext = flip(messages[index]!.ciphertext, 70);
    const result = runNoiseTestVector(crypto, { ...xx, messages });
    t.equal(result.status, 'failed', `flipped ciphertext of message ${index}`);
    t.match(result.failures[0], new RegExp(`message ${index}: ciphertext`));
  }
  const wrongHash = runNoiseTestVector(crypto, {
    ...xx,
    handshake_hash: flip(xx.handshake_hash!, 3),
  });
  t.equal(wrongHash.status, 'failed', 'flipped handshake hash');
  t.equal(wrongHash.failures.length, 2, 'reported for both sides');
  const wrongPrologue = runNoiseTestVector(crypto, { ...xx, resp_prologue: '00' });
  t.equal(wrongPrologue.status, 'failed', 'prologue mismatch breaks the handshake');
});

t.test('unsupported suites and patterns are skipped, not failed', async (t) => {
  const nn = vectors.find((v) => v.protocol_name === 'Noise_NN_25519_ChaChaPoly_BLAKE2b')!;
  for (const name of [
    'Noise_NN_448_ChaChaPoly_BLAKE2b',
    'Noise_NN_25519_AESGCM_SHA256',
    'Noise_XXfallback_25519_ChaChaPoly_BLAKE2b',
    'Noise_NNhfs_25519+Kyber1024_ChaChaPoly_BLAKE2b',
  ]) {
    t.same(
      runNoiseTestVector(crypto, { ...nn, protocol_name: name }),
      {
        status: 'skipped',
        failures: [],
      },
      name,
    );
  }
});
