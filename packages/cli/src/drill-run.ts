/**
 * The failover drill: a measured transfer to the peer's drill service (`braid.drill`), a fault
 * induced on one path on the local side halfway, the path restored, and the figures an operator
 * asks for — detection, stall, bytes re-sent and lost, recovery — with a per-path timeline.
 *
 * The clock of every figure is this process's monotonic clock, with 0 at the first byte sent.
 * Order of a drill: session → at least two usable paths → stream and greeting → transfer (paced
 * or bulk) with a sampler of the paths every {@link SAMPLE_INTERVAL_MS} → fault at `faultAtMs` →
 * restore `faultForMs` later → recovery watch → the peer's receipt → figures. Whatever happens,
 * a path this drill took down is let up again before it returns.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnknownPathError, type PathStats, type SessionStats } from '@braid/protocol';
import type { BraidClient, BraidSession, BraidStream } from './client-api.js';
import type { DrillFault, DrillPlan } from './drill-args.js';
import { formatDuration } from './format.js';
import { settlePaths } from './settle.js';
import {
  DrillNoAlternatePathError,
  DrillPathUnusableError,
  DrillProtocolError,
  DrillRefusedError,
  DrillSinglePathError,
  DrillUnavailableError,
} from './drill-errors.js';
import {
  DRILL_SERVICE,
  LineReader,
  parseGreeting,
  parseReceipt,
  type DrillGap,
  type DrillReceipt,
} from './drill-wire.js';

/** Version of the JSON document (`--json`) and of the data embedded in the HTML report. */
export const DRILL_REPORT_VERSION = 1;
/** How often the paths are sampled for the timeline (doubled when the timeline is thinned). */
export const SAMPLE_INTERVAL_MS = 100;
/** Most samples kept; beyond, every other one is dropped and the interval doubles. */
export const SAMPLES_MAX = 4000;
/** How often the restored path is polled for traffic. */
const RECOVERY_POLL_MS = 20;
/** How long after the restore the path gets to carry traffic again before it is "not recovered". */
export const RECOVERY_WAIT_MS = 15_000;
/** How long to wait for the session's paths to be validated. */
export const PATHS_WAIT_MS = 10_000;
/** Polls (50 ms apart) without a new path or a validating one before the paths count as settled. */
const PATHS_SETTLE_QUIET_POLLS = 6;
/** The greeting, and the receipt once our half ended (all bytes must reach the peer first). */
const GREETING_TIMEOUT_MS = 10_000;
const RECEIPT_TIMEOUT_MS = 120_000;
/** Largest write; a paced drill writes about 5 ms worth at a time, no less than 1 KiB. */
const CHUNK_BYTES_MAX = 64 * 1024;
const CHUNK_BYTES_MIN = 1024;
/** Most path events, and most failovers, kept (later ones are counted in `eventsDropped`). */
export const EVENTS_MAX = 1000;
/** A gap in delivery counts towards `faultStallMs` when it begins up to this long after the restore. */
const FAULT_STALL_AFTER_RESTORE_MS = 1000;

export type DrillPhase = 'before' | 'fault' | 'restored' | 'draining' | 'done';

/** What the progress display is told, as the drill goes. */
export interface DrillObserver {
  line(text: string): void;
  event(atMs: number, text: string): void;
  progress(p: DrillProgress): void;
}

export interface DrillProgress {
  atMs: number;
  phase: DrillPhase;
  bytesSent: number;
  /** Planned total (bytes mode) or undefined (seconds mode: see `durationMs`). */
  bytesTotal: number | undefined;
  durationMs: number | undefined;
  sendRateBytesPerSecond: number | undefined;
  paths: { id: number; status: string; txBytesPerSecond: number | undefined; faulted: boolean }[];
}

export interface DrillFailover {
  atMs: number;
  from: number;
  to: number;
  reason: string;
  /** The protocol's own figure: time since the path's last acknowledgement. */
  protocolDetectMs: number;
}

export interface DrillEvent {
  atMs: number;
  pathId: number;
  change: string;
  reason: string;
}

export interface DrillTimelinePoint {
  atMs: number;
  status: string;
  txBytesPerSecond: number;
  rxBytesPerSecond: number;
  streamBytesPerSecond: number;
}

export interface DrillPathReport {
  id: number;
  local: string;
  remote: string;
  faulted: boolean;
  status: string;
  /** Counters over the drill (deltas from its start). */
  streamBytesSent: number;
  bytesSent: number;
  bytesReceived: number;
  reinjectedBytes: number;
  timeline: DrillTimelinePoint[];
}

export interface DrillReport {
  version: number;
  peer: string;
  session: string;
  startedAt: string;
  fault: {
    mode: DrillFault;
    /** The path chosen (or given with --path). */
    pathId: number | null;
    /** Every path the fault took down (`down`: all paths from that local address). */
    pathIds: number[];
    local: string | null;
    remote: string | null;
    atMs: number | null;
    forMs: number;
    restoredAtMs: number | null;
    induced: boolean;
    /** Down/up cycles (one for blackhole and down). */
    cycles: { downAtMs: number; upAtMs: number | null }[];
    /** What was really done, in words. */
    description: string;
  };
  transfer: {
    mode: 'bytes' | 'seconds';
    rateBytesPerSecond: number;
    bytesSent: number;
    bytesReceived: number;
    durationMs: number;
    sha256Sent: string;
    sha256Received: string;
    peerMaxBytes: number;
    /** The transfer stopped at the peer's `drill.maxBytes` before its time was up. */
    limitedByPeer: boolean;
  };
  /** Fault → the first failover off a faulted path (null: none came). */
  detectMs: number | null;
  /** Longest gap in delivery at the peer (10 ms buckets), and when it began. */
  stallMs: number;
  stallAtMs: number | null;
  /** Longest gap beginning between the fault and 1 s after the restore. */
  faultStallMs: number | null;
  /** Stream bytes re-sent during the drill (session `retransmittedBytes` delta). */
  resentBytes: number;
  /** In-flight stream bytes moved off the faulted paths when they went down (their `reinjectedBytes` deltas). */
  reinjectedBytes: number;
  /** Sent − received as the peer counted it. Must be 0. */
  lostBytes: number;
  /** Restore → the restored path(s) usable and carrying traffic both ways (null: not within 15 s). */
  recoveredMs: number | null;
  /** Restore → the restored path carrying stream data again (null: not while the transfer ran). */
  recoveredDataMs: number | null;
  /** Same byte count and SHA-256 at the peer as sent. */
  verified: boolean;
  failovers: DrillFailover[];
  events: DrillEvent[];
  eventsDropped: number;
  sampleIntervalMs: number;
  paths: DrillPathReport[];
  /** The peer's receive timeline, aligned on our clock (its first byte ≈ ours + RTT/2). */
  receiver: { offsetMs: number; intervalMs: number; bytes: number[]; gaps: DrillGap[] };
}

interface Sample {
  atMs: number;
  paths: PathStats[];
}

const USABLE = new Set(['active', 'standby']);

function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/**
 * Opens (or reuses) the session to `peer` and waits, bounded by {@link PATHS_WAIT_MS}, until its
 * paths settle; refuses a session with fewer than two usable paths.
 */
export async function openDrillSession(
  client: BraidClient,
  peer: string,
  signal: AbortSignal | undefined,
): Promise<{ session: BraidSession; paths: PathStats[] }> {
  const session = await client.openSession(peer, { signal });
  const usableCount = (paths: readonly PathStats[]) =>
    paths.filter((p) => USABLE.has(p.status)).length;
  const paths = await settlePaths(session, {
    signal,
    maxWaitMs: PATHS_WAIT_MS,
    quietPolls: PATHS_SETTLE_QUIET_POLLS,
    enough: (ps) => usableCount(ps) >= 2,
  });
  const usable = usableCount(paths);
  if (usable >= 2) return { session, paths };
  const list = paths.map((p) => `path ${p.id} ${p.local} → ${p.remote} ${p.status}`).join('; ');
  throw new DrillSinglePathError(
    `session ${session.id} to ${peer} has ${usable} usable path${usable === 1 ? '' : 's'} (${
      list || 'none'
    }); a failover drill needs at least two: with one, the fault suspends the session instead of failing over. Give the hosts a second path — another local address in braidd's "bind", or another locator for the peer (\`braid peers add\`) — and check \`braid paths\``,
  );
}

/** Runs one drill on an open session; see the module comment. */
export async function runDrill(
  session: BraidSession,
  plan: DrillPlan,
  observer: DrillObserver,
  signal: AbortSignal | undefined,
): Promise<DrillReport> {
  const startedAt = new Date().toISOString();
  const initialPaths = await session.paths({ signal });
  const target = plan.pathId === undefined ? undefined : checkTarget(initialPaths, plan.pathId);
  if (target && plan.fault === 'down') downGroup(initialPaths, target);

  // The stream and the greeting: the peer's service is there and says how much it accepts.
  let stream: BraidStream;
  try {
    stream = await session.openStream(DRILL_SERVICE, { signal });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_BRAID_SERVICE_UNKNOWN' || code === 'ERR_BRAID_SERVICE_REFUSED')
      throw new DrillUnavailableError(
        `the peer ${session.peer} does not offer the drill service "${DRILL_SERVICE}" (${String(code)}): its braidd has it switched off ("drill": { "enabled": false }) or predates it`,
        { cause: error },
      );
    throw error;
  }
  const lines = new LineReader(stream);
  stream.on('error', () => undefined); // surfaced through the line reader and the writes
  try {
    const greeting = parseGreeting(await lines.next('its greeting', GREETING_TIMEOUT_MS, signal));
    if (plan.bytes !== undefined && plan.bytes > greeting.maxBytes)
      throw new DrillRefusedError(
        `the peer accepts at most ${greeting.maxBytes} bytes per drill (its drill.maxBytes); --bytes ${plan.bytes} is more`,
      );
    return await new Drill(session, stream, lines, plan, greeting.maxBytes, observer, signal).run(
      startedAt,
      initialPaths,
    );
  } finally {
    stream.destroy();
  }
}

function checkTarget(paths: readonly PathStats[], pathId: number): PathStats {
  const p = paths.find((q) => q.id === pathId);
  if (!p)
    throw new UnknownPathError(
      `the session has no path ${pathId}; its paths are ${paths.map((q) => q.id).join(', ') || '(none)'} (see \`braid paths\`)`,
    );
  if (!USABLE.has(p.status))
    throw new DrillPathUnusableError(
      `path ${pathId} (${p.local} → ${p.remote}) is ${p.status}${p.reason ? ` (${p.reason})` : ''}: drill a path that carries traffic now`,
    );
  return p;
}

/** `down`: every path leaving from the target's local address; refused if nothing else is left. */
function downGroup(paths: readonly PathStats[], target: PathStats): PathStats[] {
  const group = paths.filter((p) => p.local === target.local);
  // Structural: another local address with a path that is not down (a suspect one may answer).
  if (!paths.some((p) => p.local !== target.local && p.status !== 'down'))
    throw new DrillNoAlternatePathError(
      `every path that is not down leaves from ${target.local} (${paths
        .map((p) => `path ${p.id} ${p.local} → ${p.remote} ${p.status}`)
        .join(
          '; ',
        )}): taking that address down would leave no path to fail over to; use --fault blackhole to fault one path`,
    );
  return group;
}

class Drill {
  /** 0 of every time in the report: set when the transfer starts. */
  private t0 = performance.now();
  private readonly samples: Sample[] = [];
  private sampleIntervalMs = SAMPLE_INTERVAL_MS;
  private readonly failovers: DrillFailover[] = [];
  private readonly events: DrillEvent[] = [];
  private eventsDropped = 0;
  private phase: DrillPhase = 'before';
  private bytesSent = 0;
  private readonly hash = createHash('sha256');
  private sendDone = false;
  private limitedByPeer = false;
  private faulted: PathStats[] = [];
  private readonly cycles: { downAtMs: number; upAtMs: number | null }[] = [];
  private faultAtMs: number | undefined;
  private restoredAtMs: number | undefined;
  private recoveredMs: number | null = null;
  private recoveredDataMs: number | null = null;
  /** Paths currently down by our hand: let up in `finally` whatever happened. */
  private readonly downNow = new Set<number>();
  /** When the first byte was written (the peer's timeline starts about RTT/2 later). */
  private firstWriteMs: number | undefined;
  private lastProgress: { atMs: number; bytesSent: number } | undefined;
  /** Aborted when `run` leaves, so the fault schedule and the sampler stop with it. */
  private readonly stopped = new AbortController();
  private readonly signal: AbortSignal;

  constructor(
    private readonly session: BraidSession,
    private readonly stream: BraidStream,
    private readonly lines: LineReader,
    private readonly plan: DrillPlan,
    private readonly peerMaxBytes: number,
    private readonly observer: DrillObserver,
    outerSignal: AbortSignal | undefined,
  ) {
    this.signal = outerSignal
      ? AbortSignal.any([outerSignal, this.stopped.signal])
      : this.stopped.signal;
  }

  private now(): number {
    return performance.now() - this.t0;
  }

  async run(startedAt: string, initialPaths: PathStats[]): Promise<DrillReport> {
    const onFailover = (e: { from: number; to: number; reason: string; detectMs: number }) => {
      const atMs = this.now();
      // The first ones matter (the one off the faulted path): later ones are only counted.
      if (this.failovers.length >= EVENTS_MAX) {
        this.eventsDropped++;
        return;
      }
      this.failovers.push({
        atMs,
        from: e.from,
        to: e.to,
        reason: e.reason,
        protocolDetectMs: e.detectMs,
      });
      this.observer.event(atMs, `FAILOVER path ${e.from} → path ${e.to}: ${e.reason}`);
    };
    const onPath = (e: { pathId: number; change: string; reason: string }) => {
      const atMs = this.now();
      if (this.events.length >= EVENTS_MAX) {
        this.eventsDropped++;
        return;
      }
      this.events.push({ atMs, pathId: e.pathId, change: e.change, reason: e.reason });
      if (e.change === 'down' || e.change === 'recovered' || e.change === 'up')
        this.observer.event(
          atMs,
          `path ${e.pathId} ${e.change}${e.reason ? ` (${e.reason})` : ''}`,
        );
    };
    this.session.on('failover', onFailover);
    this.session.on('path', onPath);
    let sampling: Promise<void> = Promise.resolve();
    let faulting: Promise<void> = Promise.resolve();
    try {
      const statsBefore = await this.session.stats({ signal: this.signal });
      this.t0 = performance.now();
      this.samples.push({ atMs: 0, paths: initialPaths });
      const sending = this.send();
      // Each is awaited below; the handlers only keep an early failure from being "unhandled".
      sending.catch(() => undefined);
      sampling = this.sampleUntilDone();
      faulting = this.induceFault(sending);
      faulting.catch(() => undefined);
      await sending;
      const receipt = parseReceipt(
        await this.lines.next('its receipt', RECEIPT_TIMEOUT_MS, this.signal),
      );
      const transferMs = this.now();
      await faulting;
      this.phase = 'done';
      const statsAfter = await this.session.stats({ signal: this.signal });
      const finalPaths = await this.session.paths({ signal: this.signal });
      this.samples.push({ atMs: this.now(), paths: finalPaths });
      return this.report(startedAt, receipt, transferMs, statsBefore, statsAfter);
    } finally {
      this.phase = 'done';
      this.stopped.abort();
      await Promise.allSettled([sampling, faulting]);
      this.session.off('failover', onFailover);
      this.session.off('path', onPath);
      await this.restoreAll();
    }
  }

  /** Writes random bytes (hashed as they go), paced or bulk, until the plan's size or time. */
  private async send(): Promise<void> {
    const { bytes, durationMs, rateBytesPerSecond: rate } = this.plan;
    const limit = Math.min(bytes ?? Number.MAX_SAFE_INTEGER, this.peerMaxBytes);
    const chunkBytes =
      rate > 0
        ? Math.max(CHUNK_BYTES_MIN, Math.min(CHUNK_BYTES_MAX, Math.floor(rate / 200)))
        : CHUNK_BYTES_MAX;
    const failed = new Promise<never>((_, reject) => {
      this.stream.once('error', reject);
      this.stream.once('close', () =>
        reject(new DrillProtocolError('the drill stream closed while sending')),
      );
    });
    failed.catch(() => undefined);
    try {
      while (this.bytesSent < limit) {
        this.signal?.throwIfAborted();
        const at = this.now();
        if (durationMs !== undefined && at >= durationMs) break;
        if (rate > 0) {
          const waitMs = (this.bytesSent * 1000) / rate - at;
          if (waitMs >= 1) await sleep(waitMs, undefined, { signal: this.signal });
        }
        const chunk = Buffer.allocUnsafe(Math.min(chunkBytes, limit - this.bytesSent));
        randomFillSync(chunk);
        this.firstWriteMs ??= this.now();
        this.hash.update(chunk);
        this.bytesSent += chunk.length;
        if (!this.stream.write(chunk))
          await Promise.race([new Promise((r) => this.stream.once('drain', r)), failed]);
      }
      if (bytes === undefined && this.bytesSent >= limit) this.limitedByPeer = true;
      await Promise.race([
        new Promise<void>((resolve, reject) =>
          this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
        ),
        failed,
      ]);
    } finally {
      this.sendDone = true;
    }
  }

  /** Samples the paths until the drill is done, for the timeline and the progress display. */
  private async sampleUntilDone(): Promise<void> {
    let last = this.now();
    while (this.phase !== 'done') {
      try {
        await sleep(Math.max(0, last + this.sampleIntervalMs - this.now()), undefined, {
          signal: this.signal,
        });
        last = this.now();
        const paths = await this.session.paths({ signal: this.signal });
        if ((this.phase as DrillPhase) === 'done') return;
        this.addSample({ atMs: last, paths });
      } catch {
        return; // stopped, or the session or daemon went away: the drill itself reports that
      }
      this.showProgress();
    }
  }

  private addSample(sample: Sample): void {
    this.samples.push(sample);
    if (this.samples.length < SAMPLES_MAX) return;
    // Thinned: every other sample goes (the first and the last stay), the interval doubles.
    const kept = this.samples.filter((_, i) => i % 2 === 0 || i === this.samples.length - 1);
    this.samples.length = 0;
    this.samples.push(...kept);
    this.sampleIntervalMs *= 2;
  }

  private showProgress(): void {
    const n = this.samples.length;
    const cur = this.samples[n - 1]!;
    const prev = n >= 2 ? this.samples[n - 2] : undefined;
    const dt = prev ? (cur.atMs - prev.atMs) / 1000 : 0;
    const faultedIds = new Set(this.faulted.map((p) => p.id));
    const lp = this.lastProgress;
    this.lastProgress = { atMs: cur.atMs, bytesSent: this.bytesSent };
    this.observer.progress({
      atMs: cur.atMs,
      phase: this.sendDone && this.phase !== 'fault' ? 'draining' : this.phase,
      bytesSent: this.bytesSent,
      bytesTotal: this.plan.bytes,
      durationMs: this.plan.durationMs,
      sendRateBytesPerSecond:
        lp && cur.atMs > lp.atMs
          ? ((this.bytesSent - lp.bytesSent) * 1000) / (cur.atMs - lp.atMs)
          : undefined,
      paths: cur.paths.map((p) => {
        const before = prev?.paths.find((q) => q.id === p.id);
        return {
          id: p.id,
          status: p.status,
          txBytesPerSecond:
            before && dt > 0 ? Math.max(0, p.bytesSent - before.bytesSent) / dt : undefined,
          faulted: faultedIds.has(p.id),
        };
      }),
    });
  }

  /** Waits for the fault time, takes the path(s) down (in cycles for `flap`), restores them. */
  private async induceFault(sending: Promise<void>): Promise<void> {
    const sent = sending.then(
      () => false,
      () => false,
    );
    const until = (atMs: number) =>
      sleep(Math.max(0, atMs - this.now()), true, { signal: this.signal });
    // The transfer ending before the fault means nothing to drill; once the fault began, its
    // schedule holds whether the transfer still runs or not.
    if (!(await Promise.race([until(this.plan.faultAtMs), sent]))) {
      this.observer.line('the transfer ended before the fault time: no fault induced');
      return;
    }
    const paths = await this.session.paths({ signal: this.signal });
    const target =
      this.plan.pathId !== undefined ? checkTarget(paths, this.plan.pathId) : this.busiest(paths);
    if (!target) {
      this.observer.line('no usable path to fault at the fault time: no fault induced');
      return;
    }
    this.faulted = this.plan.fault === 'down' ? downGroup(paths, target) : [target];
    const ids = this.faulted.map((p) => p.id);
    const cycles = this.plan.fault === 'flap' ? this.plan.flaps : 1;
    const cycleMs = this.plan.faultForMs / cycles;
    const downMs = this.plan.fault === 'flap' ? cycleMs / 2 : this.plan.faultForMs;
    const start = this.now();
    this.observer.event(start, `FAULT ${this.describeFault(target)}`);
    for (let c = 0; c < cycles; c++) {
      await until(start + c * cycleMs);
      const downAtMs = this.now();
      this.faultAtMs ??= downAtMs;
      this.phase = 'fault';
      this.cycles.push({ downAtMs, upAtMs: null });
      await this.setDown(ids, true);
      await sleep(Math.max(0, start + c * cycleMs + downMs - this.now()), undefined, {
        signal: this.signal,
      });
      const upAtMs = this.now();
      const last = c === cycles - 1;
      const which = `path${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`;
      // Said before the call, so it prints ahead of the path events the call causes.
      this.observer.event(
        upAtMs,
        last ? `RESTORED ${which}` : `${which} up (flap ${c + 1} of ${cycles})`,
      );
      await this.setDown(ids, false);
      this.cycles[this.cycles.length - 1]!.upAtMs = upAtMs;
      if (last) {
        this.restoredAtMs = upAtMs;
        this.phase = 'restored';
      }
    }
    await this.watchRecovery(ids);
  }

  /** The path carrying the data now: most bytes in flight, then most stream bytes lately. */
  private busiest(paths: readonly PathStats[]): PathStats | undefined {
    const prev = this.samples.length >= 2 ? this.samples[this.samples.length - 2] : undefined;
    const recent = (p: PathStats) =>
      p.streamBytesSent - (prev?.paths.find((q) => q.id === p.id)?.streamBytesSent ?? 0);
    return paths
      .filter((p) => p.status === 'active')
      .sort(
        (a, b) =>
          b.bytesInFlight - a.bytesInFlight ||
          recent(b) - recent(a) ||
          b.streamBytesSent - a.streamBytesSent,
      )[0];
  }

  private describeFault(target: PathStats): string {
    const ids = this.faulted.map((p) => p.id);
    switch (this.plan.fault) {
      case 'blackhole':
        return `blackhole path ${target.id} (${target.local} → ${target.remote}) for ${formatDuration(this.plan.faultForMs)}`;
      case 'down':
        return `down: local address ${target.local} for ${formatDuration(this.plan.faultForMs)} (paths ${ids.join(', ')})`;
      case 'flap':
        return `flap path ${target.id} (${target.local} → ${target.remote}) down/up ${this.plan.flaps} times over ${formatDuration(this.plan.faultForMs)}`;
    }
  }

  private async setDown(ids: readonly number[], down: boolean): Promise<void> {
    for (const id of ids) {
      if (down) this.downNow.add(id);
      await this.session.setPathDown(id, down, { signal: down ? this.signal : undefined });
      if (!down) this.downNow.delete(id);
    }
  }

  /** Lets up every path still down by our hand (an error or Ctrl-C mid-fault). */
  private async restoreAll(): Promise<void> {
    for (const id of [...this.downNow]) {
      await this.session.setPathDown(id, false).catch(() => undefined);
      this.downNow.delete(id);
    }
  }

  /**
   * Polls the restored paths until each is usable with its sent and received bytes grown since
   * the restore (it carries traffic both ways again), and until one carries stream data again
   * while the transfer still runs; bounded by {@link RECOVERY_WAIT_MS}.
   */
  private async watchRecovery(ids: readonly number[]): Promise<void> {
    const restoredAt = this.restoredAtMs!;
    const base = new Map(
      (await this.session.paths({ signal: this.signal }))
        .filter((p) => ids.includes(p.id))
        .map((p) => [p.id, p]),
    );
    while (this.now() - restoredAt < RECOVERY_WAIT_MS) {
      const paths = (await this.session.paths({ signal: this.signal })).filter((p) =>
        ids.includes(p.id),
      );
      const at = this.now();
      const grew = (p: PathStats, key: 'bytesSent' | 'bytesReceived' | 'streamBytesSent') =>
        p[key] > (base.get(p.id)?.[key] ?? Number.POSITIVE_INFINITY);
      if (
        this.recoveredMs === null &&
        paths.length === ids.length &&
        paths.every((p) => USABLE.has(p.status) && grew(p, 'bytesSent') && grew(p, 'bytesReceived'))
      ) {
        this.recoveredMs = round1(at - restoredAt);
        this.observer.event(
          at,
          `RECOVERED: path${ids.length > 1 ? 's' : ''} ${ids.join(', ')} carrying traffic again`,
        );
      }
      if (this.recoveredDataMs === null && paths.some((p) => grew(p, 'streamBytesSent')))
        this.recoveredDataMs = round1(at - restoredAt);
      const dataPossible = !this.sendDone;
      if (this.recoveredMs !== null && (this.recoveredDataMs !== null || !dataPossible)) return;
      await sleep(RECOVERY_POLL_MS, undefined, { signal: this.signal });
    }
  }

  private report(
    startedAt: string,
    receipt: DrillReceipt,
    transferMs: number,
    before: SessionStats,
    after: SessionStats,
  ): DrillReport {
    const sha256Sent = this.hash.digest('hex');
    const faultedIds = this.faulted.map((p) => p.id);
    const target = this.faulted[0];
    const faultAt = this.faultAtMs;
    const firstFailover =
      faultAt === undefined
        ? undefined
        : this.failovers.find((f) => f.atMs >= faultAt && faultedIds.includes(f.from));
    // The peer's clock starts at its first byte: our first write plus about half a round trip.
    const offsetMs = round1(
      (this.firstWriteMs ?? 0) + Math.max(0, after.rttMs || before.rttMs || 0) / 2,
    );
    const stallFrom = receipt.stallFromMs;
    const faultStall =
      faultAt === undefined || this.restoredAtMs === undefined
        ? null
        : receipt.gaps
            .filter((g) => {
              const at = g.fromMs + offsetMs;
              return (
                at + g.ms >= faultAt && at <= this.restoredAtMs! + FAULT_STALL_AFTER_RESTORE_MS
              );
            })
            .reduce((m, g) => Math.max(m, g.ms), 0);
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const ids = [...new Set(this.samples.flatMap((s) => s.paths.map((p) => p.id)))].sort(
      (a, b) => a - b,
    );
    const paths: DrillPathReport[] = ids.map((id) => {
      const end = last.paths.find((p) => p.id === id);
      const startStats = first.paths.find((p) => p.id === id);
      const any = end ?? this.samples.flatMap((s) => s.paths).find((p) => p.id === id)!;
      const delta = (key: 'streamBytesSent' | 'bytesSent' | 'bytesReceived' | 'reinjectedBytes') =>
        end ? end[key] - (startStats?.[key] ?? 0) : 0;
      return {
        id,
        local: any.local,
        remote: any.remote,
        faulted: faultedIds.includes(id),
        status: end?.status ?? 'removed',
        streamBytesSent: delta('streamBytesSent'),
        bytesSent: delta('bytesSent'),
        bytesReceived: delta('bytesReceived'),
        reinjectedBytes: delta('reinjectedBytes'),
        timeline: this.timelineOf(id),
      };
    });
    const faultInduced = faultAt !== undefined;
    return {
      version: DRILL_REPORT_VERSION,
      peer: this.session.peer,
      session: this.session.id,
      startedAt,
      fault: {
        mode: this.plan.fault,
        pathId: target?.id ?? null,
        pathIds: faultedIds,
        local: target?.local ?? null,
        remote: target?.remote ?? null,
        atMs: faultAt === undefined ? null : round1(faultAt),
        forMs: this.plan.faultForMs,
        restoredAtMs: this.restoredAtMs === undefined ? null : round1(this.restoredAtMs),
        induced: faultInduced,
        cycles: this.cycles.map((c) => ({
          downAtMs: round1(c.downAtMs),
          upAtMs: c.upAtMs === null ? null : round1(c.upAtMs),
        })),
        description: describeWhatWasDone(this.plan, target, faultedIds),
      },
      transfer: {
        mode: this.plan.bytes === undefined ? 'seconds' : 'bytes',
        rateBytesPerSecond: this.plan.rateBytesPerSecond,
        bytesSent: this.bytesSent,
        bytesReceived: receipt.bytes,
        durationMs: round1(transferMs),
        sha256Sent,
        sha256Received: receipt.sha256,
        peerMaxBytes: this.peerMaxBytes,
        limitedByPeer: this.limitedByPeer,
      },
      detectMs: firstFailover ? round1(firstFailover.atMs - faultAt!) : null,
      stallMs: receipt.stallMs,
      stallAtMs: stallFrom === null ? null : round1(stallFrom + offsetMs),
      faultStallMs: faultStall,
      resentBytes: Math.max(0, after.retransmittedBytes - before.retransmittedBytes),
      reinjectedBytes: paths
        .filter((p) => p.faulted)
        .reduce((sum, p) => sum + p.reinjectedBytes, 0),
      lostBytes: this.bytesSent - receipt.bytes,
      recoveredMs: this.recoveredMs,
      recoveredDataMs: this.recoveredDataMs,
      verified: receipt.bytes === this.bytesSent && receipt.sha256 === sha256Sent,
      failovers: this.failovers.map((f) => ({ ...f, atMs: round1(f.atMs) })),
      events: this.events.map((e) => ({ ...e, atMs: round1(e.atMs) })),
      eventsDropped: this.eventsDropped,
      sampleIntervalMs: this.sampleIntervalMs,
      paths,
      receiver: {
        offsetMs,
        intervalMs: receipt.timeline.intervalMs,
        bytes: receipt.timeline.bytes,
        gaps: receipt.gaps,
      },
    };
  }

  /** Per-path rates between consecutive samples (the counters are cumulative). */
  private timelineOf(id: number): DrillTimelinePoint[] {
    const out: DrillTimelinePoint[] = [];
    let prev: { atMs: number; p: PathStats } | undefined;
    for (const s of this.samples) {
      const p = s.paths.find((q) => q.id === id);
      if (!p) {
        prev = undefined;
        continue;
      }
      if (prev && s.atMs > prev.atMs) {
        const dt = (s.atMs - prev.atMs) / 1000;
        const rate = (key: 'bytesSent' | 'bytesReceived' | 'streamBytesSent') =>
          Math.round(Math.max(0, p[key] - prev!.p[key]) / dt);
        out.push({
          atMs: round1(s.atMs),
          status: p.status,
          txBytesPerSecond: rate('bytesSent'),
          rxBytesPerSecond: rate('bytesReceived'),
          streamBytesPerSecond: rate('streamBytesSent'),
        });
      } else if (!prev)
        out.push({
          atMs: round1(s.atMs),
          status: p.status,
          txBytesPerSecond: 0,
          rxBytesPerSecond: 0,
          streamBytesPerSecond: 0,
        });
      prev = { atMs: s.atMs, p };
    }
    return out;
  }
}

/** The honest words for what the fault was (the report shows them). */
function describeWhatWasDone(
  plan: DrillPlan,
  target: PathStats | undefined,
  ids: readonly number[],
): string {
  if (!target) return 'no fault was induced';
  const path = `path ${target.id} (${target.local} → ${target.remote})`;
  switch (plan.fault) {
    case 'blackhole':
      return `${path} was blackholed administratively on this host (braid path down): nothing was sent on it, the peer was not told; restored with braid path up`;
    case 'down':
      return `local address ${target.local} was taken down for this session: every path from it (${ids.join(
        ', ',
      )}) was blackholed administratively on this host at once, as a link going down would; the address stayed bound and other sessions were not affected`;
    case 'flap':
      return `${path} was blackholed and restored administratively on this host ${plan.flaps} times (each down, then up, for ${formatDuration(
        plan.faultForMs / plan.flaps / 2,
      )})`;
  }
}
