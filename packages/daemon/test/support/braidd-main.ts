// braidd as a program, for tests that send it real signals.
import { runBraidd } from '@braid/daemon';

runBraidd(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
