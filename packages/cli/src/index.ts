/**
 * `@braid/cli`: the `braid` command (`runCli`), its output formatting, and the main demo
 * (`runDemo`, `demoMain`), importable for tests and scripts.
 */
export * from './args.js';
export * from './errors.js';
export * from './format.js';
export * from './stall.js';
export * from './demo.js';
export * from './demo-hosts.js';
export * from './demo-main.js';
export * from './init.js';
export { runCli, buildProgram, type CliIo } from './cli.js';
