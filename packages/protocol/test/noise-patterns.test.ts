// The pattern table and protocol-name parser (Noise §7, §8, §9.2, §18).
import t from 'tap';
import { NOISE_BASE_PATTERNS, parseProtocolName, resolveHandshakePattern } from '@braid/protocol';

const ONE_WAY = ['N', 'K', 'X'];
const FUNDAMENTAL = ['NN', 'NK', 'NX', 'KN', 'KK', 'KX', 'XN', 'XK', 'XX', 'IN', 'IK', 'IX'];
const DEFERRED = [
  'NK1',
  'NX1',
  'X1N',
  'X1K',
  'XK1',
  'X1K1',
  'X1X',
  'XX1',
  'X1X1',
  'K1N',
  'K1K',
  'KK1',
  'K1K1',
  'K1X',
  'KX1',
  'K1X1',
  'I1N',
  'I1K',
  'IK1',
  'I1K1',
  'I1X',
  'IX1',
  'I1X1',
];

t.test('the table has every one-way, fundamental and deferred pattern', async (t) => {
  t.same([...NOISE_BASE_PATTERNS].sort(), [...ONE_WAY, ...FUNDAMENTAL, ...DEFERRED].sort());
  for (const name of ONE_WAY) t.ok(resolveHandshakePattern(name).oneWay, `${name} is one-way`);
  for (const name of [...FUNDAMENTAL, ...DEFERRED])
    t.notOk(resolveHandshakePattern(name).oneWay, `${name} is interactive`);
});

t.test('patterns read as the spec writes them', async (t) => {
  t.same(resolveHandshakePattern('IK'), {
    name: 'IK',
    initiatorPreMessage: [],
    responderPreMessage: ['s'],
    messages: [
      ['e', 'es', 's', 'ss'],
      ['e', 'ee', 'se'],
    ],
    oneWay: false,
    pskCount: 0,
  });
  t.same(resolveHandshakePattern('K').initiatorPreMessage, ['s']);
  t.same(resolveHandshakePattern('X1X1').messages, [['e'], ['e', 'ee', 's'], ['es', 's'], ['se']]);
});

t.test('psk modifiers insert psk tokens where Noise §9.2 says', async (t) => {
  t.same(resolveHandshakePattern('XXpsk3').messages, [
    ['e'],
    ['e', 'ee', 's', 'es'],
    ['s', 'se', 'psk'],
  ]);
  t.same(resolveHandshakePattern('IKpsk2').messages, [
    ['e', 'es', 's', 'ss'],
    ['e', 'ee', 'se', 'psk'],
  ]);
  t.same(resolveHandshakePattern('NNpsk0').messages, [
    ['psk', 'e'],
    ['e', 'ee'],
  ]);
  const both = resolveHandshakePattern('NNpsk0+psk2');
  t.same(both.messages, [
    ['psk', 'e'],
    ['e', 'ee', 'psk'],
  ]);
  t.equal(both.pskCount, 2);
  t.equal(resolveHandshakePattern('XXpsk3').pskCount, 1);
  t.same(resolveHandshakePattern('Npsk1').messages, [['e', 'es', 'psk']], 'one-way psk1');
  for (const bad of [
    'NNpsk3',
    'Npsk2',
    'NNpsk0+psk0',
    'NNpsk01',
    'NNfallback',
    'NNhfs',
    'nn',
    'NN+psk0',
  ])
    t.throws(() => resolveHandshakePattern(bad), { code: 'ERR_BRAID_NOISE_UNSUPPORTED' }, bad);
});

t.test('protocol names parse into pattern, modifiers and suite', async (t) => {
  const parsed = parseProtocolName('Noise_KKpsk0+psk2_25519_ChaChaPoly_BLAKE2b');
  t.match(parsed, {
    protocolName: 'Noise_KKpsk0+psk2_25519_ChaChaPoly_BLAKE2b',
    pattern: 'KKpsk0+psk2',
    basePattern: 'KK',
    modifiers: ['psk0', 'psk2'],
    dh: '25519',
    cipher: 'ChaChaPoly',
    hash: 'BLAKE2b',
  });
  t.equal(parsed.handshake.pskCount, 2);
  for (const bad of [
    'Noise_XX_448_ChaChaPoly_BLAKE2b',
    'Noise_XX_25519_AESGCM_BLAKE2b',
    'Noise_XX_25519_ChaChaPoly_SHA256',
    'Noise_XX_25519_ChaChaPoly',
    'NoisePSK_XX_25519_ChaChaPoly_BLAKE2b',
    '',
  ])
    t.throws(
      () => parseProtocolName(bad),
      { code: 'ERR_BRAID_NOISE_UNSUPPORTED' },
      bad || '(empty)',
    );
});
