/**
 * Sliding anti-replay window over packet numbers, after RFC 6479 and WireGuard's
 * `counter_validate`: a ring of 32-bit words where whole words are cleared as the window
 * slides, so the cost of a jump is bounded by the ring size, not by the jump.
 *
 * Packet numbers are JS numbers (exact below 2^53). The limit is far above anything a key
 * reaches: a sender stops at 2^48 (docs/protocol.md §3.3).
 */

const BITS_PER_WORD = 32;
/** Bits kept in the ring; one word of them is slack that the sliding logic clears ahead. */
export const REPLAY_RING_BITS = 2048;
/** Packets this far behind the highest one seen are still accepted once each. */
export const REPLAY_WINDOW_PACKETS = REPLAY_RING_BITS - BITS_PER_WORD;
/** Default highest packet number a key may ever accept (exclusive). */
export const REJECT_AFTER_PACKETS = 2 ** 48;

const RING_WORDS = REPLAY_RING_BITS / BITS_PER_WORD;

export class ReplayWindow {
  /** One more than the highest packet number accepted so far (0: none yet). */
  private top = 0;
  private readonly ring = new Uint32Array(RING_WORDS);

  constructor(readonly rejectAfterPackets: number = REJECT_AFTER_PACKETS) {}

  /** The highest packet number accepted so far, or -1. */
  get largest(): number {
    return this.top - 1;
  }

  /**
   * Whether `packetNumber` would be accepted now, without recording it. Call this before the
   * AEAD open and {@link accept} after it succeeds, so a forged packet cannot move the window.
   */
  check(packetNumber: number): boolean {
    if (!Number.isSafeInteger(packetNumber) || packetNumber < 0) return false;
    if (packetNumber >= this.rejectAfterPackets || this.top > this.rejectAfterPackets) return false;
    const counter = packetNumber + 1;
    if (counter + REPLAY_WINDOW_PACKETS < this.top) return false;
    if (counter > this.top) return true;
    const word = Math.floor(counter / BITS_PER_WORD) % RING_WORDS;
    const bit = 1 << (counter % BITS_PER_WORD);
    return (this.ring[word]! & bit) === 0;
  }

  /** Records `packetNumber`; returns false (and records nothing) if it is a replay or too old. */
  accept(packetNumber: number): boolean {
    if (!this.check(packetNumber)) return false;
    const counter = packetNumber + 1;
    const index = Math.floor(counter / BITS_PER_WORD);
    if (counter > this.top) {
      const current = Math.floor(this.top / BITS_PER_WORD);
      const clear = Math.min(index - current, RING_WORDS);
      for (let i = 1; i <= clear; i++) this.ring[(current + i) % RING_WORDS] = 0;
      this.top = counter;
    }
    this.ring[index % RING_WORDS]! |= 1 << (counter % BITS_PER_WORD);
    return true;
  }
}
