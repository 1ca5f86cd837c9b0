/**
 * The client side of the drill service's wire format (braidd's `drill-service.ts`;
 * docs/daemon.md, "The drill service"): reading the service's JSON lines off a stream, bounded,
 * and checking each is what the format says before anything uses it (it comes from the network).
 */
import type { Readable } from 'node:stream';
import type { DrillGreeting as DaemonDrillGreeting, DrillResult } from '@braid/daemon';
import { DRILL_PROTOCOL_VERSION, DRILL_SERVICE } from '@braid/daemon';
import { DrillProtocolError, DrillRefusedError } from './drill-errors.js';

// The wire format's types and constants are braidd's: one definition for both ends.
export { DRILL_PROTOCOL_VERSION, DRILL_SERVICE, type DrillGap } from '@braid/daemon';
/** Longest line accepted from the service (a reply's timeline is at most 4096 numbers). */
export const DRILL_LINE_BYTES_MAX = 512 * 1024;

/** The service's greeting, as checked here (its `service` field is not kept). */
export type DrillGreeting = Omit<DaemonDrillGreeting, 'service'>;

/** The service's answer to a completed drill, as checked here. */
export type DrillReceipt = Omit<DrillResult, 'version' | 'ok'>;

/**
 * Splits what the service sends into lines, at most {@link DRILL_LINE_BYTES_MAX} bytes each;
 * `next` waits (bounded by `timeoutMs`) for the next one. Anything after the last line the
 * format allows is a protocol error.
 */
export class LineReader {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;
  private failure: Error | undefined;

  constructor(source: Readable) {
    source.on('data', (chunk: Buffer) => this.push(chunk));
    source.on('end', () => this.finish());
    source.on('error', (err: Error) => this.finish(err));
    source.on('close', () => this.finish());
  }

  private push(chunk: Buffer): void {
    let start = 0;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, start)) {
      this.buffered.push(chunk.subarray(start, i));
      this.lines.push(Buffer.concat(this.buffered).toString('utf8'));
      this.buffered = [];
      this.bufferedBytes = 0;
      start = i + 1;
    }
    if (start < chunk.length) {
      this.buffered.push(chunk.subarray(start));
      this.bufferedBytes += chunk.length - start;
      if (this.bufferedBytes > DRILL_LINE_BYTES_MAX)
        this.finish(
          new DrillProtocolError(
            `the drill service sent a line longer than ${DRILL_LINE_BYTES_MAX} bytes`,
          ),
        );
    }
    this.wake();
  }

  private finish(error?: Error): void {
    if (error && !this.failure) this.failure = error;
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The next line; rejects when the stream ends first, fails, or `timeoutMs` passes. */
  async next(what: string, timeoutMs: number, signal?: AbortSignal): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      const line = this.lines.shift();
      if (line !== undefined) return line;
      if (this.failure)
        throw this.failure instanceof DrillProtocolError
          ? this.failure
          : new DrillProtocolError(
              `the drill stream failed before ${what}: ${this.failure.message}`,
              {
                cause: this.failure,
              },
            );
      if (this.ended)
        throw new DrillProtocolError(`the drill service closed the stream before ${what}`);
      const left = deadline - performance.now();
      if (left <= 0)
        throw new DrillProtocolError(`no ${what} from the drill service within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        const onAbort = () => resolve();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiter = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
      });
    }
  }
}

function parseLine(line: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new DrillProtocolError(`the drill service's ${what} is not JSON: ${line.slice(0, 80)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new DrillProtocolError(`the drill service's ${what} is not a JSON object`);
  const record = value as Record<string, unknown>;
  if (record.ok === false) {
    const code = typeof record.code === 'string' ? record.code : undefined;
    const message = typeof record.message === 'string' ? record.message : 'no reason given';
    const error = new DrillRefusedError(
      `the peer's drill service refused the drill: ${message}${code ? ` (${code})` : ''}`,
    );
    error.peerCode = code;
    throw error;
  }
  return record;
}

function count(record: Record<string, unknown>, key: string, what: string): number {
  const v = record[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new DrillProtocolError(`the drill service's ${what} has no valid "${key}"`);
  return v;
}

/** The service's first line. */
export function parseGreeting(line: string): DrillGreeting {
  const r = parseLine(line, 'greeting');
  if (r.service !== DRILL_SERVICE)
    throw new DrillProtocolError(
      `the service answered as ${JSON.stringify(r.service)}, not ${DRILL_SERVICE}`,
    );
  const version = count(r, 'version', 'greeting');
  if (version !== DRILL_PROTOCOL_VERSION)
    throw new DrillProtocolError(
      `the peer's drill service speaks version ${version}; this braid speaks ${DRILL_PROTOCOL_VERSION}`,
    );
  return {
    version,
    maxBytes: count(r, 'maxBytes', 'greeting'),
    bucketMs: count(r, 'bucketMs', 'greeting'),
  };
}

/** The service's answer once our half ended: what it received. */
export function parseReceipt(line: string): DrillReceipt {
  const r = parseLine(line, 'reply');
  if (r.ok !== true) throw new DrillProtocolError('the drill service\'s reply has no "ok"');
  const sha256 = r.sha256;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))
    throw new DrillProtocolError('the drill service\'s reply has no valid "sha256"');
  const gaps = r.gaps;
  if (!Array.isArray(gaps))
    throw new DrillProtocolError('the drill service\'s reply has no "gaps"');
  const timeline = r.timeline as Record<string, unknown> | null;
  if (typeof timeline !== 'object' || timeline === null || !Array.isArray(timeline.bytes))
    throw new DrillProtocolError('the drill service\'s reply has no "timeline"');
  const stallFromMs = r.stallFromMs === null ? null : count(r, 'stallFromMs', 'reply');
  return {
    bytes: count(r, 'bytes', 'reply'),
    sha256,
    durationMs: count(r, 'durationMs', 'reply'),
    bucketMs: count(r, 'bucketMs', 'reply'),
    stallMs: count(r, 'stallMs', 'reply'),
    stallFromMs,
    gaps: gaps.map((g) => {
      if (typeof g !== 'object' || g === null)
        throw new DrillProtocolError("the drill service's reply has a malformed gap");
      const gap = g as Record<string, unknown>;
      return { fromMs: count(gap, 'fromMs', 'gap'), ms: count(gap, 'ms', 'gap') };
    }),
    timeline: {
      intervalMs: count(timeline, 'intervalMs', 'timeline'),
      bytes: (timeline.bytes as unknown[]).map((b, i) => count({ b }, 'b', `timeline[${i}]`)),
    },
  };
}
