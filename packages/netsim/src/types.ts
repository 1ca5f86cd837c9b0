/**
 * The structural sans-IO contract between the simulator and whatever it drives. The protocol's
 * `Endpoint` satisfies it without importing netsim; so do the small nodes in `nodes.ts`.
 */

/**
 * An address such as `'198.51.100.1:4433'` or `'[2001:db8::1]:4433'`. Opaque to the simulator:
 * it is only ever compared for equality.
 */
export type Locator = string;

/** One datagram a node wants sent, from one of its own locators. */
export interface Transmit {
  from: Locator;
  to: Locator;
  bytes: Uint8Array;
}

/**
 * A sans-IO participant. The simulator calls it in this order, never re-entrantly:
 *
 * 1. one input: `handleDatagram` (a delivery) or `handleTimeout` (its deadline came due);
 * 2. `pollTransmit(now)` until it returns `undefined` (every node is drained after every event);
 * 3. `pollTimeout()` to learn the node's next deadline.
 *
 * `now` is virtual milliseconds, may be fractional, and never decreases.
 */
export interface SimNode {
  handleDatagram(now: number, path: { local: Locator; remote: Locator }, bytes: Uint8Array): void;
  handleTimeout(now: number): void;
  pollTransmit(now: number): Transmit | undefined;
  /** Absolute virtual ms of the next deadline, or `undefined` when the node has none. */
  pollTimeout(): number | undefined;
}
