/**
 * `@braid/sdk`: the Braid application API, through the local braidd (`connect`) or in the app's
 * own process (`embedded`). Both return a `BraidClient`; switching is one line.
 */
import { openEndpoint, type UdpEndpoint, type UdpEndpointOptions } from '@braid/endpoint';
import { IpcConnectError, connectSocket, defaultSocketPath } from '@braid/ipc';
import { DaemonClient } from './daemon-client.js';
import { DaemonAccessError, DaemonNotRunningError } from './errors.js';

export * from './errors.js';
export {
  DaemonClient,
  DaemonServiceListener,
  DaemonSession,
  LISTEN_BACKLOG,
  type DaemonStatus,
  SDK_VERSION,
} from './daemon-client.js';
export type * from '@braid/endpoint';
/** Service names: 1–64 bytes of `[A-Za-z0-9._-]`, checked by both modes. */
export { SERVICE_NAME_PATTERN } from '@braid/endpoint';
export type { PathStats, SessionStats, StreamPolicy } from '@braid/protocol';
export { defaultSocketPath } from '@braid/ipc';

export interface ConnectOptions {
  /** braidd's control socket. Default: `$BRAID_SOCKET`, else the daemon's default path. */
  socketPath?: string;
  /** Abandons connecting (rejects with `ERR_BRAID_ABORTED`). */
  signal?: AbortSignal;
  /** Environment for the default path. Default `process.env`. */
  env?: Record<string, string | undefined>;
}

/**
 * Connects to the local braidd. Rejects with `ERR_BRAID_DAEMON_NOT_RUNNING` when no daemon
 * answers, `ERR_BRAID_DAEMON_ACCESS` when the socket is not ours, `ERR_BRAID_IPC_VERSION` when
 * the daemon speaks another control protocol version.
 */
export async function connect(options: ConnectOptions = {}): Promise<DaemonClient> {
  const path = options.socketPath ?? defaultSocketPath(options.env ?? process.env);
  let socket;
  try {
    socket = await connectSocket(path, options.signal);
  } catch (err) {
    if (err instanceof IpcConnectError) {
      if (err.reason === 'absent' || err.reason === 'refused')
        throw new DaemonNotRunningError(path, err.reason === 'refused', { cause: err });
      if (err.reason === 'denied') throw new DaemonAccessError(path, { cause: err });
    }
    throw err;
  }
  const client = new DaemonClient(socket, path);
  try {
    await client.init(options.signal);
  } catch (err) {
    await client.close();
    throw err;
  }
  return client;
}

/**
 * An endpoint in the app's own process, with the same API as {@link connect}'s client
 * (`@braid/endpoint`'s `openEndpoint`).
 */
export function embedded(options: UdpEndpointOptions = {}): Promise<UdpEndpoint> {
  return openEndpoint(options);
}
