/**
 * The two-path topology of the multipath scenarios: host A (the initiator) and host B, each with
 * one locator on each of two separate duplex links.
 *
 *   link 0:  A 198.51.100.1:4433  <──>  B 203.0.113.1:4433
 *   link 1:  A 198.51.100.2:4433  <──>  B 203.0.113.2:4433
 *
 * A may sit behind a {@link NatNode}: its endpoint then has inside locators (192.0.2.1:4433 and
 * 192.0.2.2:4433) and B sees the NAT's outside locators. A locator that joins later (a new
 * address of A, a new NAT binding) is attached to one of the links, with that link's options.
 * Every locator belongs to one link; a "link" here is the set of simulator links between its
 * A-side locators and its B locator, faulted together.
 */
import type { LinkOptions } from '../link.js';
import type { DuplexLinkHandle, Simulator } from '../simulator.js';
import type { Locator } from '../types.js';

/** A's locators, one per link (outside locators when A is behind the NAT). */
export const MP_A: readonly [Locator, Locator] = ['198.51.100.1:4433', '198.51.100.2:4433'];
/** B's locators, one per link. */
export const MP_B: readonly [Locator, Locator] = ['203.0.113.1:4433', '203.0.113.2:4433'];
/** A's own locators when it is behind the NAT. */
export const MP_A_INSIDE: readonly [Locator, Locator] = ['192.0.2.1:4433', '192.0.2.2:4433'];

export type LinkIndex = 0 | 1;

interface TopologyLink {
  options: LinkOptions;
  blackholed: boolean;
  readonly handles: DuplexLinkHandle[];
}

export class TwoPathTopology {
  readonly #sim: Simulator;
  readonly #links: [TopologyLink, TopologyLink];
  readonly #linkOf = new Map<Locator, LinkIndex>();

  /**
   * Adds the two links between `MP_A` and `MP_B` (the nodes must own those locators, or own them
   * by the time datagrams flow). A's inside locators, when there is a NAT, are registered too.
   */
  constructor(sim: Simulator, options: readonly [LinkOptions, LinkOptions]) {
    this.#sim = sim;
    this.#links = [
      { options: { ...options[0] }, blackholed: false, handles: [] },
      { options: { ...options[1] }, blackholed: false, handles: [] },
    ];
    for (const i of [0, 1] as const) {
      this.#linkOf.set(MP_B[i], i);
      this.#linkOf.set(MP_A_INSIDE[i], i);
      this.attach(i, MP_A[i]);
    }
  }

  /** The link a locator is on, if any. */
  linkOf(locator: Locator): LinkIndex | undefined {
    return this.#linkOf.get(locator);
  }

  /**
   * Whether `local` and `remote` can reach each other: both on the same link. Cross pairs
   * (A's locator of link 0 with B's of link 1) have no route in this topology.
   */
  readonly reachable = (local: Locator, remote: Locator): boolean => {
    const l = this.#linkOf.get(local);
    return l !== undefined && l === this.#linkOf.get(remote);
  };

  /**
   * Joins an A-side locator (a new address, a new NAT binding) to link `i`, both ways. A
   * locator already on the link is left as it is.
   */
  attach(i: LinkIndex, aLocator: Locator): void {
    const link = this.#links[i];
    if (link.handles.some((h) => h.forward.from === aLocator)) return;
    const handle = this.#sim.addDuplexLink(aLocator, MP_B[i], {
      ...link.options,
      blackhole: link.blackholed,
    });
    link.handles.push(handle);
    this.#linkOf.set(aLocator, i);
  }

  /** Blackholes (or restores) link `i`, both directions, for every locator on it. */
  setBlackhole(i: LinkIndex, on: boolean): void {
    const link = this.#links[i];
    link.blackholed = on;
    for (const h of link.handles) h.setBlackhole(on);
  }

  isBlackholed(i: LinkIndex): boolean {
    return this.#links[i].blackholed;
  }

  /** Changes link `i`'s options (both directions, every locator on it, and later ones). */
  update(i: LinkIndex, patch: LinkOptions): void {
    const link = this.#links[i];
    link.options = { ...link.options, ...patch };
    for (const h of link.handles) h.update(patch);
  }
}
