/**
 * Helpers for end-to-end tests over {@link makePair}: an established session on both sides,
 * deterministic payloads, and a reader that drains streams as datagrams arrive.
 */
import {
  concatBytes,
  type Endpoint,
  type EndpointEvent,
  type EndpointOptions,
  type SessionId,
  type Transmit,
} from '@braid/protocol';
import { A, B, makePair, type Pair } from './pair.js';

export interface Connected {
  p: Pair;
  /** The session's id on endpoint a (the initiator) and on endpoint b. */
  a: SessionId;
  b: SessionId;
}

/**
 * A pair whose session is established and confirmed on both sides, with virtual time near 0.
 * With `delayMs`, the handshake runs over {@link runDelayed}'s link, so its RTT sample is real.
 */
export async function connected(
  seed: number,
  options: Partial<EndpointOptions> = {},
  bOptions: Partial<EndpointOptions> = {},
  delayMs = 0,
): Promise<Connected> {
  const p = await makePair(seed, options, bOptions);
  const a = p.a.connect(0, { remoteEid: p.bId.eid, local: A, remote: B });
  if (delayMs > 0) runDelayed(p, p.now + 1_000, { delayMs });
  else p.run(p.now + 1_000);
  const b = p.b.sessionIds()[0];
  if (
    b === undefined ||
    p.a.sessionInfo(a).state !== 'established' ||
    !p.a.sessionInfo(a).confirmed
  )
    throw new Error('the session did not come up');
  return { p, a, b };
}

/** `length` deterministic bytes; different `salt`s give different contents. */
export function payload(length: number, salt = 0): Uint8Array {
  const out = new Uint8Array(length);
  let x = (salt * 0x9e37_79b9 + 0x1234_5678) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    // xorshift32: cheap, and no period short enough to hide a misplaced block.
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export type Side = 'a' | 'b';

export function eventsOf<T extends EndpointEvent['type']>(
  p: Pair,
  side: Side,
  type: T,
): Extract<EndpointEvent, { type: T }>[] {
  return p.events[side].filter((e): e is Extract<EndpointEvent, { type: T }> => e.type === type);
}

export interface StreamRecord {
  chunks: Uint8Array[];
  bytes: number;
  fin: boolean;
  reset: number | undefined;
}

/**
 * Reads every stream of one side's session as soon as it is readable. Call {@link drain} (or
 * use {@link tap}, which delivers each datagram for this side and drains at once) — the pair's
 * own loop delivers a whole batch before anyone reads.
 */
export class Reader {
  readonly streams = new Map<number, StreamRecord>();
  /** Called after every drain, e.g. to check an invariant at each step. */
  onDrain: (() => void) | undefined;
  private seen = 0;

  constructor(
    private readonly p: Pair,
    private readonly side: Side,
    private readonly session: SessionId,
    private readonly maxRead = 65_536,
  ) {}

  private get endpoint(): Endpoint {
    return this.side === 'a' ? this.p.a : this.p.b;
  }

  record(streamId: number): StreamRecord {
    let r = this.streams.get(streamId);
    if (!r) {
      r = { chunks: [], bytes: 0, fin: false, reset: undefined };
      this.streams.set(streamId, r);
    }
    return r;
  }

  /** The bytes read so far on a stream. */
  data(streamId: number): Uint8Array {
    return concatBytes(...(this.streams.get(streamId)?.chunks ?? []));
  }

  drain(): void {
    const ep = this.endpoint;
    // Keep the pair's event record complete: take the events it would have taken.
    for (let e = ep.pollEvent(); e; e = ep.pollEvent()) this.p.events[this.side].push(e);
    const events = this.p.events[this.side];
    for (; this.seen < events.length; this.seen++) {
      const e = events[this.seen]!;
      if (e.type === 'stream_opened' || e.type === 'stream_readable') this.record(e.streamId);
      if (e.type === 'stream_reset') this.record(e.streamId).reset = e.code;
    }
    for (const [id, r] of this.streams) {
      while (!r.fin && r.reset === undefined) {
        let got: { data: Uint8Array; fin: boolean } | undefined;
        try {
          got = ep.streamRead(this.p.now, this.session, id, this.maxRead);
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === 'ERR_BRAID_UNKNOWN_STREAM' || code === 'ERR_BRAID_UNKNOWN_SESSION') break;
          throw err;
        }
        if (!got) break;
        if (got.data.length > 0) r.chunks.push(got.data.slice());
        r.bytes += got.data.length;
        r.fin = got.fin;
      }
    }
    for (let e = ep.pollEvent(); e; e = ep.pollEvent()) this.p.events[this.side].push(e);
    this.onDrain?.();
  }

  /**
   * A `tap` for {@link Pair.run}: delivers datagrams bound for this side itself and drains at
   * once; `drop` may discard a datagram first (it sees every datagram, both ways).
   */
  tap(drop?: (t: Transmit) => boolean): (t: Transmit) => Uint8Array | undefined {
    const local = this.side === 'a' ? A : B;
    return (t) => {
      if (drop?.(t)) return undefined;
      if (t.to !== local) return t.bytes;
      this.endpoint.handleDatagram(this.p.now, { local: t.to, remote: t.from }, t.bytes);
      this.drain();
      return undefined;
    };
  }
}

/** A `tap` that lets both readers deliver and drain their own side. */
export function readBoth(
  ra: Reader,
  rb: Reader,
  drop?: (t: Transmit) => boolean,
): (t: Transmit) => Uint8Array | undefined {
  const toA = ra.tap();
  const toB = rb.tap();
  return (t) => {
    if (drop?.(t)) return undefined;
    return t.to === A ? toA(t) : toB(t);
  };
}

export interface DelayedRunOptions {
  /** One-way delay of every datagram, both ways. */
  delayMs: number;
  /** Discards a datagram before it enters the link (it is still recorded in `p.wire`). */
  drop?: (t: Transmit) => boolean;
  /** Called after each delivery, e.g. to let a {@link Reader} drain. */
  afterDeliver?: () => void;
}

/**
 * Like {@link Pair.run}, but datagrams take `delayMs` to cross, so RTTs are real: a fixed-delay
 * FIFO link each way, with virtual time jumping to the next delivery or timer.
 */
export function runDelayed(p: Pair, untilMs: number, options: DelayedRunOptions): void {
  const link: { at: number; to: Endpoint; t: Transmit }[] = [];
  for (let steps = 0; steps < 1_000_000; steps++) {
    let moved = false;
    for (const [from, to] of [
      [p.a, p.b],
      [p.b, p.a],
    ] as const) {
      for (let t = from.pollTransmit(p.now); t; t = from.pollTransmit(p.now)) {
        moved = true;
        p.wire.push(t);
        if (!options.drop?.(t)) link.push({ at: p.now + options.delayMs, to, t });
      }
    }
    for (let e = p.a.pollEvent(); e; e = p.a.pollEvent()) p.events.a.push(e);
    for (let e = p.b.pollEvent(); e; e = p.b.pollEvent()) p.events.b.push(e);
    while (link.length > 0 && link[0]!.at <= p.now) {
      const { to, t } = link.shift()!;
      to.handleDatagram(p.now, { local: t.to, remote: t.from }, t.bytes);
      options.afterDeliver?.();
      moved = true;
    }
    if (moved) continue;
    const deadlines = [p.a.pollTimeout(), p.b.pollTimeout(), link[0]?.at].filter(
      (d) => d !== undefined,
    );
    if (deadlines.length === 0) return;
    const next = Math.min(...deadlines);
    if (next > untilMs) return;
    p.now = Math.max(p.now, next);
    p.a.handleTimeout(p.now);
    p.b.handleTimeout(p.now);
  }
  throw new Error('runDelayed: step bound reached (livelock?)');
}
