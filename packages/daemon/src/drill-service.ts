/**
 * The built-in drill service (`braid.drill`): the far end of `braid drill`. A peer opens a
 * stream to it, sends bytes and ends its half; the service counts and hashes what arrives, notes
 * when it arrived, and answers with what it received, so the drill can prove byte-exact delivery
 * end to end and see the application-visible stall from the receiving side.
 *
 * Wire format (one stream, newline-terminated JSON lines from the service, raw bytes from the
 * peer; docs/daemon.md §Config file, "The drill service"):
 *
 * 1. on accept the service writes a greeting: `{"service":"braid.drill","version":1,"maxBytes":N,"bucketMs":10}`;
 * 2. the peer sends at most `maxBytes` bytes and ends its half;
 * 3. the service answers one line and ends its half: `{"version":1,"ok":true,"bytes","sha256",
 *    "durationMs","bucketMs","stallMs","stallFromMs","gaps":[{"fromMs","ms"}],
 *    "timeline":{"intervalMs","bytes":[…]}}` — times in ms from the first byte received — or
 *    `{"version":1,"ok":false,"code":"ERR_BRAID_DRILL_…","message"}` (too large, idle, busy).
 *
 * Only peers the daemon lets open a session reach it, as with every service. Every resource is
 * bounded: {@link DRILL_STREAMS_MAX} drills at once, `maxBytes` per drill, an idle timeout, and
 * the reply's gaps and timeline have fixed maximum lengths.
 */
import { createHash, type Hash } from 'node:crypto';
import type { BraidClient, BraidStream, ServiceListener } from '@braid/endpoint';
import type { Logger } from 'pino';

/** The service name the daemon registers. Apps cannot register it while the service is on. */
export const DRILL_SERVICE = 'braid.drill';
/** Version of the wire format above. */
export const DRILL_PROTOCOL_VERSION = 1;
/** Bytes one drill may send by default (4 GiB: only counted and hashed, never stored). */
export const DRILL_MAX_BYTES_DEFAULT = 4 * 1024 * 1024 * 1024;
/** Drills served at once; one more is answered `ERR_BRAID_DRILL_BUSY`. */
export const DRILL_STREAMS_MAX = 4;
/** A drill that sends nothing for this long is answered `ERR_BRAID_DRILL_IDLE` and dropped. */
export const DRILL_IDLE_TIMEOUT_MS = 30_000;
/** Width of the buckets the stall is measured in (the unit). */
export const DRILL_STALL_BUCKET_MS = 10;
/** Longest gaps reported, longest first. */
export const DRILL_GAPS_MAX = 16;
/** First width of a timeline bucket; doubled (pairs merged) whenever the timeline is full. */
export const DRILL_TIMELINE_INTERVAL_MS = 100;
/** Most timeline buckets in a reply. */
export const DRILL_TIMELINE_BUCKETS_MAX = 4096;
/** After an error reply, the stream is dropped this long later (the line gets out first). */
const ERROR_LINGER_MS = 2_000;

export type DrillErrorCode =
  'ERR_BRAID_DRILL_TOO_LARGE' | 'ERR_BRAID_DRILL_IDLE' | 'ERR_BRAID_DRILL_BUSY';

export interface DrillGreeting {
  service: typeof DRILL_SERVICE;
  version: number;
  maxBytes: number;
  bucketMs: number;
}

/** A gap in delivery: no byte arrived from `fromMs` for `ms` (multiples of the bucket). */
export interface DrillGap {
  fromMs: number;
  ms: number;
}

export interface DrillResult {
  version: number;
  ok: true;
  bytes: number;
  sha256: string;
  /** First byte to last byte. */
  durationMs: number;
  bucketMs: number;
  /** The longest gap, and where it began (null: none). */
  stallMs: number;
  stallFromMs: number | null;
  gaps: DrillGap[];
  /** Bytes received per `intervalMs`, from the first byte. */
  timeline: { intervalMs: number; bytes: number[] };
}

export interface DrillFailure {
  version: number;
  ok: false;
  code: DrillErrorCode;
  message: string;
}

export interface DrillServiceOptions {
  logger: Logger;
  /** Bytes one drill may send. Default {@link DRILL_MAX_BYTES_DEFAULT}. */
  maxBytes?: number;
  /** Default {@link DRILL_IDLE_TIMEOUT_MS}. */
  idleTimeoutMs?: number;
  /** Monotonic clock in ms. Default `performance.now`. */
  now?: () => number;
}

/**
 * What arrived on one drill stream: bytes, hash, the longest gaps in {@link DRILL_STALL_BUCKET_MS}
 * buckets and a bounded timeline. Pure bookkeeping over (time, bytes); exported for tests.
 */
export class DrillReceipt {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');
  private firstMs: number | undefined;
  private lastMs = 0;
  private lastBucket = -1;
  private readonly gaps: DrillGap[] = [];
  private intervalMs = DRILL_TIMELINE_INTERVAL_MS;
  private readonly timeline: number[] = [];

  record(atMs: number, chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.firstMs ??= atMs;
    const t = Math.max(0, atMs - this.firstMs);
    this.lastMs = Math.max(this.lastMs, t);
    this.bytes += chunk.length;
    this.hash.update(chunk);
    const bucket = Math.floor(t / DRILL_STALL_BUCKET_MS);
    if (bucket > this.lastBucket + 1)
      this.noteGap(
        (this.lastBucket + 1) * DRILL_STALL_BUCKET_MS,
        (bucket - this.lastBucket - 1) * DRILL_STALL_BUCKET_MS,
      );
    if (bucket > this.lastBucket) this.lastBucket = bucket;
    let slot = Math.floor(t / this.intervalMs);
    while (slot >= DRILL_TIMELINE_BUCKETS_MAX) {
      this.coarsen();
      slot = Math.floor(t / this.intervalMs);
    }
    while (this.timeline.length <= slot) this.timeline.push(0);
    this.timeline[slot]! += chunk.length;
  }

  /** Keeps the {@link DRILL_GAPS_MAX} longest, longest first (earliest first among equals). */
  private noteGap(fromMs: number, ms: number): void {
    if (this.gaps.length === DRILL_GAPS_MAX && ms <= this.gaps[DRILL_GAPS_MAX - 1]!.ms) return;
    let i = this.gaps.length;
    while (i > 0 && this.gaps[i - 1]!.ms < ms) i--;
    this.gaps.splice(i, 0, { fromMs, ms });
    if (this.gaps.length > DRILL_GAPS_MAX) this.gaps.pop();
  }

  /** Merges pairs of timeline buckets: twice as wide, half as many. */
  private coarsen(): void {
    const merged: number[] = [];
    for (let i = 0; i < this.timeline.length; i += 2)
      merged.push(this.timeline[i]! + (this.timeline[i + 1] ?? 0));
    this.timeline.length = 0;
    this.timeline.push(...merged);
    this.intervalMs *= 2;
  }

  result(): DrillResult {
    const longest = this.gaps[0];
    return {
      version: DRILL_PROTOCOL_VERSION,
      ok: true,
      bytes: this.bytes,
      sha256: this.hash.digest('hex'),
      durationMs: Math.round(this.lastMs * 1000) / 1000,
      bucketMs: DRILL_STALL_BUCKET_MS,
      stallMs: longest?.ms ?? 0,
      stallFromMs: longest?.fromMs ?? null,
      gaps: [...this.gaps],
      timeline: { intervalMs: this.intervalMs, bytes: [...this.timeline] },
    };
  }
}

/** The running service: {@link startDrillService} registers it, `close` unregisters it. */
export class DrillService {
  private readonly active = new Set<BraidStream>();
  private readonly maxBytes: number;
  private readonly idleTimeoutMs: number;
  private readonly now: () => number;
  private served = 0;

  /** @internal Use {@link startDrillService}. */
  constructor(
    private readonly listener: ServiceListener,
    private readonly options: DrillServiceOptions,
  ) {
    this.maxBytes = options.maxBytes ?? DRILL_MAX_BYTES_DEFAULT;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DRILL_IDLE_TIMEOUT_MS;
    this.now = options.now ?? (() => performance.now());
    listener.on('stream', (stream) => this.serve(stream));
  }

  /** Drills being served now, and served since start. */
  stats(): { active: number; served: number } {
    return { active: this.active.size, served: this.served };
  }

  /** Unregisters the service and drops the drills under way. */
  async close(): Promise<void> {
    await this.listener.close();
    for (const stream of this.active) stream.destroy();
    this.active.clear();
  }

  private serve(stream: BraidStream): void {
    const log = this.options.logger.child({
      session: stream.session.id,
      peer: stream.session.peer,
      stream: stream.streamId,
    });
    stream.on('error', (err) => log.debug({ err: err.message }, 'drill stream error'));
    if (this.active.size >= DRILL_STREAMS_MAX) {
      this.fail(
        stream,
        'ERR_BRAID_DRILL_BUSY',
        `${DRILL_STREAMS_MAX} drills are running already; try again later`,
      );
      log.warn('drill refused: busy');
      return;
    }
    this.active.add(stream);
    stream.once('close', () => this.active.delete(stream));
    const greeting: DrillGreeting = {
      service: DRILL_SERVICE,
      version: DRILL_PROTOCOL_VERSION,
      maxBytes: this.maxBytes,
      bucketMs: DRILL_STALL_BUCKET_MS,
    };
    stream.write(`${JSON.stringify(greeting)}\n`);
    const receipt = new DrillReceipt();
    let done = false;
    const idle = setTimeout(() => {
      if (done) return;
      done = true;
      log.warn({ bytes: receipt.bytes }, 'drill dropped: idle');
      this.fail(stream, 'ERR_BRAID_DRILL_IDLE', `nothing arrived for ${this.idleTimeoutMs} ms`);
    }, this.idleTimeoutMs);
    idle.unref();
    stream.on('data', (chunk: Buffer) => {
      if (done) return; // after an error reply: discarded until the stream is dropped
      idle.refresh();
      if (receipt.bytes + chunk.length > this.maxBytes) {
        done = true;
        clearTimeout(idle);
        log.warn({ bytes: receipt.bytes + chunk.length }, 'drill dropped: too large');
        this.fail(
          stream,
          'ERR_BRAID_DRILL_TOO_LARGE',
          `more than ${this.maxBytes} bytes (this daemon's drill.maxBytes)`,
        );
        return;
      }
      receipt.record(this.now(), chunk);
    });
    stream.on('end', () => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      const result = receipt.result();
      this.served++;
      log.info(
        { bytes: result.bytes, stallMs: result.stallMs, durationMs: result.durationMs },
        'drill served',
      );
      stream.end(`${JSON.stringify(result)}\n`);
    });
    stream.once('close', () => {
      done = true;
      clearTimeout(idle);
    });
  }

  /** Answers an error line, ends our half, and drops the stream a moment later. */
  private fail(stream: BraidStream, code: DrillErrorCode, message: string): void {
    const failure: DrillFailure = { version: DRILL_PROTOCOL_VERSION, ok: false, code, message };
    stream.end(`${JSON.stringify(failure)}\n`);
    stream.resume();
    setTimeout(() => stream.destroy(), ERROR_LINGER_MS).unref();
  }
}

/** Registers {@link DRILL_SERVICE} on `endpoint` and serves it until `close`. */
export async function startDrillService(
  endpoint: Pick<BraidClient, 'listen'>,
  options: DrillServiceOptions,
): Promise<DrillService> {
  const listener = await endpoint.listen(DRILL_SERVICE);
  return new DrillService(listener, options);
}
