/**
 * Every benchmark `pnpm bench` knows, in the order `pnpm bench` (no names) runs them. To add
 * one: write `bench/<name>.ts` exporting a {@link Benchmark} and list it here.
 */
import { aggregateNetns } from './aggregate-netns.js';
import { failoverNetns } from './failover-netns.js';
import { fecCodec } from './fec-codec.js';
import { fecMessages } from './fec-messages.js';
import { forwardIperf3 } from './forward-iperf3.js';
import { goodputLoopback } from './goodput-loopback.js';
import { multipath } from './multipath.js';
import { protocolGoodput } from './protocol-goodput.js';
import type { Benchmark } from './types.js';

export const BENCHMARKS: readonly Benchmark[] = [
  protocolGoodput,
  fecCodec,
  fecMessages,
  multipath,
  goodputLoopback,
  failoverNetns,
  aggregateNetns,
  forwardIperf3,
];
