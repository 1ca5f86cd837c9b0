import { Fnv1a64 } from './hash.js';

export type TraceKind =
  'send' | 'deliver' | 'drop' | 'duplicate' | 'corrupt' | 'reorder' | 'timeout' | 'action';

const KIND_CODE: Record<TraceKind, number> = {
  send: 1,
  deliver: 2,
  drop: 3,
  duplicate: 4,
  corrupt: 5,
  reorder: 6,
  timeout: 7,
  action: 8,
};

/** One thing that happened, for debugging a failing seed. */
export interface TraceEvent {
  timeMs: number;
  kind: TraceKind;
  /** `from->to` for link events, the node's name for `timeout`, `'script'` for `action`. */
  where: string;
  sizeBytes: number;
  /** The drop reason, for `drop`. */
  reason?: string;
}

/**
 * Hashes every event (and the bytes of every datagram sent) into a running FNV-1a, and keeps the
 * last `capacity` events in a ring buffer. The hash covers the whole run regardless of capacity.
 */
export class TraceRecorder {
  readonly #hash = new Fnv1a64();
  readonly #ring: TraceEvent[] = [];
  #next = 0;
  #count = 0;

  constructor(readonly capacity: number) {}

  /** Events recorded since the start, including those the ring has forgotten. */
  get count(): number {
    return this.#count;
  }

  record(
    timeMs: number,
    kind: TraceKind,
    whereId: number,
    where: string,
    sizeBytes: number,
    reason?: string,
    bytes?: Uint8Array,
  ): void {
    this.#count++;
    const h = this.#hash;
    h.byte(KIND_CODE[kind]);
    h.f64(timeMs);
    h.u32(whereId);
    h.u32(sizeBytes);
    if (reason !== undefined) h.string(reason);
    if (bytes !== undefined) h.bytes(bytes);
    if (this.capacity === 0) return;
    const event: TraceEvent = { timeMs, kind, where, sizeBytes };
    if (reason !== undefined) event.reason = reason;
    if (this.#ring.length < this.capacity) this.#ring.push(event);
    else this.#ring[this.#next] = event;
    this.#next = (this.#next + 1) % this.capacity;
  }

  hash(): string {
    return this.#hash.hex();
  }

  /** The retained events, oldest first. */
  events(): TraceEvent[] {
    if (this.#ring.length < this.capacity) return this.#ring.slice();
    return [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }
}
