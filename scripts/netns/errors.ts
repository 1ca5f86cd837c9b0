/**
 * Errors of the network-namespace lab: one class per condition, each with a Node-style `code`
 * (STYLE §5). Callers match on `code`.
 */

/** The lab cannot run here: not root, `ip`/`nft` missing, or namespaces not permitted. */
export class LabUnavailableError extends Error {
  override readonly name = 'LabUnavailableError';
  readonly code = 'ERR_BRAID_LAB_UNAVAILABLE';
}

/** A command the lab ran (`ip`, `nft`, `tc`…) exited non-zero or could not start. */
export class LabCommandError extends Error {
  override readonly name = 'LabCommandError';
  readonly code = 'ERR_BRAID_LAB_COMMAND';
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')} failed (exit ${exitCode ?? 'none'}): ${stderr.trim() || 'no output'}`);
  }
}

/** A command the lab ran did not finish within its bound and was killed. */
export class LabCommandTimeoutError extends Error {
  override readonly name = 'LabCommandTimeoutError';
  readonly code = 'ERR_BRAID_LAB_TIMEOUT';
  constructor(
    readonly argv: readonly string[],
    readonly timeoutMs: number,
  ) {
    super(`${argv.join(' ')} did not finish within ${timeoutMs} ms and was killed`);
  }
}

/** An argument out of range: a link that does not exist, a loss outside 1–99 %, a bad name. */
export class LabArgumentError extends Error {
  override readonly name = 'LabArgumentError';
  readonly code = 'ERR_BRAID_LAB_ARGUMENT';
}

/** An operation the lab cannot do in its state: closed already, or NAT asked of a lab without it. */
export class LabStateError extends Error {
  override readonly name = 'LabStateError';
  readonly code = 'ERR_BRAID_LAB_STATE';
}

/** A peer program in the lab misbehaved: exited early, printed something unreadable, timed out. */
export class LabPeerError extends Error {
  override readonly name = 'LabPeerError';
  readonly code = 'ERR_BRAID_LAB_PEER';
}
