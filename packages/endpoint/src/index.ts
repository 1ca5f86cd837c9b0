/**
 * `@braid/endpoint`: the Braid runtime — UDP sockets per local address, the clock, timers and
 * address changes driving `@braid/protocol` sessions — and the application API it shares with
 * the SDK's daemon client (`api.ts`).
 */
export * from './api.js';
export * from './errors.js';
export * from './udp-endpoint.js';
export { EmbeddedSession } from './session.js';
export { EmbeddedStream, READ_CHUNK_BYTES, STREAM_HIGH_WATER_MARK_BYTES } from './stream.js';
export {
  EmbeddedServiceListener,
  QueuedServiceListener,
  SERVICE_BACKLOG_DEFAULT,
} from './service-listener.js';
export { TypedEmitter } from './typed-emitter.js';
export {
  NativeIo,
  nativeSocketProblem,
  type SocketImplementation,
  type SocketIoHandlers,
} from './socket-io.js';
export { claimStream, holdUntilClaimed } from './claim.js';
export * from './service-header.js';
export {
  selectCrypto,
  NATIVE_MIN_SPEEDUP,
  type CryptoChoice,
  type CryptoSelection,
} from './crypto/select.js';
export { createSodiumNativeCrypto, sodiumNativeLoadError } from './crypto/sodium-native.js';
export { createSecureRandom } from './random.js';
export { defaultPathFilter, parseLocator, formatLocator, type ParsedLocator } from './locator.js';
export {
  bindableAddresses,
  localAddresses,
  type InterfaceList,
  type LocalAddress,
} from './interfaces.js';
