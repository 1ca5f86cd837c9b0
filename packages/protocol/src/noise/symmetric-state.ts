import { AEAD_KEY_BYTES, type CryptoProvider } from '../crypto/provider.js';
import { CipherState } from './cipher-state.js';
import { HASH_BYTES, hashBlake2b, hkdf } from './hkdf.js';

const EMPTY = new Uint8Array(0);

export interface SymmetricSnapshot {
  chainingKey: Uint8Array;
  hash: Uint8Array;
  cipher: { key: Uint8Array | undefined; nonce: bigint };
}

/**
 * A Noise SymmetricState (§5.2): the chaining key `ck`, the handshake hash `h`, and the
 * CipherState keyed from `ck` as the handshake proceeds.
 */
export class SymmetricState {
  readonly cipherState: CipherState;
  #crypto: CryptoProvider;
  #chainingKey: Uint8Array;
  #hash: Uint8Array;

  /** InitializeSymmetric(protocol_name) (§5.2). `protocolName` is the ASCII name's bytes. */
  constructor(crypto: CryptoProvider, protocolName: Uint8Array) {
    this.#crypto = crypto;
    this.cipherState = new CipherState(crypto);
    // §5.2: a name that fits in HASHLEN is used as h directly, zero-padded; a longer one is hashed.
    if (protocolName.length <= HASH_BYTES) {
      this.#hash = new Uint8Array(HASH_BYTES);
      this.#hash.set(protocolName);
    } else {
      this.#hash = hashBlake2b(crypto, protocolName);
    }
    this.#chainingKey = this.#hash.slice();
  }

  /** A copy of `h`. */
  get handshakeHash(): Uint8Array {
    return this.#hash.slice();
  }

  /** MixKey(input_key_material) (§5.2). */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, tempKey] = hkdf(this.#crypto, this.#chainingKey, inputKeyMaterial, 2);
    this.#chainingKey = ck!;
    // §5.2: HASHLEN is 64, so temp_k is truncated to the 32-byte cipher key.
    this.cipherState.initializeKey(tempKey!.subarray(0, AEAD_KEY_BYTES));
  }

  /** MixHash(data) (§5.2): h = HASH(h || data). */
  mixHash(data: Uint8Array): void {
    const input = new Uint8Array(this.#hash.length + data.length);
    input.set(this.#hash);
    input.set(data, this.#hash.length);
    this.#hash = hashBlake2b(this.#crypto, input);
  }

  /** MixKeyAndHash(input_key_material) (§5.2), used for psk tokens (§9.2). */
  mixKeyAndHash(inputKeyMaterial: Uint8Array): void {
    const [ck, tempHash, tempKey] = hkdf(this.#crypto, this.#chainingKey, inputKeyMaterial, 3);
    this.#chainingKey = ck!;
    this.mixHash(tempHash!);
    this.cipherState.initializeKey(tempKey!.subarray(0, AEAD_KEY_BYTES));
  }

  /** EncryptAndHash(plaintext) (§5.2): the ciphertext is authenticated with `h` as AD. */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipherState.encryptWithAd(this.#hash, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** DecryptAndHash(ciphertext) (§5.2). Throws `DecryptError` when authentication fails. */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipherState.decryptWithAd(this.#hash, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** `ck`, `h` and the cipher state, so that a failed read can be undone. */
  snapshot(): SymmetricSnapshot {
    return {
      chainingKey: this.#chainingKey.slice(),
      hash: this.#hash.slice(),
      cipher: this.cipherState.snapshot(),
    };
  }

  restore(s: SymmetricSnapshot): void {
    this.#chainingKey = s.chainingKey.slice();
    this.#hash = s.hash.slice();
    this.cipherState.restore(s.cipher);
  }

  /** Split() (§5.2): the initiator→responder and responder→initiator CipherStates. */
  split(): [CipherState, CipherState] {
    const [tempKey1, tempKey2] = hkdf(this.#crypto, this.#chainingKey, EMPTY, 2);
    return [
      new CipherState(this.#crypto, tempKey1!.subarray(0, AEAD_KEY_BYTES)),
      new CipherState(this.#crypto, tempKey2!.subarray(0, AEAD_KEY_BYTES)),
    ];
  }
}
