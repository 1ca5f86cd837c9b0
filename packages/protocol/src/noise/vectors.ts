import { bytesEqual, fromHex, toHex } from '../bytes.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { BraidError, UnsupportedPatternError } from '../errors.js';
import type { Random } from '../random.js';
import type { CipherState } from './cipher-state.js';
import { HandshakeState, keyPairFromSecretKey } from './handshake-state.js';
import { parseProtocolName } from './patterns.js';

/**
 * One known-answer vector in the format of the cacophony / snow vector files
 * (`{ vectors: [...] }`): `init_*` configure the initiator, `resp_*` the responder, all hex.
 */
export interface NoiseTestVector {
  protocol_name: string;
  init_prologue?: string;
  init_ephemeral?: string;
  init_static?: string;
  init_remote_static?: string;
  init_psks?: string[];
  resp_prologue?: string;
  resp_ephemeral?: string;
  resp_static?: string;
  resp_remote_static?: string;
  resp_psks?: string[];
  handshake_hash?: string;
  messages: { payload: string; ciphertext: string }[];
}

export interface NoiseTestVectorResult {
  /** `skipped` when the pattern or suite is not supported (`UnsupportedPatternError`). */
  status: 'passed' | 'failed' | 'skipped';
  /** One line per mismatch or error, naming the message index. */
  failures: string[];
}

/** Vectors fix every ephemeral, so the handshake must never ask for randomness. */
const NO_RANDOM: Random = {
  fill() {
    throw new Error('a test vector handshake asked for randomness');
  },
  nextU32() {
    throw new Error('a test vector handshake asked for randomness');
  },
  nextFloat() {
    throw new Error('a test vector handshake asked for randomness');
  },
};

function optionalHex(hex: string | undefined): Uint8Array | undefined {
  return hex === undefined ? undefined : fromHex(hex);
}

function createParty(
  crypto: CryptoProvider,
  vector: NoiseTestVector,
  initiator: boolean,
): HandshakeState {
  const side = initiator ? 'init' : 'resp';
  const field = (name: string): string | undefined =>
    (vector as unknown as Record<string, string | undefined>)[`${side}_${name}`];
  const staticSecret = optionalHex(field('static'));
  const ephemeralSecret = optionalHex(field('ephemeral'));
  const psks = (initiator ? vector.init_psks : vector.resp_psks)?.map(fromHex);
  return new HandshakeState({
    protocolName: vector.protocol_name,
    initiator,
    crypto,
    random: NO_RANDOM,
    prologue: optionalHex(field('prologue')),
    staticKeyPair: staticSecret && keyPairFromSecretKey(crypto, staticSecret),
    ephemeralKeyPair: ephemeralSecret && keyPairFromSecretKey(crypto, ephemeralSecret),
    remoteStaticKey: optionalHex(field('remote_static')),
    psks,
  });
}

/**
 * Runs one vector: both sides write and read every message, each ciphertext must equal the
 * expected bytes and decrypt to the payload, and both handshake hashes must match. After the
 * handshake, the remaining messages are transport messages under the Split() cipher states;
 * messages alternate initiator, responder, … throughout, except that one-way patterns (§7.4)
 * send everything initiator→responder.
 */
export function runNoiseTestVector(
  crypto: CryptoProvider,
  vector: NoiseTestVector,
): NoiseTestVectorResult {
  let oneWay: boolean;
  try {
    oneWay = parseProtocolName(vector.protocol_name).handshake.oneWay;
  } catch (err) {
    if (err instanceof UnsupportedPatternError) return { status: 'skipped', failures: [] };
    return { status: 'failed', failures: [`protocol_name: ${String(err)}`] };
  }
  const failures: string[] = [];
  let step = 'setup';
  try {
    const initiator = createParty(crypto, vector, true);
    const responder = createParty(crypto, vector, false);
    let transport:
      | {
          initiator: { send: CipherState; receive: CipherState };
          responder: { send: CipherState; receive: CipherState };
        }
      | undefined;
    vector.messages.forEach((message, index) => {
      step = `message ${index}`;
      const payload = fromHex(message.payload);
      const fromInitiator = oneWay || index % 2 === 0;
      let ciphertext: Uint8Array;
      let received: Uint8Array;
      if (transport === undefined) {
        const [sender, receiver] = fromInitiator ? [initiator, responder] : [responder, initiator];
        ciphertext = sender.writeMessage(payload);
        received = receiver.readMessage(ciphertext);
      } else {
        const [sender, receiver] = fromInitiator
          ? [transport.initiator, transport.responder]
          : [transport.responder, transport.initiator];
        ciphertext = sender.send.encryptWithAd(new Uint8Array(0), payload);
        received = receiver.receive.decryptWithAd(new Uint8Array(0), ciphertext);
      }
      if (toHex(ciphertext) !== message.ciphertext.toLowerCase())
        failures.push(`${step}: ciphertext ${toHex(ciphertext)} != expected ${message.ciphertext}`);
      if (!bytesEqual(received, payload))
        failures.push(`${step}: decrypted payload ${toHex(received)} != ${message.payload}`);
      if (transport === undefined && initiator.isComplete && responder.isComplete) {
        step = 'handshake hash';
        if (vector.handshake_hash !== undefined) {
          for (const [name, party] of [
            ['initiator', initiator],
            ['responder', responder],
          ] as const) {
            const hash = toHex(party.handshakeHash);
            if (hash !== vector.handshake_hash.toLowerCase())
              failures.push(`${name} handshake hash ${hash} != expected ${vector.handshake_hash}`);
          }
        }
        transport = { initiator: initiator.split(), responder: responder.split() };
      }
    });
    if (transport === undefined) failures.push('the handshake did not complete');
  } catch (err) {
    const detail = err instanceof BraidError ? `${err.code}: ${err.message}` : String(err);
    failures.push(`${step}: threw ${detail}`);
  }
  return { status: failures.length === 0 ? 'passed' : 'failed', failures };
}
