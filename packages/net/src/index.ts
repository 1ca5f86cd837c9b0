/**
 * `@braid/net`: `node:net`'s API over Braid sessions, so code written for TCP sockets (and
 * libraries that take a custom socket: `node:http`, `ws`, `undici`…) runs over Braid. A peer is
 * an EID (`braid1…`) instead of a host, a service name instead of a port.
 */
export {
  BRAID_FAMILY,
  CONNECT_BUFFER_BYTES_MAX_DEFAULT,
  LINGER_MS_DEFAULT,
  Socket,
  connect,
  createConnection,
  type BraidAddressInfo,
  type ConnectOptions,
  type SocketOptions,
} from './socket.js';
export {
  Server,
  createServer,
  type DropInfo,
  type ListenOptions,
  type ServerOptions,
} from './server.js';
export { getDefaultClient, setDefaultClient } from './options.js';
export {
  AbortError,
  BraidNetError,
  ConnectBufferFullError,
  InvalidArgTypeError,
  InvalidArgValueError,
  MissingArgsError,
  ServerAlreadyListenError,
  ServerNotRunningError,
  SocketClosedError,
  SocketConnectingError,
  StreamClosedError,
  nodeCodeFor,
  toNodeError,
  type CloseInfo,
  type Syscall,
} from './errors.js';
