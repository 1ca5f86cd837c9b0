/**
 * `@braid/daemon`: braidd — config, identity, peer directory, control socket, services, metrics
 * and logs. `startDaemon` runs it in-process; `runBraidd` is the program (argv, signals).
 */
export * from './errors.js';
export * from './config.js';
export { loadIdentity, loadOrCreateIdentity, type StoredIdentity } from './identity-store.js';
export { createLogger, type LoggerOptions } from './logger.js';
export { DaemonMetrics, fecRepairedPackets, PATH_STATES, type MetricsSource } from './metrics.js';
export { ControlServer, bridgeStreams, SERVICES_PER_CLIENT_MAX } from './control-server.js';
export {
  BRAIDD_VERSION,
  Daemon,
  startDaemon,
  type DaemonStats,
  type ReloadResult,
  type StartDaemonOptions,
} from './daemon.js';
export { BRAIDD_USAGE, parseBraiddArgs, runBraidd, type RunBraiddOptions } from './cli.js';
export {
  DRILL_PROTOCOL_VERSION,
  DRILL_SERVICE,
  startDrillService,
  type DrillFailure,
  type DrillGap,
  type DrillGreeting,
  type DrillResult,
} from './drill-service.js';
