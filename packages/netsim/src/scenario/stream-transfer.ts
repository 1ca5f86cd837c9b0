/**
 * The simulated stream transfer: host A opens one stream per entry of `sizes` and writes that
 * many deterministic bytes to each; host B reads every stream to its end and checks each byte
 * against the expected content as it arrives (in order, exactly once, nothing beyond the end)
 * and a hash of the whole. Used by `pnpm sim`, the stream tests and the seed sweep.
 *
 * Safety is checked during the run (a violation stops it at once); liveness is checked at the
 * end: every stream delivered in full on the one session of the run, with no new handshake.
 */
import {
  asciiBytes,
  BraidError,
  type Endpoint,
  type EndpointEvent,
  type EndpointOptions,
  type Locator,
  type SessionId,
  type SessionStats,
  type StreamPolicy,
} from '@braid/protocol';
import { SafetyViolation } from './app-node.js';
import {
  EndpointNode,
  runToCompletion,
  setUpTwoHosts,
  scenarioResult,
  type Dial,
  type ScenarioResult,
  type TwoHostOptions,
} from './common.js';

const BLOCK_BYTES = 4096;

/** Deterministic content of stream `index` at `[offset, offset + length)`. */
export function streamContent(index: number, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = offset;
  while (at < offset + length) {
    const block = Math.floor(at / BLOCK_BYTES);
    const start = at - block * BLOCK_BYTES;
    const n = Math.min(BLOCK_BYTES - start, offset + length - at);
    let x = (Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(block + 1, 0x85ebca6b)) >>> 0 || 1;
    for (let i = 0; i < start + n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      if (i >= start) out[at - offset + i - start] = x & 0xff;
    }
    at += n;
  }
  return out;
}

/** FNV-1a (32-bit) over byte chunks: the end-to-end hash compared by both sides. */
export class Fnv1a32 {
  private h = 0x811c9dc5;
  update(bytes: Uint8Array): void {
    let h = this.h;
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
    this.h = h >>> 0;
  }
  get hex(): string {
    return this.h.toString(16).padStart(8, '0');
  }
}

/** One hash for a set of streams: FNV-1a over their hashes in stream order. */
function combineHashes(perStream: readonly Fnv1a32[]): string {
  const all = new Fnv1a32();
  for (const h of perStream) all.update(asciiBytes(h.hex));
  return all.hex;
}

export interface TransferOptions extends TwoHostOptions {
  /** Bytes sent on each stream, all at once. Default `[1 MiB]`. */
  sizes?: number[];
  /** Policy of the streams A opens. Default bulk. */
  policy?: StreamPolicy;
}

/** `verified`: every stream arrived byte-exact, in order, once; the hashes agree; one session. */
export interface TransferResult extends ScenarioResult {
  /** Stream bytes delivered to B (all streams). */
  bytes: number;
  streams: number;
  /** Delivered bits per second of virtual time, from A's session being established to B reading the last byte. */
  goodputBps: number;
  /** Stream bytes A sent again after losses. */
  retransmittedBytes: number;
  /** A's smoothed RTT at the end (and its minimum), ms. */
  rttMs: number;
  minRttMs: number;
  hash: { sent: string; received: string };
  sessions: { establishedAtA: number; establishedAtB: number; closes: string[] };
  session: { a: Partial<SessionStats>; b: Partial<SessionStats> };
}

interface NodeOptions {
  name: string;
  endpoint: EndpointOptions;
  local: Locator;
  sizes: number[];
  policy?: StreamPolicy;
  dial?: Dial;
}

/** A writer's state for one stream. */
export interface Outgoing {
  index: number;
  written: number;
  ended: boolean;
}

/** B's reader state for one stream. */
interface Incoming extends IncomingStream {
  index: number;
}

class TransferNode extends EndpointNode {
  session: SessionId | undefined;
  establishedAtMs: number | undefined;
  establishedCount = 0;
  handshakeMs: number | null = null;
  finishedAtMs: number | undefined;
  readonly closes: string[] = [];
  /** Hash of what A wrote, and of what B read (per stream, combined in stream order). */
  hashOut = '';
  hashIn = '';
  private readonly streamHashes: Fnv1a32[];
  bytesIn = 0;
  streamsDone = 0;
  private readonly out = new Map<number, Outgoing>();
  private readonly incoming = new Map<number, Incoming>();
  private nextToOpen = 0;

  constructor(private readonly options: NodeOptions) {
    super(options.endpoint);
    const d = options.dial;
    if (d)
      this.session = this.endpoint.connect(0, {
        remoteEid: d.eid,
        ...(d.staticKey ? { remoteStaticKey: d.staticKey } : {}),
        local: options.local,
        remote: d.remote,
      });
    this.streamHashes = options.sizes.map(() => new Fnv1a32());
    if (d) {
      for (const [i, size] of options.sizes.entries())
        for (let at = 0; at < size; at += 1 << 20)
          this.streamHashes[i]!.update(streamContent(i, at, Math.min(1 << 20, size - at)));
      this.hashOut = combineHashes(this.streamHashes);
    }
  }

  get done(): boolean {
    return this.streamsDone === this.options.sizes.length;
  }

  protected onEvent(now: number, e: EndpointEvent): void {
    switch (e.type) {
      case 'established':
        this.establishedCount++;
        if (this.establishedCount > 1)
          throw new SafetyViolation(`${this.options.name}: a second session was established`);
        this.session = e.session;
        this.establishedAtMs = now;
        this.handshakeMs = e.handshakeMs;
        if (this.options.dial) this.openStreams(now);
        return;
      case 'streams_available':
        this.openStreams(now);
        return;
      case 'stream_opened':
        if (!this.options.dial) this.acceptStream(now, e.streamId);
        return;
      case 'stream_writable':
        this.writeMore(now, e.streamId);
        return;
      case 'stream_readable':
        this.readAll(now, e.streamId);
        return;
      case 'stream_reset':
      case 'stream_stopped':
        throw new SafetyViolation(
          `${this.options.name}: stream ${e.streamId} ${e.type} (${e.code})`,
        );
      case 'closed':
        this.closes.push(`${e.code}: ${e.reason}${e.byPeer ? ' (by peer)' : ''}`);
        return;
      default:
        return;
    }
  }

  private openStreams(now: number): void {
    const sid = this.session!;
    while (this.nextToOpen < this.options.sizes.length) {
      let streamId: number;
      try {
        streamId = this.endpoint.openStream(now, sid, this.options.policy);
      } catch (err) {
        if (err instanceof BraidError && err.code === 'ERR_BRAID_STREAM_LIMIT') return;
        throw err;
      }
      this.out.set(streamId, { index: this.nextToOpen++, written: 0, ended: false });
      this.writeMore(now, streamId);
    }
  }

  private writeMore(now: number, streamId: number): void {
    const o = this.out.get(streamId);
    if (o)
      writeContent(
        this.endpoint,
        now,
        this.session!,
        streamId,
        o,
        o.index,
        this.options.sizes[o.index]!,
      );
  }

  private acceptStream(now: number, streamId: number): void {
    const index = Math.floor(streamId / 4);
    if (this.incoming.has(streamId) || index >= this.options.sizes.length)
      throw new SafetyViolation(`${this.options.name}: unexpected stream ${streamId}`);
    this.incoming.set(streamId, { index, read: 0, done: false });
    // B sends nothing back: its half ends at once, so the stream closes when A's is read.
    this.endpoint.streamEnd(now, this.session!, streamId);
  }

  private readAll(now: number, streamId: number): void {
    const inc = this.incoming.get(streamId);
    const expect = inc && { content: inc.index, size: this.options.sizes[inc.index]! };
    readCheckedStream(
      this.endpoint,
      now,
      this.session!,
      streamId,
      this.options.name,
      inc,
      expect,
      (data, fin) => {
        this.streamHashes[inc!.index]!.update(data);
        this.bytesIn += data.length;
        if (!fin) return;
        this.streamsDone++;
        if (this.done) {
          this.finishedAtMs = now;
          this.hashIn = combineHashes(this.streamHashes);
        }
      },
    );
  }
}

/** Runs the transfer. Never throws for a protocol failure: it reports it in `failure`. */
export function runStreamTransfer(options: TransferOptions): TransferResult {
  const seed = options.seed >>> 0;
  const sizes = options.sizes ?? [1 << 20];
  const pattern = options.pattern ?? 'xx';
  const maxVirtualMs = options.maxVirtualMs ?? 600_000;
  const { sim, a, b } = setUpTwoHosts(
    options,
    0x5eed_0002,
    maxVirtualMs,
    (side, endpoint, local, dial) =>
      new TransferNode({
        name: side,
        endpoint,
        local,
        sizes,
        ...(options.policy ? { policy: options.policy } : {}),
        ...(dial ? { dial } : {}),
      }),
  );
  const run = runToCompletion(
    sim,
    () => b.done,
    maxVirtualMs,
    () =>
      `B has ${b.streamsDone}/${sizes.length} streams, ${b.bytesIn} bytes; closes: ${[...a.closes, ...b.closes].join('; ') || 'none'}`,
  );
  let failure = run.failure;
  const steps = run.steps;
  if (!failure && a.hashOut !== b.hashIn)
    failure = `hash mismatch: sent ${a.hashOut}, received ${b.hashIn}`;
  if (!failure && (a.establishedCount !== 1 || b.establishedCount !== 1))
    failure = `expected one session, A established ${a.establishedCount}, B ${b.establishedCount}`;
  const statsOf = (n: TransferNode): SessionStats | undefined => {
    if (n.session === undefined) return undefined;
    try {
      return n.endpoint.sessionInfo(n.session).stats;
    } catch {
      return undefined;
    }
  };
  const sa = statsOf(a);
  const sb = statsOf(b);
  const start = a.establishedAtMs ?? 0;
  const end = b.finishedAtMs;
  return {
    ...scenarioResult(
      seed,
      failure,
      sim,
      pattern,
      a.handshakeMs,
      { a: a.endpoint, b: b.endpoint },
      steps,
    ),
    bytes: b.bytesIn,
    streams: sizes.length,
    goodputBps:
      end !== undefined && end > start ? Math.round((b.bytesIn * 8 * 1000) / (end - start)) : 0,
    retransmittedBytes: sa?.retransmittedBytes ?? 0,
    rttMs: round3(sa?.rttMs ?? -1),
    minRttMs: round3(sa?.minRttMs ?? -1),
    hash: { sent: a.hashOut, received: b.hashIn },
    sessions: {
      establishedAtA: a.establishedCount,
      establishedAtB: b.establishedCount,
      closes: [...a.closes.map((c) => `a: ${c}`), ...b.closes.map((c) => `b: ${c}`)],
    },
    session: { a: pickStats(sa), b: pickStats(sb) },
  };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** The recovery figures worth reading in a run's JSON. */
function pickStats(s: SessionStats | undefined): Partial<SessionStats> {
  if (!s) return {};
  return {
    packetsSent: s.packetsSent,
    packetsReceived: s.packetsReceived,
    packetsLost: s.packetsLost,
    bytesLost: s.bytesLost,
    retransmittedBytes: s.retransmittedBytes,
    deliveredBytes: s.deliveredBytes,
    cwndBytes: Math.round(s.cwndBytes),
    congestionEvents: s.congestionEvents,
    ptoCount: s.ptoCount,
    persistentCongestion: s.persistentCongestion,
    keyUpdates: s.keyUpdates,
    rttMs: round3(s.rttMs),
  };
}

/**
 * Writes up to `budget` more bytes of content `content` (`size` bytes in all) to a stream, as
 * much as its send buffer takes, and ends the stream once all is written.
 */
export function writeContent(
  endpoint: Endpoint,
  now: number,
  session: SessionId,
  streamId: number,
  o: Outgoing,
  content: number,
  size: number,
  budget = Infinity,
): void {
  if (o.ended) return;
  let left = budget;
  while (o.written < size && left > 0) {
    const n = Math.min(64 * 1024, size - o.written, left);
    const taken = endpoint.streamWrite(
      now,
      session,
      streamId,
      streamContent(content, o.written, n),
    );
    o.written += taken;
    left -= taken;
    if (taken < n) return;
  }
  if (o.written < size) return;
  o.ended = true;
  endpoint.streamEnd(now, session, streamId);
}

/** Where a received stream stands: bytes read so far, and whether its end was read. */
export interface IncomingStream {
  read: number;
  done: boolean;
}

/**
 * Reads all `streamId` has ready and checks each read against the bytes expected at its offset
 * (content `expect.content` of `expect.size` bytes): a duplicate, an alteration, a reorder, a
 * read past the end or an early end is a {@link SafetyViolation}. `inc` is advanced; without it
 * the stream is the peer's empty half of one of our own, where only the end may arrive.
 * `onRead` sees each checked read, `fin` true with the last one.
 */
export function readCheckedStream(
  endpoint: Endpoint,
  now: number,
  session: SessionId,
  streamId: number,
  who: string,
  inc: IncomingStream | undefined,
  expect: { content: number; size: number } | undefined,
  onRead: (data: Uint8Array, fin: boolean) => void,
): void {
  // After the end is read the stream may be gone: stop there.
  for (let fin = false; !fin;) {
    const r = endpoint.streamRead(now, session, streamId);
    if (!r) return;
    fin = r.fin;
    if (!inc || !expect) {
      if (r.data.length > 0)
        throw new SafetyViolation(`${who}: unexpected bytes on stream ${streamId}`);
      continue;
    }
    if (inc.done) throw new SafetyViolation(`${who}: read after the end`);
    const end = inc.read + r.data.length;
    if (end > expect.size)
      throw new SafetyViolation(
        `${who}: stream ${streamId} delivered ${end} bytes of ${expect.size}`,
      );
    const expected = streamContent(expect.content, inc.read, r.data.length);
    for (let i = 0; i < expected.length; i++)
      if (expected[i] !== r.data[i])
        throw new SafetyViolation(
          `${who}: stream ${streamId} byte ${inc.read + i} differs (altered, reordered or duplicated)`,
        );
    if (r.fin && end !== expect.size)
      throw new SafetyViolation(
        `${who}: stream ${streamId} ended at ${end} of ${expect.size} bytes`,
      );
    inc.read = end;
    inc.done = r.fin;
    onRead(r.data, r.fin);
  }
}
