/** One sender, one one-way link, one sink: the harness of the link tests. */
import { ConstantRateSender, Simulator, SinkNode, type LinkOptions } from '@braid/netsim';

export const A = '198.51.100.1:4433';
export const B = '203.0.113.7:4433';

/** Runs `sender` (from A to B) over a link with `options`; returns what arrived and the counters. */
export function overOneLink(
  seed: number,
  sender: ConstantRateSender,
  options: LinkOptions,
  maxVirtualMs = 10_000,
) {
  const sim = new Simulator({ seed });
  const sink = new SinkNode();
  sim.addNode('a', sender, [A]);
  sim.addNode('b', sink, [B]);
  const link = sim.addLink(A, B, options);
  sim.run({ maxVirtualMs });
  return { sender, arrivals: sink.arrivals, stats: link.stats() };
}

/** `count` sequenced datagrams of `sizeBytes`, one every `intervalMs`, from A to B. */
export function sequenced(count: number, intervalMs: number, sizeBytes = 100): ConstantRateSender {
  return new ConstantRateSender({ from: A, to: B, count, intervalMs, sizeBytes });
}
