/**
 * The errors of `braid drill`, one class per condition with a `code` callers match on
 * (STYLE §5). All end the command with exit status 1: the command line was well formed, the
 * session or the peer made the drill impossible, or the drill ran and found a fault.
 */
import { defineError } from '@braid/protocol';
import { EXIT_RUNTIME } from './errors.js';

function defineDrillError<C extends string>(name: string, code: C) {
  return class extends defineError(name, code) {
    /** Exit status the program ends with when this error reaches the top. */
    readonly exitCode = EXIT_RUNTIME;
  };
}

/** The session has fewer than two usable paths: there is nothing to fail over to. */
export class DrillSinglePathError extends defineDrillError(
  'DrillSinglePathError',
  'ERR_BRAID_DRILL_SINGLE_PATH',
) {}

/** `--fault down` would take every usable path down (they all leave from one local address). */
export class DrillNoAlternatePathError extends defineDrillError(
  'DrillNoAlternatePathError',
  'ERR_BRAID_DRILL_NO_ALTERNATE_PATH',
) {}

/** `--path` names a path that is not usable now (down, validating or suspect). */
export class DrillPathUnusableError extends defineDrillError(
  'DrillPathUnusableError',
  'ERR_BRAID_DRILL_PATH_UNUSABLE',
) {}

/** The peer's braidd does not offer the drill service (switched off, or too old). */
export class DrillUnavailableError extends defineDrillError(
  'DrillUnavailableError',
  'ERR_BRAID_DRILL_UNAVAILABLE',
) {}

/** The peer's drill service refused or dropped the drill; `peerCode` is its reason. */
export class DrillRefusedError extends defineDrillError(
  'DrillRefusedError',
  'ERR_BRAID_DRILL_REFUSED',
) {
  peerCode: string | undefined;
}

/** The drill service answered something that is not its wire format, or nothing in time. */
export class DrillProtocolError extends defineDrillError(
  'DrillProtocolError',
  'ERR_BRAID_DRILL_PROTOCOL',
) {}

/** `--report FILE` cannot be written. */
export class DrillReportError extends defineDrillError(
  'DrillReportError',
  'ERR_BRAID_DRILL_REPORT',
) {}

/** The drill ran and failed: bytes lost or altered, or no fault could be induced. */
export class DrillFailedError extends defineDrillError(
  'DrillFailedError',
  'ERR_BRAID_DRILL_FAILED',
) {}

/** Ctrl-C (or another abort) stopped the drill; any path it took down was let up first. */
export class DrillInterruptedError extends defineDrillError(
  'DrillInterruptedError',
  'ERR_BRAID_DRILL_INTERRUPTED',
) {}
