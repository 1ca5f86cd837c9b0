/**
 * braidd's errors (STYLE §5): one class per condition with a Node-style `code`. Each message is
 * one line a person can act on; `runBraidd` prints it and exits non-zero.
 */
import { defineError } from '@braid/protocol';

/** The config file could not be read, is not JSON, or fails the schema (one line per problem). */
export class ConfigError extends defineError('ConfigError', 'ERR_BRAID_CONFIG_INVALID') {
  constructor(
    message: string,
    /** One line per problem: `field.path: what is wrong`. */
    readonly problems: string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
/** The identity key file is readable by group or others. */
export class KeyFileModeError extends defineError('KeyFileModeError', 'ERR_BRAID_KEY_FILE_MODE') {}
/** The identity key file exists but is not a valid key. */
export class KeyFileCorruptError extends defineError(
  'KeyFileCorruptError',
  'ERR_BRAID_KEY_FILE_CORRUPT',
) {}
/** The identity key file (or the state directory) cannot be read or written. */
export class KeyFileAccessError extends defineError(
  'KeyFileAccessError',
  'ERR_BRAID_KEY_FILE_ACCESS',
) {}
/** Another braidd answers on the control socket. */
export class DaemonRunningError extends defineError(
  'DaemonRunningError',
  'ERR_BRAID_DAEMON_RUNNING',
) {}
/** The control socket cannot be created (path too long, not a socket, no permission…). */
export class ControlSocketError extends defineError(
  'ControlSocketError',
  'ERR_BRAID_CONTROL_SOCKET',
) {}
/** The metrics listener cannot start. */
export class MetricsListenError extends defineError(
  'MetricsListenError',
  'ERR_BRAID_METRICS_LISTEN',
) {}
/** Bad command-line arguments. */
export class UsageError extends defineError('UsageError', 'ERR_BRAID_USAGE') {}
/** The operation needs a service this control connection did not register. */
export class ServiceNotRegisteredError extends defineError(
  'ServiceNotRegisteredError',
  'ERR_BRAID_SERVICE_NOT_REGISTERED',
) {}
/** The daemon is shutting down. */
export class DaemonClosingError extends defineError(
  'DaemonClosingError',
  'ERR_BRAID_DAEMON_CLOSING',
) {}
