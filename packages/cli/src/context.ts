/**
 * What a command module needs from the program that registers it: the stdio it runs against,
 * a daemon client for the length of one call, and the helpers every command shares. The
 * commands in `cli.ts` use the same closures; `forward.ts` and `drill.ts` get them through this.
 */
import type { Command, Option } from 'commander';
import type { BraidClient } from './client-api.js';
import type { CliIo } from './cli.js';

export interface CommandContext {
  io: CliIo;
  /** Adds a subcommand whose output and errors go to `io`. */
  subcommand(name: string): Command;
  /** The `--json` option, the same on every command that prints data. */
  jsonOption(): Option;
  /** Writes `text` and a newline to stdout. */
  out(text: string): void;
  /** Connects to the daemon, runs `fn`, and always disconnects. */
  withClient<T>(fn: (client: BraidClient) => Promise<T>): Promise<T>;
  /** The control socket path the global options and environment name. */
  socketPath(): string;
}
