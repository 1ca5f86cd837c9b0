import { InvalidOptionError } from '@braid/protocol';
import type { Locator, SimNode, Transmit } from './types.js';

/**
 * Small {@link SimNode}s for testing the simulator itself and for tests that need traffic
 * without the protocol: a sink, an echo, and a constant-rate sender with sequence numbers.
 */

/** A datagram a node received. */
export interface Arrival {
  atMs: number;
  local: Locator;
  remote: Locator;
  bytes: Uint8Array;
}

/** Header of a {@link ConstantRateSender} datagram: u32 sequence number, f64 send time (ms). */
export const PROBE_HEADER_BYTES = 12;

/** The sequence number of a {@link ConstantRateSender} datagram. */
export function readSequence(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
}

/** The virtual time a {@link ConstantRateSender} datagram was sent at. */
export function readSentAtMs(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(4);
}

/** Keeps up to `capacity` arrivals; later ones are only counted in `overflowed`. */
class ArrivalLog {
  readonly arrivals: Arrival[] = [];
  overflowed = 0;
  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 0)) {
      throw new InvalidOptionError(`capacity must be an integer >= 0, got ${capacity}`);
    }
  }
  add(arrival: Arrival): void {
    if (this.arrivals.length < this.capacity) this.arrivals.push(arrival);
    else this.overflowed++;
  }
}

/** Receives and records; never sends, never has a deadline. */
export class SinkNode implements SimNode {
  readonly #log: ArrivalLog;

  /** @param capacity most arrivals kept. Default 100_000. */
  constructor(capacity = 100_000) {
    this.#log = new ArrivalLog(capacity);
  }

  get arrivals(): readonly Arrival[] {
    return this.#log.arrivals;
  }

  /** Arrivals beyond the capacity, counted but not kept. */
  get overflowed(): number {
    return this.#log.overflowed;
  }

  handleDatagram(now: number, path: { local: Locator; remote: Locator }, bytes: Uint8Array): void {
    this.#log.add({ atMs: now, local: path.local, remote: path.remote, bytes });
  }
  handleTimeout(): void {}
  pollTransmit(): Transmit | undefined {
    return undefined;
  }
  pollTimeout(): number | undefined {
    return undefined;
  }
}

/** Sends every datagram straight back to where it came from, from the locator it arrived on. */
export class EchoNode implements SimNode {
  readonly #pending: Transmit[] = [];
  #next = 0;
  /** Datagrams not echoed because `queueLimit` replies were already waiting. */
  overflowed = 0;
  received = 0;

  /** @param queueLimit most replies waiting to be polled. Default 10_000. */
  constructor(readonly queueLimit = 10_000) {}

  handleDatagram(_now: number, path: { local: Locator; remote: Locator }, bytes: Uint8Array): void {
    this.received++;
    if (this.#pending.length - this.#next >= this.queueLimit) {
      this.overflowed++;
      return;
    }
    this.#pending.push({ from: path.local, to: path.remote, bytes });
  }
  handleTimeout(): void {}
  pollTransmit(): Transmit | undefined {
    const tx = this.#pending[this.#next];
    if (tx === undefined) return undefined;
    this.#next++;
    if (this.#next === this.#pending.length) {
      this.#pending.length = 0;
      this.#next = 0;
    }
    return tx;
  }
  pollTimeout(): number | undefined {
    return undefined;
  }
}

export interface ConstantRateSenderOptions {
  from: Locator;
  to: Locator;
  /** Datagrams to send in all. */
  count: number;
  /** Gap between sends in ms; 0 sends all `count` at `startMs`. */
  intervalMs: number;
  /** Size of each datagram, at least {@link PROBE_HEADER_BYTES}. Default 100. */
  sizeBytes?: number;
  /** Virtual time of the first send. Default 0. */
  startMs?: number;
  /** Most received datagrams kept (e.g. echoes). Default 100_000. */
  receiveCapacity?: number;
}

/**
 * Sends datagram `seq` (0, 1, …, count-1) at `startMs + seq * intervalMs`. Each carries its
 * sequence number and send time ({@link readSequence}, {@link readSentAtMs}); the rest of the
 * bytes are a pattern fixed by `seq`, so {@link ConstantRateSender.packet} can rebuild any of
 * them for comparison. Records what it receives.
 */
export class ConstantRateSender implements SimNode {
  readonly from: Locator;
  readonly to: Locator;
  readonly count: number;
  readonly intervalMs: number;
  readonly sizeBytes: number;
  readonly startMs: number;
  readonly #log: ArrivalLog;
  #nextSeq = 0;

  constructor(options: ConstantRateSenderOptions) {
    this.from = options.from;
    this.to = options.to;
    this.count = options.count;
    this.intervalMs = options.intervalMs;
    this.sizeBytes = options.sizeBytes ?? 100;
    this.startMs = options.startMs ?? 0;
    if (!(Number.isInteger(this.count) && this.count >= 0 && this.count <= 0xffff_ffff)) {
      throw new InvalidOptionError(`count must be an integer in [0, 2^32), got ${this.count}`);
    }
    if (!(this.intervalMs >= 0 && Number.isFinite(this.intervalMs))) {
      throw new InvalidOptionError(
        `intervalMs must be a finite number >= 0, got ${this.intervalMs}`,
      );
    }
    if (!(Number.isInteger(this.sizeBytes) && this.sizeBytes >= PROBE_HEADER_BYTES)) {
      throw new InvalidOptionError(`sizeBytes must be an integer >= ${PROBE_HEADER_BYTES}`);
    }
    this.#log = new ArrivalLog(options.receiveCapacity ?? 100_000);
  }

  /** How many datagrams have been sent so far. */
  get sent(): number {
    return this.#nextSeq;
  }

  get received(): readonly Arrival[] {
    return this.#log.arrivals;
  }

  /** When datagram `seq` is due. */
  sendTimeMs(seq: number): number {
    return this.startMs + seq * this.intervalMs;
  }

  /** The exact bytes of datagram `seq`. */
  packet(seq: number): Uint8Array {
    const bytes = new Uint8Array(this.sizeBytes);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, seq);
    view.setFloat64(4, this.sendTimeMs(seq));
    for (let i = PROBE_HEADER_BYTES; i < bytes.length; i++) bytes[i] = (seq * 31 + i) & 0xff;
    return bytes;
  }

  handleDatagram(now: number, path: { local: Locator; remote: Locator }, bytes: Uint8Array): void {
    this.#log.add({ atMs: now, local: path.local, remote: path.remote, bytes });
  }
  handleTimeout(): void {}
  pollTransmit(now: number): Transmit | undefined {
    if (this.#nextSeq >= this.count || this.sendTimeMs(this.#nextSeq) > now) return undefined;
    const bytes = this.packet(this.#nextSeq++);
    return { from: this.from, to: this.to, bytes };
  }
  pollTimeout(): number | undefined {
    return this.#nextSeq < this.count ? this.sendTimeMs(this.#nextSeq) : undefined;
  }
}
