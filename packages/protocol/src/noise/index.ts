export { CipherState, NOISE_MESSAGE_BYTES_MAX, NOISE_NONCE_MAX } from './cipher-state.js';
export {
  HandshakeState,
  NOISE_PSK_BYTES,
  generateKeyPair,
  keyPairFromSecretKey,
  type HandshakeOptions,
  type KeyPair,
} from './handshake-state.js';
export { isLowOrderX25519Point } from './low-order.js';
export {
  NOISE_BASE_PATTERNS,
  parseProtocolName,
  resolveHandshakePattern,
  type HandshakePattern,
  type NoisePreMessageToken,
  type NoiseProtocolName,
  type NoiseToken,
} from './patterns.js';
export { runNoiseTestVector, type NoiseTestVector, type NoiseTestVectorResult } from './vectors.js';
