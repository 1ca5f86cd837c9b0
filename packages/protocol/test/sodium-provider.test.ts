import t from 'tap';
import { createSodiumCrypto, fromHex, toHex } from '@braid/protocol';

t.test('X25519 agrees both ways on the RFC 7748 §6.1 keys', async (t) => {
  const crypto = await createSodiumCrypto();
  const a = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const b = fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  const pa = crypto.x25519PublicKey(a);
  const pb = crypto.x25519PublicKey(b);
  t.equal(toHex(pa), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  t.equal(toHex(pb), 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  t.equal(toHex(crypto.x25519(a, pb)), toHex(crypto.x25519(b, pa)));
});

t.test('X25519 with a low-order point throws ERR_BRAID_LOW_ORDER_POINT', async (t) => {
  const crypto = await createSodiumCrypto();
  const zeroPoint = new Uint8Array(32);
  t.throws(() => crypto.x25519(new Uint8Array(32).fill(7), zeroPoint), {
    code: 'ERR_BRAID_LOW_ORDER_POINT',
  });
});

t.test('the provider is created once', async (t) => {
  t.equal(await createSodiumCrypto(), await createSodiumCrypto());
});
