/**
 * A NAT in front of one node (a host behind a home router, say). The inner node sends from its
 * inside locators; the NAT rewrites each datagram's source to the outside locator mapped to that
 * inside locator, and hands datagrams that arrive on a mapped outside locator to the inner node
 * with the inside locator as `local`. Mappings are endpoint-independent (RFC 4787 §4.1): one
 * outside locator per inside locator, whatever the destination.
 *
 * {@link NatNode.rebind} changes a mapping, as a NAT does when its binding expires or it
 * restarts: the peer then sees datagrams from the new outside locator, and datagrams still sent
 * to the old one are dropped (counted in `unmapped`) — there is no binding for them any more.
 *
 * The simulator routes by locator, so the NAT node owns the outside locators (add it with
 * {@link NatNode.outsideLocators}, and give it each new one with `sim.addLocator` before
 * rebinding to it); the inside locators are private to it and the inner node.
 */
import { InvalidOptionError } from '@braid/protocol';
import type { Locator, SimNode, Transmit } from './types.js';

export interface NatStats {
  /** Datagrams sent out with a rewritten source. */
  outbound: number;
  /** Datagrams handed in to the inner node. */
  inbound: number;
  /** Arrivals on an outside locator no inside locator maps to (a binding that was changed). */
  unmapped: number;
  /** Datagrams the inner node sent from an inside locator without a mapping. */
  noMapping: number;
  /** Mapping changes. */
  rebinds: number;
}

export class NatNode implements SimNode {
  readonly inner: SimNode;
  readonly #outsideOf = new Map<Locator, Locator>();
  readonly #insideOf = new Map<Locator, Locator>();
  readonly #stats: NatStats = { outbound: 0, inbound: 0, unmapped: 0, noMapping: 0, rebinds: 0 };

  /** @param mappings inside locator → outside locator pairs. */
  constructor(inner: SimNode, mappings: Iterable<readonly [Locator, Locator]>) {
    this.inner = inner;
    for (const [inside, outside] of mappings) this.#map(inside, outside);
  }

  /** The outside locator of `inside`, if mapped. */
  outsideOf(inside: Locator): Locator | undefined {
    return this.#outsideOf.get(inside);
  }

  /** The outside locators mapped now, in mapping order. */
  outsideLocators(): Locator[] {
    return [...this.#outsideOf.values()];
  }

  /**
   * Maps `inside` to `outside` from now on; returns the previous outside locator. Datagrams to
   * the previous one are dropped from now on.
   */
  rebind(inside: Locator, outside: Locator): Locator | undefined {
    const before = this.#outsideOf.get(inside);
    if (before === outside) return before;
    if (before !== undefined) this.#insideOf.delete(before);
    this.#outsideOf.delete(inside);
    this.#map(inside, outside);
    this.#stats.rebinds++;
    return before;
  }

  /** Forgets the mapping of `inside` (its datagrams are dropped until it is mapped again). */
  unmap(inside: Locator): void {
    const outside = this.#outsideOf.get(inside);
    if (outside === undefined) return;
    this.#outsideOf.delete(inside);
    this.#insideOf.delete(outside);
  }

  stats(): NatStats {
    return { ...this.#stats };
  }

  #map(inside: Locator, outside: Locator): void {
    const owner = this.#insideOf.get(outside);
    if (owner !== undefined && owner !== inside)
      throw new InvalidOptionError(`outside locator ${outside} is already mapped to ${owner}`);
    this.#outsideOf.set(inside, outside);
    this.#insideOf.set(outside, inside);
  }

  // ---- SimNode ----------------------------------------------------------------------------

  handleDatagram(now: number, path: { local: Locator; remote: Locator }, bytes: Uint8Array): void {
    const inside = this.#insideOf.get(path.local);
    if (inside === undefined) {
      this.#stats.unmapped++;
      return;
    }
    this.#stats.inbound++;
    this.inner.handleDatagram(now, { local: inside, remote: path.remote }, bytes);
  }

  handleTimeout(now: number): void {
    this.inner.handleTimeout(now);
  }

  pollTransmit(now: number): Transmit | undefined {
    // Bounded by what the inner node has queued: every iteration takes one of its datagrams.
    for (let tx = this.inner.pollTransmit(now); tx; tx = this.inner.pollTransmit(now)) {
      const outside = this.#outsideOf.get(tx.from);
      if (outside === undefined) {
        this.#stats.noMapping++;
        continue;
      }
      this.#stats.outbound++;
      return { from: outside, to: tx.to, bytes: tx.bytes };
    }
    return undefined;
  }

  pollTimeout(): number | undefined {
    return this.inner.pollTimeout();
  }
}
