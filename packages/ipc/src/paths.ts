/**
 * Where braidd keeps its state and its control socket by default. Both the daemon and the SDK
 * compute the socket path here, so that `connect()` finds a daemon started without options.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

type Env = Record<string, string | undefined>;

/** Longest Unix socket path Linux accepts (`sun_path` is 108 bytes with the final NUL). */
export const SOCKET_PATH_BYTES_MAX = 107;

/**
 * The state directory: `$STATE_DIRECTORY` (set by systemd's `StateDirectory=`), else
 * `$XDG_STATE_HOME/braid`, else `~/.local/state/braid`.
 */
export function defaultStateDir(env: Env = process.env): string {
  if (env.STATE_DIRECTORY) return env.STATE_DIRECTORY.split(':')[0]!;
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'braid');
  return join(homedir(), '.local', 'state', 'braid');
}

/**
 * The control socket: `$BRAID_SOCKET`, else `$RUNTIME_DIRECTORY/braidd.sock` (systemd's
 * `RuntimeDirectory=`), else `$XDG_RUNTIME_DIR/braid/braidd.sock`, else `braidd.sock` in the
 * state directory.
 */
export function defaultSocketPath(env: Env = process.env, stateDir?: string): string {
  if (env.BRAID_SOCKET) return env.BRAID_SOCKET;
  if (env.RUNTIME_DIRECTORY) return join(env.RUNTIME_DIRECTORY.split(':')[0]!, 'braidd.sock');
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'braid', 'braidd.sock');
  return join(stateDir ?? defaultStateDir(env), 'braidd.sock');
}
