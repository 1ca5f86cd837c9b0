export type { Locator, SimNode, Transmit } from './types.js';
export { LivelockError, NodeContractError, SimulationFailure } from './errors.js';
export {
  DROP_REASONS,
  gilbertElliottFromMeanLoss,
  type DropReason,
  type GilbertElliott,
  type LinkHandle,
  type LinkOptions,
  type LinkStats,
  type ResolvedLinkOptions,
} from './link.js';
export {
  Simulator,
  type DuplexLinkHandle,
  type NodeStats,
  type RunOptions,
  type RunResult,
  type SimulatorOptions,
  type SimulatorStats,
} from './simulator.js';
export type { TraceEvent, TraceKind } from './trace.js';
export { runScenario, seedFromEnv, SEED_ENV } from './seed.js';
export {
  ConstantRateSender,
  EchoNode,
  PROBE_HEADER_BYTES,
  readSentAtMs,
  readSequence,
  SinkNode,
  type Arrival,
  type ConstantRateSenderOptions,
} from './nodes.js';
export {
  AppNode,
  SafetyViolation,
  messageBytes,
  APP_WINDOW_MESSAGES,
  type AppNodeOptions,
  type AppStats,
} from './scenario/app-node.js';
export {
  runDatagramExchange,
  HOST_A,
  HOST_B,
  type ExchangeOptions,
  type ExchangeResult,
  type EndpointSummary,
} from './scenario/datagram-exchange.js';
export {
  randomFaults,
  randomTransfer,
  SWEEP_HEAL_AT_MS,
  SWEEP_MAX_VIRTUAL_MS,
} from './scenario/random-faults.js';
export {
  runStreamTransfer,
  streamContent,
  Fnv1a32,
  type TransferOptions,
  type TransferResult,
} from './scenario/stream-transfer.js';
export type { FaultPhases, LinkSummary } from './scenario/common.js';
export { NatNode, type NatStats } from './nat.js';
export {
  MP_A,
  MP_A_INSIDE,
  MP_B,
  TwoPathTopology,
  type LinkIndex,
} from './scenario/multipath-topology.js';
export {
  MultipathNode,
  RunLog,
  type AddressLedger,
  type LoggedEvent,
  type MultipathNodeOptions,
  type Side,
  type StreamPlan,
  type StreamSend,
} from './scenario/multipath-node.js';
export {
  MP_SWEEP_HEAL_AT_MS,
  MP_SWEEP_MAX_VIRTUAL_MS,
  randomMultipath,
  type LinkFlap,
  type RandomMultipath,
} from './scenario/multipath-random.js';
export {
  MULTIPATH_SCENARIOS,
  MULTIPATH_SCENARIO_SUMMARY,
  runMultipath,
  scenarioDefaults,
  type MultipathOptions,
  type MultipathResult,
  type MultipathRun,
  type MultipathScenario,
  type ScenarioDefaults,
  type ScriptedAction,
  type TimelinePath,
  type TimelineRow,
} from './scenario/multipath.js';
export {
  runFecMessages,
  type FecMessagesOptions,
  type FecMessagesResult,
} from './scenario/fec-messages.js';
