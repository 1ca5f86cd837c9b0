import { getSystemErrorName } from 'node:util';

/**
 * A failed socket call, shaped as Node's system errors: `code` is the errno name (`EAGAIN`,
 * `ENETUNREACH`, `EMSGSIZE`, …), `errno` its negative number, `syscall` the call that failed.
 * A batch send that stopped part way says how many datagrams left in `datagramsSent`. An
 * address that is not a numeric IP literal has the code `ERR_BRAID_INVALID_ADDRESS`.
 */
export class DgramExtError extends Error {
  override readonly name = 'DgramExtError';
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly datagramsSent: number;

  constructor(errno: number, syscall: string, datagramsSent = 0, code?: string) {
    const name = code ?? errnoName(errno);
    super(`${syscall} ${name}`);
    this.code = name;
    this.errno = errno;
    this.syscall = syscall;
    this.datagramsSent = datagramsSent;
  }
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(errno);
  } catch {
    return `Unknown system error ${errno}`;
  }
}
