/**
 * The CLI's own errors: one class per condition with a `code` (STYLE §5), and the exit status
 * each maps to. Conditions the other packages already name (an unknown session or path, braidd
 * not running) use their errors and codes; `exitCodeOf` decides the status of any error.
 */

import { BraidError, defineError } from '@braid/protocol';

/** Exit statuses of `braid`: 0 ok, 1 runtime error, 2 usage error (bad command line). */
export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

/** A CLI error: a {@link defineError} class that also fixes the exit status it ends with. */
function defineCliError<C extends string>(name: string, code: C, exitCode: number) {
  return class extends defineError(name, code) {
    /** Exit status the program ends with when this error reaches the top. */
    readonly exitCode = exitCode;
  };
}

/** A bad command line: unknown command or option, a malformed argument. Exit status 2. */
export class UsageError extends defineCliError('UsageError', 'ERR_BRAID_USAGE', EXIT_USAGE) {}

/** Every path of a `ping` went unanswered. */
export class PingTimeoutError extends defineCliError(
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
  const exitCode = (error as { exitCode?: unknown } | null)?.exitCode;
  if (error instanceof BraidError && typeof exitCode === 'number') return exitCode;
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
