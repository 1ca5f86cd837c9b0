/** The `braidd` program: the daemon package's entry, with the process's argv and signals. */
import { runBraidd } from '@braid/daemon';

process.exitCode = await runBraidd(process.argv.slice(2));
