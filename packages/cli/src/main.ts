/**
 * The `braid` program: runs one command line against the process's stdio. SIGINT aborts a
 * long-running command (`paths --watch`, `cat`) so it can disconnect cleanly; a second SIGINT
 * exits at once.
 */
import { runCli } from './cli.js';

const controller = new AbortController();
const onInterrupt = () => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort(new Error('interrupted'));
  process.exitCode = 130;
};
process.on('SIGINT', onInterrupt);
// `braid paths --watch | head`: the reader went away; stop quietly, as Unix tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const status = await runCli(process.argv.slice(2), {
  // Lazily: creating process.stdin for commands that never read it could hold the process open.
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
  releaseSignals: () => process.off('SIGINT', onInterrupt),
});
if (!controller.signal.aborted || status !== 0) process.exitCode = status;
process.off('SIGINT', onInterrupt);
