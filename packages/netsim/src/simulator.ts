import { InvalidOptionError } from '@braid/protocol';
import { LivelockError, NodeContractError } from './errors.js';
import { EventQueue } from './event-queue.js';
import { fnv1a32 } from './hash.js';
import {
  Link,
  type LinkHandle,
  type LinkOptions,
  type LinkStats,
  type ResolvedLinkOptions,
  resolveLinkOptions,
} from './link.js';
import { TraceRecorder, type TraceEvent } from './trace.js';
import type { Locator, SimNode } from './types.js';

export interface SimulatorOptions {
  /** Seeds every random choice of the run; an integer in [0, 2^32). Required. */
  seed: number;
  /** Most events (deliveries, timeouts, actions) one `run()` may process. Default 10_000_000. */
  maxSteps?: number;
  /**
   * Most consecutive events without virtual time advancing before the run is declared a
   * livelock. Default 250_000 (above the default `maxInFlight`, so a burst delivered in one
   * instant is not mistaken for one).
   */
  maxStepsPerInstant?: number;
  /** Most datagrams one node may emit in one instant. Default 100_000. */
  maxDatagramsPerInstant?: number;
  /** Most datagram copies scheduled for delivery at once; more are dropped as `overflow`. Default 100_000. */
  maxInFlight?: number;
  /** How many recent events the trace ring buffer keeps. Default 0 (hash only). */
  traceCapacity?: number;
  /** The virtual time the simulation starts at, in ms. Default 0. */
  startMs?: number;
}

export interface RunOptions {
  /** Checked before the first event and after each one; the run stops once it returns true. */
  until?: () => boolean;
  /**
   * Most virtual ms this call may advance the clock. Events due at or before `now + maxVirtualMs`
   * run; then the clock moves to exactly `now + maxVirtualMs` (time passes even when nothing
   * happens). Required.
   */
  maxVirtualMs: number;
}

export interface RunResult {
  /** `until` returned true; no events remained (`idle`); or the time budget ran out. */
  stoppedBy: 'until' | 'idle' | 'time_limit';
  nowMs: number;
  /** Events processed by this call. */
  steps: number;
}

export interface NodeStats {
  name: string;
  locators: Locator[];
  datagramsSent: number;
  datagramsReceived: number;
  timeouts: number;
}

export interface SimulatorStats {
  seed: number;
  nowMs: number;
  /** Events processed since the simulator was created. */
  steps: number;
  /** Datagram copies scheduled for delivery and not yet delivered, over all links. */
  inFlight: number;
  /**
   * Datagrams dropped before reaching any link: `no_route` (no link from source to destination)
   * and `foreign_source` (the node sent from a locator it does not own).
   */
  dropped: { no_route: number; foreign_source: number };
  links: LinkStats[];
  nodes: NodeStats[];
}

/** Both directions of a duplex link. */
export interface DuplexLinkHandle {
  /** a → b */
  readonly forward: LinkHandle;
  /** b → a */
  readonly reverse: LinkHandle;
  /** Blackholes (or restores) both directions: a link flap. */
  setBlackhole(on: boolean): void;
  /** Applies the same patch to both directions. */
  update(options: LinkOptions): void;
}

interface NodeEntry {
  readonly name: string;
  readonly node: SimNode;
  readonly id: number;
  readonly locators: Set<Locator>;
  deadlineMs: number | undefined;
  emittedThisInstant: number;
  datagramsSent: number;
  datagramsReceived: number;
  timeouts: number;
}

type SimEvent =
  | {
      timeMs: number;
      seq: number;
      kind: 'deliver';
      link: Link;
      local: Locator;
      remote: Locator;
      bytes: Uint8Array;
    }
  | { timeMs: number; seq: number; kind: 'action'; fn: (sim: Simulator) => void };

const SCRIPT_ID = fnv1a32('script');

function positiveInteger(name: string, v: number): number {
  if (!(Number.isInteger(v) && v > 0)) {
    throw new InvalidOptionError(`${name} must be a positive integer, got ${v}`);
  }
  return v;
}

/**
 * A deterministic discrete-event network simulator. Nodes ({@link SimNode}) own locators;
 * one-way links between locators carry datagrams with delay, loss, rate limits and faults. The
 * virtual clock jumps straight to the next event: a delivery, a node's deadline, or a scripted
 * action.
 *
 * Ordering is total and reproducible. Events are taken by time; at equal times scheduled events
 * (deliveries and actions) go first in the order they were scheduled, then node deadlines in the
 * order the nodes were added. A node deadline that is earlier than the next scheduled event runs
 * first. After every event, every node is drained with `pollTransmit(now)` (in the order the
 * nodes were added) and asked for its deadline with `pollTimeout()`. A deadline at or before
 * `now` runs at `now`.
 *
 * Every loop is bounded; exceeding a bound throws a {@link LivelockError} carrying the seed.
 */
export class Simulator {
  readonly seed: number;
  readonly #maxSteps: number;
  readonly #maxStepsPerInstant: number;
  readonly #maxDatagramsPerInstant: number;
  readonly #maxInFlight: number;
  readonly #trace: TraceRecorder;
  readonly #queue = new EventQueue<SimEvent>();
  readonly #nodes: NodeEntry[] = [];
  readonly #nodeByName = new Map<string, NodeEntry>();
  readonly #nodeByLocator = new Map<Locator, NodeEntry>();
  readonly #links = new Map<string, Link>();
  readonly #handles = new Map<Link, LinkHandle>();
  readonly #dropped = { no_route: 0, foreign_source: 0 };
  #nowMs: number;
  #seq = 0;
  #steps = 0;
  #stepsAtInstant = 0;
  #inFlight = 0;
  #running = false;

  constructor(options: SimulatorOptions) {
    const seed = options.seed;
    if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffff_ffff)) {
      throw new InvalidOptionError(`seed must be an integer in [0, 2^32), got ${seed}`);
    }
    this.seed = seed;
    this.#maxSteps = positiveInteger('maxSteps', options.maxSteps ?? 10_000_000);
    this.#maxStepsPerInstant = positiveInteger(
      'maxStepsPerInstant',
      options.maxStepsPerInstant ?? 250_000,
    );
    this.#maxDatagramsPerInstant = positiveInteger(
      'maxDatagramsPerInstant',
      options.maxDatagramsPerInstant ?? 100_000,
    );
    this.#maxInFlight = positiveInteger('maxInFlight', options.maxInFlight ?? 100_000);
    const traceCapacity = options.traceCapacity ?? 0;
    if (!(Number.isInteger(traceCapacity) && traceCapacity >= 0)) {
      throw new InvalidOptionError(`traceCapacity must be an integer >= 0, got ${traceCapacity}`);
    }
    this.#trace = new TraceRecorder(traceCapacity);
    const startMs = options.startMs ?? 0;
    if (!Number.isFinite(startMs)) throw new InvalidOptionError(`startMs must be finite`);
    this.#nowMs = startMs;
  }

  /** Virtual time in ms. */
  get now(): number {
    return this.#nowMs;
  }

  /** Adds a node that owns `locators` (datagrams to them are delivered to it). */
  addNode(name: string, node: SimNode, locators: Locator[]): void {
    if (this.#nodeByName.has(name)) throw new InvalidOptionError(`node ${name} already exists`);
    const entry: NodeEntry = {
      name,
      node,
      id: fnv1a32(`node|${name}`),
      locators: new Set(),
      deadlineMs: undefined,
      emittedThisInstant: 0,
      datagramsSent: 0,
      datagramsReceived: 0,
      timeouts: 0,
    };
    for (const locator of locators) this.#checkFreeLocator(locator);
    this.#nodes.push(entry);
    this.#nodeByName.set(name, entry);
    for (const locator of locators) this.addLocator(name, locator);
    entry.deadlineMs = this.#pollDeadline(entry);
  }

  /** Gives node `name` another locator (a new interface or address). */
  addLocator(name: string, locator: Locator): void {
    const entry = this.#nodeByName.get(name);
    if (entry === undefined) throw new InvalidOptionError(`no node named ${name}`);
    this.#checkFreeLocator(locator);
    entry.locators.add(locator);
    this.#nodeByLocator.set(locator, entry);
  }

  /**
   * Takes a locator away from its node: datagrams to it are dropped as `no_route` on arrival, and
   * datagrams the node still sends from it as `foreign_source`.
   */
  removeLocator(locator: Locator): void {
    const entry = this.#nodeByLocator.get(locator);
    if (entry === undefined) throw new InvalidOptionError(`no node owns ${locator}`);
    entry.locators.delete(locator);
    this.#nodeByLocator.delete(locator);
  }

  #checkFreeLocator(locator: Locator): void {
    if (typeof locator !== 'string') throw new InvalidOptionError(`a locator must be a string`);
    const owner = this.#nodeByLocator.get(locator);
    if (owner !== undefined) {
      throw new InvalidOptionError(`locator ${locator} already belongs to node ${owner.name}`);
    }
  }

  /** Adds the one-way link `from` → `to`. At most one link per ordered pair. */
  addLink(from: Locator, to: Locator, options: LinkOptions = {}): LinkHandle {
    const key = linkKey(from, to);
    if (this.#links.has(key)) throw new InvalidOptionError(`link ${from}->${to} already exists`);
    const link = new Link(from, to, this.seed, options);
    this.#links.set(key, link);
    const handle: LinkHandle = {
      from,
      to,
      get options(): Readonly<ResolvedLinkOptions> {
        return link.options;
      },
      setBlackhole: (on) => {
        link.options = resolveLinkOptions(link.options, { blackhole: on });
      },
      update: (patch) => {
        link.options = resolveLinkOptions(link.options, patch);
      },
      stats: () => link.stats(),
    };
    this.#handles.set(link, handle);
    return handle;
  }

  /**
   * Adds `a` → `b` and `b` → `a` with the same options. Each direction has its own state (queue,
   * loss chain, FIFO floor) and its own random streams.
   */
  addDuplexLink(a: Locator, b: Locator, options: LinkOptions = {}): DuplexLinkHandle {
    const forward = this.addLink(a, b, options);
    const reverse = this.addLink(b, a, options);
    return {
      forward,
      reverse,
      setBlackhole(on) {
        forward.setBlackhole(on);
        reverse.setBlackhole(on);
      },
      update(patch) {
        forward.update(patch);
        reverse.update(patch);
      },
    };
  }

  /** The handle of the link `from` → `to`; throws if there is none. */
  link(from: Locator, to: Locator): LinkHandle {
    const link = this.#links.get(linkKey(from, to));
    if (link === undefined) throw new InvalidOptionError(`no link ${from}->${to}`);
    return this.#handles.get(link)!;
  }

  /**
   * Runs `fn` at virtual time `timeMs` (link flaps, commands to nodes…). Actions at the same time
   * run in the order they were scheduled; every node is drained after each.
   */
  at(timeMs: number, fn: (sim: Simulator) => void): void {
    if (!(timeMs >= this.#nowMs) || !Number.isFinite(timeMs)) {
      throw new InvalidOptionError(`at(${timeMs}) is not a finite time >= now (${this.#nowMs})`);
    }
    this.#queue.push({ timeMs, seq: this.#seq++, kind: 'action', fn });
  }

  /** Runs `fn` `delayMs` from now. */
  after(delayMs: number, fn: (sim: Simulator) => void): void {
    this.at(this.#nowMs + delayMs, fn);
  }

  /**
   * Processes events until `until` holds, nothing is left to do, or `maxVirtualMs` have passed.
   * Not re-entrant: an action must not call `run`.
   */
  run(options: RunOptions): RunResult {
    const { until, maxVirtualMs } = options;
    if (!(maxVirtualMs >= 0) || !Number.isFinite(maxVirtualMs)) {
      throw new InvalidOptionError(
        `maxVirtualMs must be a finite number >= 0, got ${maxVirtualMs}`,
      );
    }
    if (this.#running) throw new InvalidOptionError('Simulator.run is not re-entrant');
    this.#running = true;
    try {
      return this.#run(until, this.#nowMs + maxVirtualMs);
    } finally {
      this.#running = false;
    }
  }

  #run(until: (() => boolean) | undefined, limitMs: number): RunResult {
    let steps = 0;
    const result = (stoppedBy: RunResult['stoppedBy']): RunResult => ({
      stoppedBy,
      nowMs: this.#nowMs,
      steps,
    });
    this.#drainAll();
    if (until?.() === true) return result('until');
    for (;;) {
      const scheduled = this.#queue.peek();
      let due: NodeEntry | undefined;
      for (const entry of this.#nodes) {
        const d = entry.deadlineMs;
        if (d !== undefined && (due === undefined || d < due.deadlineMs!)) due = entry;
      }
      const dueMs = due?.deadlineMs;
      const useNode = dueMs !== undefined && (scheduled === undefined || dueMs < scheduled.timeMs);
      const nextMs = useNode ? dueMs : scheduled?.timeMs;
      if (nextMs === undefined) {
        this.#advanceTo(limitMs);
        return result('idle');
      }
      if (nextMs > limitMs) {
        this.#advanceTo(limitMs);
        return result('time_limit');
      }

      steps++;
      this.#steps++;
      if (steps > this.#maxSteps) {
        throw new LivelockError(
          this.seed,
          this.#nowMs,
          steps,
          `more than maxSteps (${this.#maxSteps}) events in one run`,
        );
      }
      if (nextMs > this.#nowMs) {
        this.#advanceTo(nextMs);
      } else if (++this.#stepsAtInstant > this.#maxStepsPerInstant) {
        const culprit = useNode
          ? `; node ${JSON.stringify(due!.name)} keeps a deadline of ${dueMs} ms`
          : '';
        throw new LivelockError(
          this.seed,
          this.#nowMs,
          steps,
          `virtual time did not advance for ${this.#maxStepsPerInstant} consecutive events${culprit}`,
        );
      }

      if (useNode) {
        const entry = due!;
        entry.timeouts++;
        this.#trace.record(this.#nowMs, 'timeout', entry.id, entry.name, 0);
        entry.node.handleTimeout(this.#nowMs);
      } else {
        const event = this.#queue.pop()!;
        if (event.kind === 'action') {
          this.#trace.record(this.#nowMs, 'action', SCRIPT_ID, 'script', 0);
          event.fn(this);
        } else {
          this.#deliver(event);
        }
      }
      this.#drainAll();
      if (until?.() === true) return result('until');
    }
  }

  #advanceTo(timeMs: number): void {
    if (timeMs <= this.#nowMs) return;
    this.#nowMs = timeMs;
    this.#stepsAtInstant = 0;
    for (const entry of this.#nodes) entry.emittedThisInstant = 0;
  }

  #deliver(event: Extract<SimEvent, { kind: 'deliver' }>): void {
    const link = event.link;
    this.#inFlight--;
    link.counters.inFlight--;
    const entry = this.#nodeByLocator.get(event.local);
    if (entry === undefined) {
      link.dropped.no_route++;
      this.#trace.record(this.#nowMs, 'drop', link.id, link.name, event.bytes.length, 'no_route');
      return;
    }
    link.counters.delivered++;
    link.counters.bytesDelivered += event.bytes.length;
    entry.datagramsReceived++;
    this.#trace.record(this.#nowMs, 'deliver', link.id, link.name, event.bytes.length);
    entry.node.handleDatagram(
      this.#nowMs,
      { local: event.local, remote: event.remote },
      event.bytes,
    );
  }

  #drainAll(): void {
    for (const entry of this.#nodes) {
      for (;;) {
        const tx = entry.node.pollTransmit(this.#nowMs);
        if (tx === undefined) break;
        if (++entry.emittedThisInstant > this.#maxDatagramsPerInstant) {
          throw new LivelockError(
            this.seed,
            this.#nowMs,
            this.#steps,
            `node ${JSON.stringify(entry.name)} emitted more than ${this.#maxDatagramsPerInstant} datagrams in one instant`,
          );
        }
        this.#send(entry, tx.from, tx.to, tx.bytes);
      }
    }
    for (const entry of this.#nodes) entry.deadlineMs = this.#pollDeadline(entry);
  }

  #pollDeadline(entry: NodeEntry): number | undefined {
    const d = entry.node.pollTimeout();
    if (d === undefined || d === Number.POSITIVE_INFINITY) return undefined;
    if (typeof d !== 'number' || Number.isNaN(d)) {
      throw new NodeContractError(this.seed, entry.name, `pollTimeout returned ${String(d)}`);
    }
    return d;
  }

  #send(entry: NodeEntry, from: Locator, to: Locator, bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) {
      throw new NodeContractError(
        this.seed,
        entry.name,
        'pollTransmit returned bytes that are not a Uint8Array',
      );
    }
    entry.datagramsSent++;
    if (!entry.locators.has(from)) {
      this.#dropUnrouted('foreign_source', from, to, bytes.length);
      return;
    }
    const link = this.#links.get(linkKey(from, to));
    if (link === undefined) {
      this.#dropUnrouted('no_route', from, to, bytes.length);
      return;
    }
    // The node may reuse its buffer once pollTransmit returns.
    const own = bytes.slice();
    this.#trace.record(this.#nowMs, 'send', link.id, link.name, own.length, undefined, own);
    const corruptedBefore = link.counters.corrupted;
    const reorderedBefore = link.counters.reordered;
    const outcome = link.transmit(this.#nowMs, own);
    if ('dropped' in outcome) {
      this.#trace.record(this.#nowMs, 'drop', link.id, link.name, own.length, outcome.dropped);
      return;
    }
    if (outcome.copies.length > 1)
      this.#trace.record(this.#nowMs, 'duplicate', link.id, link.name, own.length);
    for (let i = corruptedBefore; i < link.counters.corrupted; i++) {
      this.#trace.record(this.#nowMs, 'corrupt', link.id, link.name, own.length);
    }
    for (let i = reorderedBefore; i < link.counters.reordered; i++) {
      this.#trace.record(this.#nowMs, 'reorder', link.id, link.name, own.length);
    }
    const o = link.options;
    const local = o.rewriteTo ?? link.to;
    const remote = o.rewriteFrom ?? link.from;
    for (const copy of outcome.copies) {
      if (this.#inFlight >= this.#maxInFlight) {
        link.dropped.overflow++;
        this.#trace.record(this.#nowMs, 'drop', link.id, link.name, own.length, 'overflow');
        continue;
      }
      this.#inFlight++;
      link.counters.inFlight++;
      this.#queue.push({
        timeMs: copy.atMs,
        seq: this.#seq++,
        kind: 'deliver',
        link,
        local,
        remote,
        bytes: copy.bytes,
      });
    }
  }

  /** A snapshot of every counter. Two runs with the same seed and scenario give equal snapshots. */
  /** Counts and traces a datagram dropped before it reached any link. */
  #dropUnrouted(reason: 'foreign_source' | 'no_route', from: Locator, to: Locator, size: number) {
    this.#dropped[reason]++;
    this.#trace.record(
      this.#nowMs,
      'drop',
      fnv1a32(`${from}->${to}`),
      `${from}->${to}`,
      size,
      reason,
    );
  }

  stats(): SimulatorStats {
    return {
      seed: this.seed,
      nowMs: this.#nowMs,
      steps: this.#steps,
      inFlight: this.#inFlight,
      dropped: { ...this.#dropped },
      links: [...this.#links.values()].map((l) => l.stats()),
      nodes: this.#nodes.map((n) => ({
        name: n.name,
        locators: [...n.locators],
        datagramsSent: n.datagramsSent,
        datagramsReceived: n.datagramsReceived,
        timeouts: n.timeouts,
      })),
    };
  }

  /**
   * A 64-bit FNV-1a (16 hex digits) over every event so far — its time, kind, place, size, drop
   * reason — and the bytes of every datagram sent. Equal hashes mean the runs were identical.
   */
  traceHash(): string {
    return this.#trace.hash();
  }

  /** The last `traceCapacity` events, oldest first. */
  trace(): TraceEvent[] {
    return this.#trace.events();
  }
}

function linkKey(from: Locator, to: Locator): string {
  return `${from}\u0000${to}`;
}
