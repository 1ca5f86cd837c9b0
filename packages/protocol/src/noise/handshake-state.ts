import { asciiBytes } from '../bytes.js';
import { AEAD_TAG_BYTES, X25519_KEY_BYTES, type CryptoProvider } from '../crypto/provider.js';
import {
  DecryptError,
  HandshakeStateError,
  InvalidKeyError,
  InvalidOptionError,
  LowOrderPointError,
} from '../errors.js';
import { randomBytes, type Random } from '../random.js';
import { NOISE_MESSAGE_BYTES_MAX, type CipherState } from './cipher-state.js';
import { isLowOrderX25519Point } from './low-order.js';
import {
  parseProtocolName,
  type HandshakePattern,
  type NoisePreMessageToken,
  type NoiseToken,
} from './patterns.js';
import { SymmetricState } from './symmetric-state.js';

/** PSK length fixed by Noise §9.1. */
export const NOISE_PSK_BYTES = 32;

/** An X25519 key pair: 32-byte secret and public keys. */
export interface KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

/** GENERATE_KEYPAIR() (Noise §12.1) from the injected randomness (DESIGN: no global random). */
export function generateKeyPair(crypto: CryptoProvider, random: Random): KeyPair {
  return keyPairFromSecretKey(crypto, randomBytes(random, X25519_KEY_BYTES));
}

/** The key pair for a known 32-byte secret (stored identities, test vectors). */
export function keyPairFromSecretKey(crypto: CryptoProvider, secretKey: Uint8Array): KeyPair {
  return { secretKey: secretKey.slice(), publicKey: crypto.x25519PublicKey(secretKey) };
}

export interface HandshakeOptions {
  /**
   * Full name, e.g. `Noise_XX_25519_ChaChaPoly_BLAKE2b` or
   * `Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b`. Only the `25519_ChaChaPoly_BLAKE2b` suite is
   * supported; others throw `UnsupportedPatternError`.
   */
  protocolName: string;
  /** Whether this side sends the first message. */
  initiator: boolean;
  crypto: CryptoProvider;
  /** Source of the ephemeral key when `ephemeralKeyPair` is not given. */
  random: Random;
  /** Bytes both sides must agree on (Noise §6). Default: empty. */
  prologue?: Uint8Array;
  /** Local static key pair; required when the pattern sends or pre-shares it. */
  staticKeyPair?: KeyPair;
  /** Fixed ephemeral key pair, for test vectors only. Default: generated from `random`. */
  ephemeralKeyPair?: KeyPair;
  /**
   * Peer's static public key; required exactly when the pattern has it as a pre-message
   * (e.g. the initiator of IK or NK), refused otherwise, since it would not be checked.
   */
  remoteStaticKey?: Uint8Array;
  /** Peer's ephemeral public key; only for patterns with an `e` pre-message. */
  remoteEphemeralKey?: Uint8Array;
  /** 32 bytes each, consumed in the order the pattern's `psk` tokens are processed. */
  psks?: Uint8Array[];
}

type Status = 'active' | 'complete' | 'failed';

/**
 * A Noise HandshakeState (§5.3) for any pattern of the table in `patterns.ts`.
 *
 * Call order: while `!isComplete`, call `writeMessage` when `isMyTurn`, otherwise
 * `readMessage` with the peer's next message; once `isComplete`, call `split()` once.
 *
 * Errors: calls out of turn, after completion, and messages that are too long (Noise §3) or too
 * short for the pattern throw `HandshakeStateError` and leave the state untouched. A message
 * that fails to authenticate (`DecryptError`) is undone: the state is as before the call, so a
 * forged or corrupted datagram cannot kill a handshake over UDP (WireGuard drops such messages
 * the same way). A low-order key (`LowOrderPointError`) or a failure while writing aborts the
 * handshake: every later call throws `HandshakeStateError`.
 */
export class HandshakeState {
  readonly initiator: boolean;
  readonly protocolName: string;
  #crypto: CryptoProvider;
  #random: Random;
  #pattern: HandshakePattern;
  #symmetric: SymmetricState;
  #pskMode: boolean;
  #staticKeyPair: KeyPair | undefined;
  #fixedEphemeral: KeyPair | undefined;
  #ephemeralKeyPair: KeyPair | undefined;
  #remoteStaticKey: Uint8Array | undefined;
  #remoteEphemeralKey: Uint8Array | undefined;
  #psks: Uint8Array[];
  #pskIndex = 0;
  #messageIndex = 0;
  #status: Status = 'active';
  #splitDone = false;

  constructor(options: HandshakeOptions) {
    const protocol = parseProtocolName(options.protocolName);
    const pattern = protocol.handshake;
    this.initiator = options.initiator;
    this.protocolName = options.protocolName;
    this.#crypto = options.crypto;
    this.#random = options.random;
    this.#pattern = pattern;
    this.#pskMode = pattern.pskCount > 0;

    const localPre = options.initiator ? pattern.initiatorPreMessage : pattern.responderPreMessage;
    const remotePre = options.initiator ? pattern.responderPreMessage : pattern.initiatorPreMessage;
    const localSends = (token: NoiseToken): boolean =>
      pattern.messages.some((m, i) => (i % 2 === 0) === options.initiator && m.includes(token));
    const role = options.initiator ? 'initiator' : 'responder';

    if (options.staticKeyPair !== undefined) checkKeyPair('staticKeyPair', options.staticKeyPair);
    if (options.ephemeralKeyPair !== undefined)
      checkKeyPair('ephemeralKeyPair', options.ephemeralKeyPair);
    if ((localPre.includes('s') || localSends('s')) && options.staticKeyPair === undefined)
      throw new InvalidOptionError(`${pattern.name} needs staticKeyPair for the ${role}`);
    if (localPre.includes('e') && options.ephemeralKeyPair === undefined)
      throw new InvalidOptionError(`${pattern.name} needs ephemeralKeyPair for the ${role}`);
    this.#staticKeyPair = options.staticKeyPair;
    this.#fixedEphemeral = options.ephemeralKeyPair;
    if (localPre.includes('e')) this.#ephemeralKeyPair = options.ephemeralKeyPair;

    this.#remoteStaticKey = checkRemoteKey(
      'remoteStaticKey',
      options.remoteStaticKey,
      remotePre.includes('s'),
      pattern.name,
      role,
    );
    this.#remoteEphemeralKey = checkRemoteKey(
      'remoteEphemeralKey',
      options.remoteEphemeralKey,
      remotePre.includes('e'),
      pattern.name,
      role,
    );

    const psks = options.psks ?? [];
    if (psks.length !== pattern.pskCount)
      throw new InvalidOptionError(
        `${pattern.name} needs ${pattern.pskCount} psk(s), got ${psks.length}`,
      );
    for (const psk of psks)
      if (psk.length !== NOISE_PSK_BYTES)
        throw new InvalidKeyError(`psk must be ${NOISE_PSK_BYTES} bytes, got ${psk.length}`);
    this.#psks = psks.map((psk) => psk.slice());

    // Noise §5.3 Initialize(): name, prologue, then the pre-message keys, initiator's first.
    this.#symmetric = new SymmetricState(options.crypto, asciiBytes(options.protocolName));
    this.#symmetric.mixHash(options.prologue ?? new Uint8Array(0));
    this.#mixPreMessage(pattern.initiatorPreMessage, options.initiator);
    this.#mixPreMessage(pattern.responderPreMessage, !options.initiator);
  }

  /** Whether every handshake message has been written or read. */
  get isComplete(): boolean {
    return this.#status === 'complete';
  }

  /** Whether the next call must be `writeMessage` (false once complete or failed). */
  get isMyTurn(): boolean {
    return this.#status === 'active' && (this.#messageIndex % 2 === 0) === this.initiator;
  }

  /** A copy of `h` (Noise §5.2); final once complete, usable for channel binding (§11.2). */
  get handshakeHash(): Uint8Array {
    return this.#symmetric.handshakeHash;
  }

  /** The peer's static public key, once pre-shared or received. */
  get remoteStaticKey(): Uint8Array | undefined {
    return this.#remoteStaticKey?.slice();
  }

  /** The peer's ephemeral public key, once received. */
  get remoteEphemeralKey(): Uint8Array | undefined {
    return this.#remoteEphemeralKey?.slice();
  }

  /** WriteMessage(payload) (Noise §5.3): the next handshake message, carrying `payload`. */
  writeMessage(payload: Uint8Array): Uint8Array {
    this.#checkUsable();
    if (!this.isMyTurn) throw new HandshakeStateError('it is the peer’s turn to send');
    const tokens = this.#pattern.messages[this.#messageIndex]!;
    const messageBytes = this.#messageBytes(tokens, payload.length);
    if (messageBytes > NOISE_MESSAGE_BYTES_MAX)
      throw new HandshakeStateError(
        `handshake message would be ${messageBytes} bytes; Noise allows ${NOISE_MESSAGE_BYTES_MAX}`,
      );
    try {
      const parts: Uint8Array[] = [];
      for (const token of tokens) {
        if (token === 'e') {
          const ephemeral = this.#fixedEphemeral ?? generateKeyPair(this.#crypto, this.#random);
          this.#ephemeralKeyPair = ephemeral;
          parts.push(ephemeral.publicKey.slice());
          this.#mixEphemeral(ephemeral.publicKey);
        } else if (token === 's') {
          parts.push(this.#symmetric.encryptAndHash(this.#requireStatic().publicKey));
        } else {
          this.#processKeyToken(token);
        }
      }
      parts.push(this.#symmetric.encryptAndHash(payload));
      this.#advance();
      return concat(parts, messageBytes);
    } catch (err) {
      this.#status = 'failed';
      throw err;
    }
  }

  /**
   * ReadMessage(message) (Noise §5.3): processes the peer's next handshake message and returns
   * its payload. Throws `DecryptError` when it does not authenticate (the state is then left
   * exactly as before the call, so the genuine message can still be read), `LowOrderPointError`
   * for a low-order public key (the handshake is aborted), `HandshakeStateError` when out of
   * turn or of the wrong length (nothing changes).
   */
  readMessage(message: Uint8Array): Uint8Array {
    this.#checkUsable();
    if (this.isMyTurn) throw new HandshakeStateError('it is our turn to send, not to read');
    if (message.length > NOISE_MESSAGE_BYTES_MAX)
      throw new HandshakeStateError(
        `handshake message is ${message.length} bytes; Noise allows ${NOISE_MESSAGE_BYTES_MAX}`,
      );
    const tokens = this.#pattern.messages[this.#messageIndex]!;
    const minimumBytes = this.#messageBytes(tokens, 0);
    if (message.length < minimumBytes)
      throw new HandshakeStateError(
        `truncated handshake message: ${message.length} bytes, ${this.#pattern.name} message ${this.#messageIndex + 1} needs at least ${minimumBytes}`,
      );
    const before = {
      symmetric: this.#symmetric.snapshot(),
      remoteEphemeralKey: this.#remoteEphemeralKey,
      remoteStaticKey: this.#remoteStaticKey,
      pskIndex: this.#pskIndex,
    };
    try {
      let offset = 0;
      const take = (length: number): Uint8Array => {
        const part = message.subarray(offset, offset + length);
        offset += length;
        return part;
      };
      for (const token of tokens) {
        if (token === 'e') {
          const remoteEphemeral = take(X25519_KEY_BYTES).slice();
          checkNotLowOrder('ephemeral', remoteEphemeral);
          this.#remoteEphemeralKey = remoteEphemeral;
          this.#mixEphemeral(remoteEphemeral);
        } else if (token === 's') {
          const sealedBytes =
            X25519_KEY_BYTES + (this.#symmetric.cipherState.hasKey ? AEAD_TAG_BYTES : 0);
          const remoteStatic = this.#symmetric.decryptAndHash(take(sealedBytes));
          checkNotLowOrder('static', remoteStatic);
          this.#remoteStaticKey = remoteStatic;
        } else {
          this.#processKeyToken(token);
        }
      }
      const payload = this.#symmetric.decryptAndHash(message.subarray(offset));
      this.#advance();
      return payload;
    } catch (err) {
      if (err instanceof DecryptError) {
        // A message that does not authenticate is forged or corrupted, and over UDP the genuine
        // one may still arrive: undo what it mixed in and stay where we were, as WireGuard
        // drops such messages. (Noise §5.3 leaves the reaction to the application.)
        this.#symmetric.restore(before.symmetric);
        this.#remoteEphemeralKey = before.remoteEphemeralKey;
        this.#remoteStaticKey = before.remoteStaticKey;
        this.#pskIndex = before.pskIndex;
      } else {
        // A low-order key is not noise on the wire but a peer misbehaving: abort.
        this.#status = 'failed';
      }
      throw err;
    }
  }

  /**
   * Split() (Noise §5.2), once, after completion: `send` encrypts this side's transport
   * messages and `receive` decrypts the peer's (initiator→responder is the first Split output).
   * For one-way patterns (§7.4) only the initiator's `send` / responder's `receive` may be used.
   */
  split(): { send: CipherState; receive: CipherState } {
    if (this.#status !== 'complete')
      throw new HandshakeStateError('split() before the handshake completed');
    if (this.#splitDone) throw new HandshakeStateError('split() was already called');
    this.#splitDone = true;
    const [initiatorToResponder, responderToInitiator] = this.#symmetric.split();
    return this.initiator
      ? { send: initiatorToResponder, receive: responderToInitiator }
      : { send: responderToInitiator, receive: initiatorToResponder };
  }

  #checkUsable(): void {
    if (this.#status === 'failed')
      throw new HandshakeStateError('the handshake failed and was aborted');
    if (this.#status === 'complete') throw new HandshakeStateError('the handshake is complete');
  }

  #advance(): void {
    this.#messageIndex++;
    if (this.#messageIndex === this.#pattern.messages.length) this.#status = 'complete';
  }

  /**
   * Length of the next message for a payload of `payloadBytes`: public keys are 32 bytes, and
   * `s` and the payload carry a 16-byte tag once a key is set, which happens at the first DH,
   * `psk`, or (in PSK handshakes, Noise §9.2) `e`.
   */
  #messageBytes(tokens: readonly NoiseToken[], payloadBytes: number): number {
    let hasKey = this.#symmetric.cipherState.hasKey;
    let bytes = 0;
    for (const token of tokens) {
      if (token === 'e') {
        bytes += X25519_KEY_BYTES;
        if (this.#pskMode) hasKey = true;
      } else if (token === 's') {
        bytes += X25519_KEY_BYTES + (hasKey ? AEAD_TAG_BYTES : 0);
      } else {
        hasKey = true;
      }
    }
    return bytes + payloadBytes + (hasKey ? AEAD_TAG_BYTES : 0);
  }

  #mixPreMessage(tokens: readonly NoisePreMessageToken[], local: boolean): void {
    for (const token of tokens) {
      const key =
        token === 's'
          ? local
            ? this.#staticKeyPair?.publicKey
            : this.#remoteStaticKey
          : local
            ? this.#ephemeralKeyPair?.publicKey
            : this.#remoteEphemeralKey;
      // Presence was checked by the constructor's option validation.
      if (key === undefined) throw new HandshakeStateError(`missing pre-message key ${token}`);
      if (token === 'e') this.#mixEphemeral(key);
      else this.#symmetric.mixHash(key);
    }
  }

  /** Noise §5.3 `e`, plus §9.2: in a PSK handshake the ephemeral is also mixed into the key. */
  #mixEphemeral(publicKey: Uint8Array): void {
    this.#symmetric.mixHash(publicKey);
    if (this.#pskMode) this.#symmetric.mixKey(publicKey);
  }

  /** The DH tokens (Noise §5.3) and `psk` (§9.2). */
  #processKeyToken(token: Exclude<NoiseToken, 'e' | 's'>): void {
    if (token === 'psk') {
      const psk = this.#psks[this.#pskIndex++];
      if (psk === undefined) throw new HandshakeStateError('more psk tokens than psks');
      this.#symmetric.mixKeyAndHash(psk);
      return;
    }
    // The first letter names the initiator's key, the second the responder's (§7.1).
    const initiatorKey = token[0] === 'e' ? 'e' : 's';
    const responderKey = token[1] === 'e' ? 'e' : 's';
    const localKey = this.initiator ? initiatorKey : responderKey;
    const remoteKey = this.initiator ? responderKey : initiatorKey;
    const local = localKey === 'e' ? this.#ephemeralKeyPair : this.#staticKeyPair;
    const remote = remoteKey === 'e' ? this.#remoteEphemeralKey : this.#remoteStaticKey;
    if (local === undefined || remote === undefined)
      throw new HandshakeStateError(`${token}: a key is missing`);
    this.#symmetric.mixKey(this.#crypto.x25519(local.secretKey, remote));
  }

  #requireStatic(): KeyPair {
    if (this.#staticKeyPair === undefined) throw new HandshakeStateError('no static key pair');
    return this.#staticKeyPair;
  }
}

function checkKeyPair(what: string, keyPair: KeyPair): void {
  if (
    keyPair.secretKey.length !== X25519_KEY_BYTES ||
    keyPair.publicKey.length !== X25519_KEY_BYTES
  )
    throw new InvalidKeyError(`${what} keys must be ${X25519_KEY_BYTES} bytes`);
}

function checkRemoteKey(
  what: string,
  key: Uint8Array | undefined,
  preMessage: boolean,
  pattern: string,
  role: string,
): Uint8Array | undefined {
  if (!preMessage) {
    if (key !== undefined)
      throw new InvalidOptionError(
        `${what} is not a pre-message of ${pattern} for the ${role}; it is learned from the handshake`,
      );
    return undefined;
  }
  if (key === undefined) throw new InvalidOptionError(`${pattern} needs ${what} for the ${role}`);
  if (key.length !== X25519_KEY_BYTES)
    throw new InvalidKeyError(`${what} must be ${X25519_KEY_BYTES} bytes, got ${key.length}`);
  checkNotLowOrder(what, key);
  return key.slice();
}

/** RFC 7748 §6.1 / Noise §12.1: a low-order peer key would make the DH output all zero. */
function checkNotLowOrder(what: string, publicKey: Uint8Array): void {
  if (isLowOrderX25519Point(publicKey))
    throw new LowOrderPointError(`peer ${what} key is a low-order X25519 point`);
}

function concat(parts: readonly Uint8Array[], totalBytes: number): Uint8Array {
  const out = new Uint8Array(totalBytes);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  // The length was computed before writing (to enforce Noise §3 without side effects).
  if (offset !== totalBytes) throw new Error(`message length ${offset} != computed ${totalBytes}`);
  return out;
}
