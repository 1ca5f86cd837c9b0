/**
 * pino logs: one JSON object per line by default (what journald and log shippers want), or
 * human-readable lines (pino-pretty, in-process: no worker thread) when asked or when stdout is
 * a terminal. Events carry `session` (short id) and `path` where they concern one.
 */
import { pino, type DestinationStream, type Level, type Logger } from 'pino';
import PinoPretty from 'pino-pretty';

export interface LoggerOptions {
  level: Level | 'silent';
  format: 'json' | 'pretty' | 'auto';
  /** Where lines go. Default: stdout. */
  destination?: DestinationStream;
  /** Whether stdout is a terminal (for `auto`). Default `process.stdout.isTTY`. */
  isTty?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const tty = options.isTty ?? process.stdout.isTTY === true;
  const pretty = options.format === 'pretty' || (options.format === 'auto' && tty);
  const base = { level: options.level, base: { pid: process.pid }, name: 'braidd' };
  if (pretty) {
    const stream = PinoPretty({
      colorize: tty && options.destination === undefined,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,name',
      singleLine: true,
      destination: options.destination ?? 1,
      sync: true,
    });
    return pino(base, stream);
  }
  return pino(base, options.destination ?? pino.destination({ dest: 1, sync: false }));
}
