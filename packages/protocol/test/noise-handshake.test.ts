// Adversarial tests of the Noise handshake engine: round trips with random keys, corrupted,
// truncated and out-of-turn messages, low-order points, wrong keys and PSKs, size limits and
// option validation. Known-answer vectors are in noise-vectors.test.ts.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import {
  BraidError,
  HandshakeState,
  NOISE_BASE_PATTERNS,
  NOISE_MESSAGE_BYTES_MAX,
  bytesEqual,
  createSeededRandom,
  createSodiumCrypto,
  fromHex,
  generateKeyPair,
  randomBytes,
  resolveHandshakePattern,
  toHex,
  type CryptoProvider,
  type HandshakeOptions,
  type KeyPair,
  type Random,
} from '@braid/protocol';

const crypto: CryptoProvider = await createSodiumCrypto();
const suite = (pattern: string): string => `Noise_${pattern}_25519_ChaChaPoly_BLAKE2b`;
const EMPTY = new Uint8Array(0);

interface Party {
  handshake: HandshakeState;
  staticKeyPair: KeyPair;
}

/**
 * Builds an initiator/responder pair for `pattern`, giving each side exactly the keys the
 * pattern needs: a static key pair always (unused ones are ignored), the peer's static key
 * when it is a pre-message, and matching PSKs.
 */
function makePair(
  pattern: string,
  random: Random,
  overrides: { initiator?: Partial<HandshakeOptions>; responder?: Partial<HandshakeOptions> } = {},
): { initiator: Party; responder: Party } {
  const resolved = resolveHandshakePattern(pattern);
  const initiatorStatic = generateKeyPair(crypto, random);
  const responderStatic = generateKeyPair(crypto, random);
  const psks = Array.from({ length: resolved.pskCount }, () => randomBytes(random, 32));
  const prologue = randomBytes(random, 7);
  const common = { protocolName: suite(pattern), crypto, random, prologue, psks };
  const initiator = new HandshakeState({
    ...common,
    initiator: true,
    staticKeyPair: initiatorStatic,
    remoteStaticKey: resolved.responderPreMessage.includes('s')
      ? responderStatic.publicKey
      : undefined,
    ...overrides.initiator,
  });
  const responder = new HandshakeState({
    ...common,
    initiator: false,
    staticKeyPair: responderStatic,
    remoteStaticKey: resolved.initiatorPreMessage.includes('s')
      ? initiatorStatic.publicKey
      : undefined,
    ...overrides.responder,
  });
  return {
    initiator: { handshake: initiator, staticKeyPair: initiatorStatic },
    responder: { handshake: responder, staticKeyPair: responderStatic },
  };
}

type Mutate = (messageIndex: number, message: Uint8Array) => Uint8Array;

interface Outcome {
  /** The first error a readMessage threw, with the index of the message being read. */
  error?: { messageIndex: number; err: unknown };
  initiatorComplete: boolean;
  responderComplete: boolean;
  payloads: Uint8Array[];
}

/** Runs the handshake, passing each message through `mutate`, until it completes or a read fails. */
function drive(
  initiator: HandshakeState,
  responder: HandshakeState,
  payloads: (index: number) => Uint8Array = () => EMPTY,
  mutate: Mutate = (_i, m) => m,
): Outcome {
  const received: Uint8Array[] = [];
  for (let index = 0; !(initiator.isComplete && responder.isComplete); index++) {
    if (index > 10) throw new Error('handshake did not terminate');
    const [sender, receiver] = initiator.isMyTurn ? [initiator, responder] : [responder, initiator];
    const message = mutate(index, sender.writeMessage(payloads(index)));
    try {
      received.push(receiver.readMessage(message));
    } catch (err) {
      return {
        error: { messageIndex: index, err },
        initiatorComplete: initiator.isComplete,
        responderComplete: responder.isComplete,
        payloads: received,
      };
    }
  }
  return { initiatorComplete: true, responderComplete: true, payloads: received };
}

function codeOf(err: unknown): string {
  return err instanceof BraidError ? err.code : `not a BraidError: ${String(err)}`;
}

function checkTransport(t: Test, initiator: HandshakeState, responder: HandshakeState): void {
  const a = initiator.split();
  const b = responder.split();
  const ad = Uint8Array.of(1, 2, 3);
  const hello = Uint8Array.of(104, 105);
  t.ok(bytesEqual(b.receive.decryptWithAd(ad, a.send.encryptWithAd(ad, hello)), hello), 'i→r');
  t.ok(bytesEqual(a.receive.decryptWithAd(ad, b.send.encryptWithAd(ad, hello)), hello), 'r→i');
  t.ok(bytesEqual(a.send.key!, b.receive.key!), 'initiator send key = responder receive key');
  t.notOk(bytesEqual(a.send.key!, a.receive.key!), 'the two directions have different keys');
}

t.test('every pattern in the table completes with random keys', async (t) => {
  const random = createSeededRandom(1);
  const patterns = [...NOISE_BASE_PATTERNS, 'XXpsk3', 'IKpsk2', 'NNpsk0+psk2', 'Kpsk0+psk1'];
  for (const pattern of patterns) {
    const { initiator, responder } = makePair(pattern, random);
    const payloads = (i: number): Uint8Array => Uint8Array.of(i, i + 1, i + 2);
    const outcome = drive(initiator.handshake, responder.handshake, payloads);
    t.equal(outcome.error, undefined, `${pattern}: no error`);
    t.equal(outcome.payloads.length, resolveHandshakePattern(pattern).messages.length, pattern);
    outcome.payloads.forEach((p, i) =>
      t.ok(bytesEqual(p, payloads(i)), `${pattern}: payload ${i}`),
    );
    t.equal(
      toHex(initiator.handshake.handshakeHash),
      toHex(responder.handshake.handshakeHash),
      `${pattern}: same handshake hash`,
    );
    const resolved = resolveHandshakePattern(pattern);
    const responderStaticKnown =
      resolved.responderPreMessage.includes('s') ||
      resolved.messages.some((m, i) => i % 2 === 1 && m.includes('s'));
    if (responderStaticKnown)
      t.same(
        initiator.handshake.remoteStaticKey,
        responder.staticKeyPair.publicKey,
        `${pattern}: rs`,
      );
    else t.equal(initiator.handshake.remoteStaticKey, undefined, `${pattern}: no rs`);
    const initiatorStaticKnown =
      resolved.initiatorPreMessage.includes('s') ||
      resolved.messages.some((m, i) => i % 2 === 0 && m.includes('s'));
    if (initiatorStaticKnown)
      t.same(
        responder.handshake.remoteStaticKey,
        initiator.staticKeyPair.publicKey,
        `${pattern}: rs`,
      );
    const a = initiator.handshake.split();
    const b = responder.handshake.split();
    t.ok(bytesEqual(a.send.key!, b.receive.key!), `${pattern}: split keys agree`);
  }
});

t.test('XX and IK round trips expose the peer keys and working transport keys', async (t) => {
  for (const pattern of ['XX', 'IK']) {
    const { initiator, responder } = makePair(pattern, createSeededRandom(2));
    t.ok(initiator.handshake.isMyTurn, 'initiator starts');
    t.notOk(responder.handshake.isMyTurn, 'responder waits');
    const outcome = drive(initiator.handshake, responder.handshake);
    t.equal(outcome.error, undefined);
    t.ok(initiator.handshake.isComplete && responder.handshake.isComplete, `${pattern} complete`);
    t.notOk(initiator.handshake.isMyTurn || responder.handshake.isMyTurn, 'nobody’s turn after');
    t.same(initiator.handshake.remoteStaticKey, responder.staticKeyPair.publicKey);
    t.same(responder.handshake.remoteStaticKey, initiator.staticKeyPair.publicKey);
    t.same(initiator.handshake.remoteEphemeralKey?.length, 32);
    checkTransport(t, initiator.handshake, responder.handshake);
  }
});

t.test('random payloads round-trip through XX, IK and IKpsk2 (property)', async (t) => {
  let seed = 100;
  fc.assert(
    fc.property(
      fc.constantFrom('XX', 'IK', 'IKpsk2'),
      fc.array(fc.uint8Array({ maxLength: 1500 }), { minLength: 3, maxLength: 3 }),
      fc.array(fc.uint8Array({ maxLength: 1500 }), { maxLength: 6 }),
      (pattern, handshakePayloads, transportPayloads) => {
        const { initiator, responder } = makePair(pattern, createSeededRandom(seed++));
        const outcome = drive(
          initiator.handshake,
          responder.handshake,
          (i) => handshakePayloads[i]!,
        );
        if (outcome.error !== undefined) return false;
        if (!outcome.payloads.every((p, i) => bytesEqual(p, handshakePayloads[i]!))) return false;
        const a = initiator.handshake.split();
        const b = responder.handshake.split();
        return transportPayloads.every((payload, i) => {
          const [send, receive] = i % 2 === 0 ? [a.send, b.receive] : [b.send, a.receive];
          return bytesEqual(
            receive.decryptWithAd(EMPTY, send.encryptWithAd(EMPTY, payload)),
            payload,
          );
        });
      },
    ),
    { numRuns: 150 },
  );
  t.pass('150 random runs');
});

t.test('a flipped bit anywhere in a handshake message makes the handshake fail', async (t) => {
  for (const pattern of ['NN', 'XX', 'IK', 'XXpsk3', 'IKpsk2', 'N', 'X1X1']) {
    const messageCount = resolveHandshakePattern(pattern).messages.length;
    let runs = 0;
    for (let target = 0; target < messageCount; target++) {
      // Measure the message once to know how many bits it has.
      const probe = makePair(pattern, createSeededRandom(3));
      let messageBits = 0;
      drive(
        probe.initiator.handshake,
        probe.responder.handshake,
        () => Uint8Array.of(9, 9),
        (i, m) => {
          if (i === target) messageBits = m.length * 8;
          return m;
        },
      );
      for (let bit = 0; bit < messageBits; bit++) {
        const { initiator, responder } = makePair(pattern, createSeededRandom(3));
        const outcome = drive(
          initiator.handshake,
          responder.handshake,
          () => Uint8Array.of(9, 9),
          (i, m) => {
            if (i !== target) return m;
            const flipped = m.slice();
            flipped[bit >> 3]! ^= 1 << (bit & 7);
            return flipped;
          },
        );
        runs++;
        const where = `${pattern} message ${target} bit ${bit}`;
        if (outcome.error === undefined) {
          t.fail(`${where}: handshake completed despite the flipped bit`);
          continue;
        }
        // The corruption is detected at the latest when the next authenticated data is read.
        const code = codeOf(outcome.error.err);
        if (code !== 'ERR_BRAID_DECRYPT_FAILED' && code !== 'ERR_BRAID_LOW_ORDER_POINT')
          t.fail(`${where}: unexpected ${code}`);
        if (outcome.initiatorComplete && outcome.responderComplete)
          t.fail(`${where}: both sides completed`);
      }
    }
    t.ok(runs > 0, `${pattern}: ${runs} single-bit corruptions all rejected`);
  }
});

t.test(
  'truncated messages give a typed error, never a crash or a completed handshake',
  async (t) => {
    for (const pattern of ['NN', 'XX', 'IK', 'IKpsk2', 'XXpsk3']) {
      const messageCount = resolveHandshakePattern(pattern).messages.length;
      for (let target = 0; target < messageCount; target++) {
        for (let keep = 0; ; keep++) {
          const { initiator, responder } = makePair(pattern, createSeededRandom(4));
          let fullLength = 0;
          const outcome = drive(
            initiator.handshake,
            responder.handshake,
            () => Uint8Array.of(1, 2, 3),
            (i, m) => {
              if (i !== target) return m;
              fullLength = m.length;
              return m.subarray(0, Math.min(keep, m.length));
            },
          );
          if (keep >= fullLength) break;
          const where = `${pattern} message ${target} cut to ${keep}/${fullLength} bytes`;
          if (
            outcome.error === undefined ||
            (outcome.initiatorComplete && outcome.responderComplete)
          ) {
            t.fail(`${where}: accepted`);
            continue;
          }
          const code = codeOf(outcome.error.err);
          if (!['ERR_BRAID_HANDSHAKE_STATE', 'ERR_BRAID_DECRYPT_FAILED'].includes(code))
            t.fail(`${where}: unexpected ${code}`);
        }
      }
      t.pass(`${pattern}: every truncation rejected`);
    }
  },
);

t.test(
  'a message too short for its pattern is refused without aborting the handshake',
  async (t) => {
    const { initiator, responder } = makePair('XX', createSeededRandom(5));
    const first = initiator.handshake.writeMessage(EMPTY);
    t.throws(() => responder.handshake.readMessage(first.subarray(0, 31)), {
      code: 'ERR_BRAID_HANDSHAKE_STATE',
      message: /truncated/,
    });
    t.same(responder.handshake.readMessage(first), EMPTY, 'the genuine message is still accepted');
    const second = responder.handshake.writeMessage(EMPTY);
    // e (32) + encrypted s (48) + empty payload tag (16) = 96 bytes at least.
    t.throws(() => initiator.handshake.readMessage(second.subarray(0, 95)), {
      code: 'ERR_BRAID_HANDSHAKE_STATE',
    });
    t.same(initiator.handshake.readMessage(second), EMPTY, 'then the genuine one is accepted');
    t.equal(drive(initiator.handshake, responder.handshake).error, undefined, 'and it completes');
  },
);

t.test('out-of-turn and post-completion calls throw HandshakeStateError', async (t) => {
  const { initiator, responder } = makePair('XX', createSeededRandom(6));
  t.throws(
    () => initiator.handshake.readMessage(new Uint8Array(32)),
    {
      code: 'ERR_BRAID_HANDSHAKE_STATE',
    },
    'initiator cannot read first',
  );
  t.throws(
    () => responder.handshake.writeMessage(EMPTY),
    {
      code: 'ERR_BRAID_HANDSHAKE_STATE',
    },
    'responder cannot write first',
  );
  t.throws(() => initiator.handshake.split(), { code: 'ERR_BRAID_HANDSHAKE_STATE' }, 'split early');
  const first = initiator.handshake.writeMessage(EMPTY);
  t.throws(
    () => initiator.handshake.writeMessage(EMPTY),
    {
      code: 'ERR_BRAID_HANDSHAKE_STATE',
    },
    'initiator cannot write twice',
  );
  responder.handshake.readMessage(first);
  t.throws(
    () => responder.handshake.readMessage(first),
    {
      code: 'ERR_BRAID_HANDSHAKE_STATE',
    },
    'responder cannot read a replayed first message',
  );
  t.equal(drive(initiator.handshake, responder.handshake).error, undefined, 'still completes');
  for (const side of [initiator.handshake, responder.handshake]) {
    t.throws(() => side.writeMessage(EMPTY), { code: 'ERR_BRAID_HANDSHAKE_STATE' });
    t.throws(() => side.readMessage(new Uint8Array(64)), { code: 'ERR_BRAID_HANDSHAKE_STATE' });
    side.split();
    t.throws(() => side.split(), { code: 'ERR_BRAID_HANDSHAKE_STATE' }, 'split only once');
  }
});

t.test(
  'a message that fails to authenticate is undone; the genuine one still completes',
  async (t) => {
    for (const pattern of ['IK', 'XX'] as const) {
      const { initiator, responder } = makePair(pattern, createSeededRandom(7));
      let fromInitiator = initiator.handshake.writeMessage(EMPTY);
      if (pattern === 'XX') {
        // XX message 1 is in clear: corrupt message 2 instead, read by the initiator.
        responder.handshake.readMessage(fromInitiator);
        const second = responder.handshake.writeMessage(EMPTY);
        const corrupted = second.slice();
        corrupted[40]! ^= 0x80;
        const hashBefore = toHex(initiator.handshake.handshakeHash);
        t.throws(() => initiator.handshake.readMessage(corrupted), {
          code: 'ERR_BRAID_DECRYPT_FAILED',
        });
        t.equal(toHex(initiator.handshake.handshakeHash), hashBefore, 'XX: h rolled back');
        t.equal(initiator.handshake.remoteStaticKey, undefined, 'XX: no remote static learned');
        initiator.handshake.readMessage(second);
        fromInitiator = initiator.handshake.writeMessage(EMPTY);
        responder.handshake.readMessage(fromInitiator);
      } else {
        const corrupted = fromInitiator.slice();
        corrupted[40]! ^= 0x80;
        const hashBefore = toHex(responder.handshake.handshakeHash);
        t.throws(() => responder.handshake.readMessage(corrupted), {
          code: 'ERR_BRAID_DECRYPT_FAILED',
        });
        t.equal(toHex(responder.handshake.handshakeHash), hashBefore, 'IK: h rolled back');
        t.notOk(responder.handshake.isMyTurn, 'IK: still waiting for message 1');
        responder.handshake.readMessage(fromInitiator);
        initiator.handshake.readMessage(responder.handshake.writeMessage(EMPTY));
      }
      t.ok(initiator.handshake.isComplete && responder.handshake.isComplete, `${pattern} complete`);
      t.equal(
        toHex(initiator.handshake.handshakeHash),
        toHex(responder.handshake.handshakeHash),
        `${pattern}: both sides agree after the forged message`,
      );
    }
  },
);

// Every X25519 point for which Wycheproof expects an all-zero shared secret, plus all-zero.
const lowOrderPoints: Uint8Array[] = (() => {
  const file = new URL('../test/fixtures/x25519_test.json', import.meta.url);
  const data = JSON.parse(readFileSync(file, 'utf8')) as {
    testGroups: { tests: { public: string; shared: string }[] }[];
  };
  const points = new Set<string>(['00'.repeat(32)]);
  for (const group of data.testGroups)
    for (const test of group.tests) if (/^0+$/.test(test.shared)) points.add(test.public);
  return [...points].map(fromHex);
})();

t.test('a low-order ephemeral or static point aborts the handshake', async (t) => {
  t.ok(lowOrderPoints.length >= 12, `${lowOrderPoints.length} low-order encodings`);
  for (const point of lowOrderPoints) {
    const hex = toHex(point);
    // Initiator's ephemeral in XX message 1: replace the cleartext e.
    {
      const { initiator, responder } = makePair('XX', createSeededRandom(8));
      const message = initiator.handshake.writeMessage(EMPTY);
      message.set(point, 0);
      t.throws(
        () => responder.handshake.readMessage(message),
        {
          code: 'ERR_BRAID_LOW_ORDER_POINT',
        },
        `XX initiator e ${hex}`,
      );
      t.throws(
        () => responder.handshake.writeMessage(EMPTY),
        {
          code: 'ERR_BRAID_HANDSHAKE_STATE',
        },
        'responder aborted',
      );
    }
    // Responder's ephemeral in XX message 2.
    {
      const { initiator, responder } = makePair('XX', createSeededRandom(9));
      responder.handshake.readMessage(initiator.handshake.writeMessage(EMPTY));
      const message = responder.handshake.writeMessage(EMPTY);
      message.set(point, 0);
      t.throws(
        () => initiator.handshake.readMessage(message),
        {
          code: 'ERR_BRAID_LOW_ORDER_POINT',
        },
        `XX responder e ${hex}`,
      );
      t.throws(
        () => initiator.handshake.writeMessage(EMPTY),
        {
          code: 'ERR_BRAID_HANDSHAKE_STATE',
        },
        'initiator aborted',
      );
    }
    // A peer whose static public key is low order, sent properly encrypted.
    {
      const random = createSeededRandom(10);
      const badStatic = { secretKey: randomBytes(random, 32), publicKey: point };
      const { initiator, responder } = makePair('XX', random, {
        responder: { staticKeyPair: badStatic },
      });
      responder.handshake.readMessage(initiator.handshake.writeMessage(EMPTY));
      const message = responder.handshake.writeMessage(EMPTY);
      t.throws(
        () => initiator.handshake.readMessage(message),
        {
          code: 'ERR_BRAID_LOW_ORDER_POINT',
        },
        `XX responder s ${hex}`,
      );
    }
    {
      const random = createSeededRandom(11);
      const badStatic = { secretKey: randomBytes(random, 32), publicKey: point };
      const { initiator, responder } = makePair('IK', random, {
        initiator: { staticKeyPair: badStatic },
      });
      t.throws(
        () => responder.handshake.readMessage(initiator.handshake.writeMessage(EMPTY)),
        {
          code: 'ERR_BRAID_LOW_ORDER_POINT',
        },
        `IK initiator s ${hex}`,
      );
    }
    // A pre-shared remote static that is low order is refused up front.
    t.throws(
      () => makePair('IK', createSeededRandom(12), { initiator: { remoteStaticKey: point } }),
      {
        code: 'ERR_BRAID_LOW_ORDER_POINT',
      },
      `IK pre-message rs ${hex}`,
    );
  }
});

t.test('IK with the wrong responder static key fails at the responder', async (t) => {
  const random = createSeededRandom(13);
  const stranger = generateKeyPair(crypto, random);
  const { initiator, responder } = makePair('IK', random, {
    initiator: { remoteStaticKey: stranger.publicKey },
  });
  const outcome = drive(initiator.handshake, responder.handshake);
  t.equal(outcome.error?.messageIndex, 0, 'the first message is refused');
  t.equal(codeOf(outcome.error?.err), 'ERR_BRAID_DECRYPT_FAILED');
  t.notOk(responder.handshake.isComplete);
  t.equal(responder.handshake.remoteStaticKey, undefined, 'nothing learned about the initiator');
});

t.test('a PSK mismatch makes the handshake fail', async (t) => {
  for (const pattern of ['NNpsk0', 'XXpsk3', 'IKpsk2', 'IKpsk1', 'Npsk0', 'NNpsk0+psk2']) {
    const random = createSeededRandom(14);
    const count = resolveHandshakePattern(pattern).pskCount;
    for (let wrong = 0; wrong < count; wrong++) {
      const psks = Array.from({ length: count }, () => randomBytes(random, 32));
      const otherPsks = psks.map((psk, i) => (i === wrong ? randomBytes(random, 32) : psk));
      const { initiator, responder } = makePair(pattern, random, {
        initiator: { psks },
        responder: { psks: otherPsks },
      });
      const outcome = drive(initiator.handshake, responder.handshake);
      t.equal(codeOf(outcome.error?.err), 'ERR_BRAID_DECRYPT_FAILED', `${pattern}: psk ${wrong}`);
      t.notOk(outcome.initiatorComplete && outcome.responderComplete);
    }
  }
});

t.test(
  'random garbage given to readMessage only ever throws Braid errors (property)',
  async (t) => {
    let seed = 1000;
    fc.assert(
      fc.property(
        fc.constantFrom('NN', 'XX', 'IK', 'IKpsk2', 'XXpsk3', 'N', 'X', 'KK'),
        fc.integer({ min: 0, max: 2 }),
        fc.uint8Array({ maxLength: 300 }),
        (pattern, step, garbage) => {
          const { initiator, responder } = makePair(pattern, createSeededRandom(seed++));
          // Advance `step` genuine messages (as far as the pattern goes) before the garbage.
          const messages = resolveHandshakePattern(pattern).messages.length;
          for (let i = 0; i < Math.min(step, messages - 1); i++) {
            const [s, r] = initiator.handshake.isMyTurn
              ? [initiator.handshake, responder.handshake]
              : [responder.handshake, initiator.handshake];
            r.readMessage(s.writeMessage(EMPTY));
          }
          const reader = initiator.handshake.isMyTurn ? responder.handshake : initiator.handshake;
          try {
            reader.readMessage(garbage);
          } catch (err) {
            return err instanceof BraidError && err.code.startsWith('ERR_BRAID_');
          }
          // Accepting garbage is only possible where the message is unauthenticated: a first
          // message carrying no DH or PSK (e.g. NN's or XX's `-> e`).
          return !reader.isComplete;
        },
      ),
      { numRuns: 400 },
    );
    t.pass('400 random messages');
  },
);

t.test('messages are limited to 65535 bytes (Noise §3)', async (t) => {
  const { initiator, responder } = makePair('XX', createSeededRandom(15));
  // XX message 1 is `e` (32 bytes) and the cleartext payload.
  t.throws(() => initiator.handshake.writeMessage(new Uint8Array(NOISE_MESSAGE_BYTES_MAX - 31)), {
    code: 'ERR_BRAID_HANDSHAKE_STATE',
  });
  t.ok(initiator.handshake.isMyTurn, 'a refused write leaves the state untouched');
  const first = initiator.handshake.writeMessage(new Uint8Array(NOISE_MESSAGE_BYTES_MAX - 32));
  t.equal(first.length, NOISE_MESSAGE_BYTES_MAX, 'exactly 65535 bytes is allowed');
  t.throws(() => responder.handshake.readMessage(new Uint8Array(NOISE_MESSAGE_BYTES_MAX + 1)), {
    code: 'ERR_BRAID_HANDSHAKE_STATE',
  });
  t.equal(responder.handshake.readMessage(first).length, NOISE_MESSAGE_BYTES_MAX - 32);
  // Message 2 has e, encrypted s (48) and an encrypted payload: 96 bytes of overhead.
  t.throws(() => responder.handshake.writeMessage(new Uint8Array(NOISE_MESSAGE_BYTES_MAX - 95)), {
    code: 'ERR_BRAID_HANDSHAKE_STATE',
  });
  t.equal(
    responder.handshake.writeMessage(new Uint8Array(NOISE_MESSAGE_BYTES_MAX - 96)).length,
    65535,
  );
});

t.test('options are validated with typed errors', async (t) => {
  const random = createSeededRandom(16);
  const keys = generateKeyPair(crypto, random);
  const base = { crypto, random, initiator: true };
  const cases: [string, HandshakeOptions, string][] = [
    ['unknown pattern', { ...base, protocolName: suite('ZZ') }, 'ERR_BRAID_NOISE_UNSUPPORTED'],
    [
      'other suite',
      { ...base, protocolName: 'Noise_XX_25519_AESGCM_SHA256' },
      'ERR_BRAID_NOISE_UNSUPPORTED',
    ],
    ['not Noise', { ...base, protocolName: 'XX' }, 'ERR_BRAID_NOISE_UNSUPPORTED'],
    ['psk out of range', { ...base, protocolName: suite('NNpsk3') }, 'ERR_BRAID_NOISE_UNSUPPORTED'],
    [
      'fallback modifier',
      { ...base, protocolName: suite('XXfallback') },
      'ERR_BRAID_NOISE_UNSUPPORTED',
    ],
    ['XX without static', { ...base, protocolName: suite('XX') }, 'ERR_BRAID_INVALID_OPTION'],
    [
      'IK without rs',
      { ...base, protocolName: suite('IK'), staticKeyPair: keys },
      'ERR_BRAID_INVALID_OPTION',
    ],
    [
      'rs that XX would not check',
      { ...base, protocolName: suite('XX'), staticKeyPair: keys, remoteStaticKey: keys.publicKey },
      'ERR_BRAID_INVALID_OPTION',
    ],
    [
      'short rs',
      {
        ...base,
        protocolName: suite('IK'),
        staticKeyPair: keys,
        remoteStaticKey: new Uint8Array(31),
      },
      'ERR_BRAID_INVALID_KEY',
    ],
    [
      'short static',
      {
        ...base,
        protocolName: suite('XX'),
        staticKeyPair: { ...keys, publicKey: new Uint8Array(16) },
      },
      'ERR_BRAID_INVALID_KEY',
    ],
    ['missing psk', { ...base, protocolName: suite('NNpsk0') }, 'ERR_BRAID_INVALID_OPTION'],
    [
      'psk for a pattern without psk',
      { ...base, protocolName: suite('NN'), psks: [new Uint8Array(32)] },
      'ERR_BRAID_INVALID_OPTION',
    ],
    [
      'short psk',
      { ...base, protocolName: suite('NNpsk0'), psks: [new Uint8Array(31)] },
      'ERR_BRAID_INVALID_KEY',
    ],
  ];
  for (const [what, options, code] of cases)
    t.throws(() => new HandshakeState(options), { code }, what);
});

t.test('ephemeral keys come from the injected Random', async (t) => {
  const run = (seed: number): string => {
    const { initiator } = makePair('NN', createSeededRandom(seed));
    return toHex(initiator.handshake.writeMessage(EMPTY));
  };
  t.equal(run(17), run(17), 'same seed, same first message');
  t.not(run(17), run(18), 'another seed, another ephemeral');
});
