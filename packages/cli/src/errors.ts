/**
 * The CLI's own errors: one class per condition with a `code` (STYLE §5), and the exit status
 * each maps to. Errors from the other packages keep their codes; `exitCodeOf` decides.
 */

/** Exit statuses of `braid`: 0 ok, 1 runtime error, 2 usage error (bad command line). */
export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

export abstract class CliError extends Error {
  abstract readonly code: string;
  /** Exit status the program ends with when this error reaches the top. */
  abstract readonly exitCode: number;
}

function defineError<C extends string>(name: string, code: C, exitCode: number) {
  const cls = class extends CliError {
    readonly code: C = code;
    readonly exitCode = exitCode;
    constructor(message: string, options?: { cause?: unknown }) {
      super(message, options);
      this.name = name;
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

/** A bad command line: unknown command or option, a malformed argument. Exit status 2. */
export class UsageError extends defineError('UsageError', 'ERR_BRAID_USAGE', EXIT_USAGE) {}

/** No daemon answers on the control socket. */
export class DaemonNotRunningError extends defineError(
  'DaemonNotRunningError',
  'ERR_BRAID_DAEMON_NOT_RUNNING',
  EXIT_RUNTIME,
) {}

/** The session named on the command line is not open on this node. */
export class UnknownSessionError extends defineError(
  'UnknownSessionError',
  'ERR_BRAID_SESSION_UNKNOWN',
  EXIT_RUNTIME,
) {}

/** The path id named on the command line is not one of the session's paths. */
export class UnknownPathError extends defineError(
  'UnknownPathError',
  'ERR_BRAID_PATH_UNKNOWN',
  EXIT_RUNTIME,
) {}

/** Every path of a `ping` went unanswered. */
export class PingTimeoutError extends defineError(
  'PingTimeoutError',
  'ERR_BRAID_PING_TIMEOUT',
  EXIT_RUNTIME,
) {}

/** Codes of errors from other packages that mean "the command line was wrong". */
const USAGE_CODES = new Set([
  'ERR_BRAID_USAGE',
  'ERR_BRAID_EID_INVALID',
  'ERR_BRAID_LOCATOR_INVALID',
  'ERR_BRAID_SERVICE_INVALID',
]);

/** The exit status for an error that ended a command. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && USAGE_CODES.has(code)) return EXIT_USAGE;
  return EXIT_RUNTIME;
}

/** One line a person can act on: the message, and the code when there is one. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message.split('\n')[0] ?? '';
    return typeof code === 'string' && code.startsWith('ERR_BRAID_')
      ? `${message} (${code})`
      : message;
  }
  return String(error);
}
