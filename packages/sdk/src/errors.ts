/**
 * The SDK's own errors (STYLE §5). Errors the daemon returns keep the daemon's code (an
 * `IpcRemoteError` whose `code` is, say, `ERR_BRAID_SERVICE_UNKNOWN`), so an application matches
 * the same codes whether it runs embedded or through braidd.
 */
import { BraidError } from '@braid/protocol';

/** No daemon answers at the socket path. */
export class DaemonNotRunningError extends BraidError {
  readonly code = 'ERR_BRAID_DAEMON_NOT_RUNNING';
  constructor(
    readonly socketPath: string,
    stale: boolean,
    options?: { cause?: unknown },
  ) {
    super(
      stale
        ? `braidd is not running (stale socket at ${socketPath}); start it with \`braid daemon\``
        : `braidd is not running (no socket at ${socketPath}); start it with \`braid daemon\``,
      options,
    );
    this.name = 'DaemonNotRunningError';
  }
}

/** The socket exists but this user may not connect to it (it is owner-only). */
export class DaemonAccessError extends BraidError {
  readonly code = 'ERR_BRAID_DAEMON_ACCESS';
  constructor(
    readonly socketPath: string,
    options?: { cause?: unknown },
  ) {
    super(
      `cannot connect to braidd at ${socketPath}: permission denied (the socket is owner-only; run as the daemon's user)`,
      options,
    );
    this.name = 'DaemonAccessError';
  }
}

/** The connection to braidd was lost (the daemon stopped): sessions and streams through it end. */
export class DaemonConnectionLostError extends BraidError {
  readonly code = 'ERR_BRAID_DAEMON_CONNECTION_LOST';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DaemonConnectionLostError';
  }
}

/** An error that carries the code another component gave it (a stream reset by the daemon). */
export class ForwardedError extends BraidError {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ForwardedError';
    this.code = code;
  }
}
