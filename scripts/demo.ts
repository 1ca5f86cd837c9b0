/**
 * `pnpm demo`: two braidd daemons on loopback, a file sent from one to the other through the
 * SDK with a progress bar, the busy path blackholed midway and the failover shown as it
 * happens, then the SHA-256 check and a short report. See `pnpm demo -- --help`; the work is in
 * `@braid/cli` (`demoMain`). Exit status 0 only when the file arrived intact.
 */
import { demoMain } from '@braid/cli';

const controller = new AbortController();
const stop = () => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort(new Error('interrupted'));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

process.exitCode = await demoMain(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
process.off('SIGINT', stop);
process.off('SIGTERM', stop);
