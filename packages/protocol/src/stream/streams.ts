/**
 * All streams of one session: opening (by either side, within the limits each announced),
 * session-level flow control, the scheduler that picks which stream's bytes go into the next
 * packet, and the control frames (MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS, RESET_STREAM,
 * STOP_SENDING, *_BLOCKED) that keep both sides in step.
 *
 * Stream IDs follow RFC 9000 §2.1 with bidirectional streams only: bit 0 is the opener
 * (0 initiator, 1 responder), bit 1 is always 0, so IDs are 4n and 4n+1. A stream is freed when
 * both halves are finished: its send half acknowledged in full (or its reset acknowledged) and
 * its receive half read to the end (or reset and reported).
 */
import { CloseCode, StreamLimitError, StreamStateError, UnknownStreamError } from '../errors.js';
import type { Frame } from '../wire/frames.js';
import { streamFrameOverhead } from '../wire/frames.js';
import {
  autotuneWindow,
  RecvStream,
  StreamViolation,
  type ReadResult,
  type WindowUpdates,
} from './recv-stream.js';
import { SendStream } from './send-stream.js';

export { StreamViolation } from './recv-stream.js';

/** How the scheduler treats a stream. Only `low-latency` is scheduled differently today. */
export type StreamMode = 'bulk' | 'low-latency' | 'redundant';
/** Forward error correction for a stream's packets: none, adaptive, or m repairs per k packets. */
export type FecSetting = 'off' | 'auto' | { k: number; m: number };
export interface StreamPolicy {
  mode: StreamMode;
  fec: FecSetting;
}
export const DEFAULT_STREAM_POLICY: Readonly<StreamPolicy> = Object.freeze({
  mode: 'bulk',
  fec: 'off',
});

/**
 * A full policy from a partial one: mode `bulk` unless given; FEC `auto` for low-latency
 * streams (repair instead of a round trip is what they are for) and `off` for the others.
 */
export function resolveStreamPolicy(policy: Partial<StreamPolicy> = {}): StreamPolicy {
  const mode = policy.mode ?? 'bulk';
  return { mode, fec: policy.fec ?? (mode === 'low-latency' ? 'auto' : 'off') };
}

export interface StreamLimits {
  /** Per-stream receive window (bytes), at first. */
  streamWindow: number;
  /** Session receive window (bytes, all streams together), at first. */
  connectionWindow: number;
  /** How far auto-tuning may grow each (bytes); at most the initial ones turn it off. */
  streamWindowMax: number;
  connectionWindowMax: number;
  /** Streams the peer may have open at once. */
  maxStreams: number;
  /** Unacknowledged bytes buffered per stream before `write` takes less than offered. */
  sendBufferMax: number;
}

export type StreamEvent =
  | { kind: 'stream_opened'; streamId: number }
  | { kind: 'stream_readable'; streamId: number }
  | { kind: 'stream_writable'; streamId: number }
  | { kind: 'stream_reset'; streamId: number; code: number }
  | { kind: 'stream_stopped'; streamId: number; code: number }
  | { kind: 'stream_closed'; streamId: number }
  | { kind: 'streams_available'; available: number };

/** What a sent packet carried, so that its loss or acknowledgement reaches the right place. */
export type SentStreamFrame =
  | { kind: 'stream'; id: number; offset: number; length: number; fin: boolean }
  | { kind: 'max_data' }
  | { kind: 'max_stream_data'; id: number }
  | { kind: 'max_streams' }
  | { kind: 'reset'; id: number }
  | { kind: 'stop'; id: number };

class Stream {
  policy: StreamPolicy;
  readableSignalled = false;
  writableWanted = false;
  queued = false;
  constructor(
    readonly id: number,
    readonly send: SendStream,
    readonly recv: RecvStream,
    policy: StreamPolicy,
  ) {
    this.policy = policy;
  }
}

export class Streams {
  private readonly streams = new Map<number, Stream>();
  /** Low-latency streams are served first; each class is served round robin. */
  private readonly urgentQueue: Stream[] = [];
  private readonly bulkQueue: Stream[] = [];
  readonly events: StreamEvent[] = [];

  private readonly localBit: number;
  private nextLocalIndex = 0;
  /** How many streams we may open in all (the peer's MAX_STREAMS). */
  private peerMaxStreams = 0;
  private openBlocked = false;
  /** Streams the peer has opened so far, and the cumulative count it may open. */
  private nextPeerIndex = 0;
  private localMaxStreams: number;
  private peerStreamsFreed = 0;

  /** Session flow control, sending: the peer's limit and the fresh bytes sent. */
  private sendMaxData = 0;
  private sentData = 0;
  /** Session flow control, receiving: our limit, the sum of highest offsets, bytes consumed. */
  private recvMaxData: number;
  private recvHighest = 0;
  private recvConsumed = 0;
  /** The session receive window now (auto-tuned), and when its last update was made. */
  private connectionWindow: number;
  private readonly connectionUpdates: WindowUpdates = { lastMs: undefined, previousMs: undefined };
  /** The clock of the last `read`, for auto-tuning. */
  private nowMs = 0;

  private maxDataPending = false;
  private maxStreamsPending = false;
  private readonly maxStreamDataPending = new Set<number>();
  private readonly resetPending = new Set<number>();
  private readonly stopPending = new Set<number>();
  private dataBlockedPending: number | undefined;
  private streamsBlockedPending: number | undefined;
  private readonly streamBlockedPending = new Set<number>();
  private peerStreamWindow = 0;

  /** Counters for the stats snapshot. */
  bytesRetransmitted = 0;
  bytesDelivered = 0;
  /** Stream bytes the peer acknowledged, each counted once. */
  bytesAcked = 0;
  streamsOpened = 0;

  /** `rttMs`: the session's smoothed RTT, asked only when auto-tuning weighs a window update. */
  constructor(
    isInitiator: boolean,
    private readonly limits: StreamLimits,
    private readonly rttMs: () => number,
  ) {
    this.localBit = isInitiator ? 0 : 1;
    this.localMaxStreams = limits.maxStreams;
    this.recvMaxData = limits.connectionWindow;
    this.connectionWindow = limits.connectionWindow;
  }

  /** Applies the peer's transport parameters (once the handshake tells them). */
  setPeerLimits(p: {
    initialMaxData: number;
    initialMaxStreamData: number;
    initialMaxStreams: number;
  }) {
    this.sendMaxData = p.initialMaxData;
    this.peerStreamWindow = p.initialMaxStreamData;
    this.peerMaxStreams = p.initialMaxStreams;
  }

  get openCount(): number {
    return this.streams.size;
  }

  /** Streams this side may still open now. */
  get available(): number {
    return Math.max(0, this.peerMaxStreams - this.nextLocalIndex);
  }

  // ---- application commands -------------------------------------------------------------

  open(policy: StreamPolicy = DEFAULT_STREAM_POLICY): number {
    if (this.nextLocalIndex >= this.peerMaxStreams) {
      this.openBlocked = true;
      this.streamsBlockedPending = this.peerMaxStreams;
      throw new StreamLimitError(
        `the peer allows ${this.peerMaxStreams} streams from this side; wait for streams_available`,
      );
    }
    const id = this.nextLocalIndex++ * 4 + this.localBit;
    this.create(id, policy);
    return id;
  }

  write(id: number, data: Uint8Array): number {
    const s = this.get(id);
    if (s.send.finalSize !== undefined || s.send.resetCode !== undefined)
      throw new StreamStateError(
        `stream ${id} was ${s.send.resetCode !== undefined ? 'reset' : 'ended'}`,
      );
    const n = s.send.write(data);
    if (n < data.length) s.writableWanted = true;
    if (n > 0) this.schedule(s);
    return n;
  }

  end(id: number): void {
    const s = this.get(id);
    if (s.send.resetCode !== undefined) return;
    s.send.end();
    this.schedule(s);
  }

  reset(id: number, code: number): void {
    const s = this.get(id);
    if (s.send.reset(code)) {
      this.resetPending.add(id);
      this.maybeFree(s);
    }
  }

  stopSending(id: number, code: number): void {
    const s = this.get(id);
    const consumedBefore = s.recv.readOffset;
    if (s.recv.stop(code)) {
      // What is dropped unread still counts as consumed, so session credit is not lost.
      this.consume(s.recv.highest - consumedBefore);
      if (s.recv.stopPending) this.stopPending.add(id);
      this.maybeFree(s);
    }
  }

  /** `nowMs` and the session's RTT drive the windows' auto-tuning. */
  read(id: number, max: number, nowMs: number): ReadResult | undefined {
    this.nowMs = nowMs;
    const s = this.get(id);
    const r = s.recv.read(max);
    if (!r) {
      s.readableSignalled = false;
      return undefined;
    }
    this.bytesDelivered += r.data.length;
    this.consume(r.data.length);
    const update = s.recv.windowUpdate(nowMs, this.rttMs, this.limits.streamWindowMax);
    if (update !== undefined) {
      this.maxStreamDataPending.add(id);
      // A stream's window never outgrows the session's: keep the session's 1.5× ahead (quiche).
      this.connectionWindow = Math.max(
        this.connectionWindow,
        Math.min(s.recv.window * 1.5, this.limits.connectionWindowMax),
      );
    }
    if (r.fin) this.maybeFree(s);
    return r;
  }

  setPolicy(id: number, policy: StreamPolicy): void {
    const s = this.get(id);
    s.policy = { ...policy };
    if (!s.queued) return;
    // Move it to the queue of its new class now, not after its next turn.
    for (const q of [this.urgentQueue, this.bulkQueue]) {
      const i = q.indexOf(s);
      if (i >= 0) q.splice(i, 1);
    }
    s.queued = false;
    this.schedule(s);
  }

  policy(id: number): StreamPolicy {
    return this.get(id).policy;
  }

  has(id: number): boolean {
    return this.streams.has(id);
  }

  ids(): number[] {
    return [...this.streams.keys()];
  }

  /** Bytes this stream can take now. */
  writable(id: number): number {
    return this.get(id).send.writable;
  }

  /** Whether every byte written (and every FIN and reset) is acknowledged. */
  get allAcknowledged(): boolean {
    for (const s of this.streams.values()) {
      const st = s.send.state;
      if (s.send.buffered > 0 || st === 'ended' || st === 'reset') return false;
    }
    return true;
  }

  // ---- frames from the peer -------------------------------------------------------------

  /** Applies one stream-related frame; returns a violation to close the session with. */
  onFrame(frame: Frame): StreamViolation | undefined {
    switch (frame.type) {
      case 'stream': {
        const s = this.peerStream(frame.streamId);
        if (s instanceof StreamViolation) return s;
        if (!s) return undefined; // finished and freed: a late copy
        const grew = s.recv.onData(frame.offset, frame.data, frame.fin);
        if (grew instanceof StreamViolation) return grew;
        const v = this.receiveCredit(grew);
        if (v) return v;
        if (s.recv.stopCode !== undefined) {
          this.consume(grew);
          this.maybeFree(s);
        } else if (s.recv.hasNews && !s.readableSignalled) {
          s.readableSignalled = true;
          this.events.push({ kind: 'stream_readable', streamId: s.id });
        }
        return undefined;
      }
      case 'reset_stream': {
        const s = this.peerStream(frame.streamId);
        if (s instanceof StreamViolation) return s;
        if (!s) return undefined;
        const alreadyReset = s.recv.resetCode !== undefined;
        const unread = s.recv.highest - s.recv.readOffset;
        const grew = s.recv.onReset(frame.code, frame.finalSize);
        if (grew instanceof StreamViolation) return grew;
        const v = this.receiveCredit(grew);
        if (v) return v;
        if (s.recv.stopCode !== undefined) {
          this.consume(grew);
          this.maybeFree(s);
        } else if (!alreadyReset && s.recv.resetCode !== undefined) {
          this.consume(unread + grew);
          s.recv.acknowledgeReset();
          this.events.push({ kind: 'stream_reset', streamId: s.id, code: frame.code });
          this.maybeFree(s);
        }
        return undefined;
      }
      case 'stop_sending': {
        const s = this.peerStream(frame.streamId);
        if (s instanceof StreamViolation) return s;
        if (!s) return undefined;
        if (s.send.reset(frame.code)) {
          this.resetPending.add(s.id);
          this.events.push({ kind: 'stream_stopped', streamId: s.id, code: frame.code });
        }
        return undefined;
      }
      case 'max_data':
        if (frame.max > this.sendMaxData) {
          this.sendMaxData = frame.max;
          this.dataBlockedPending = undefined;
          for (const s of this.streams.values()) this.schedule(s);
        }
        return undefined;
      case 'max_stream_data': {
        const s = this.peerStream(frame.streamId);
        if (s instanceof StreamViolation) return s;
        if (!s) return undefined;
        s.send.onMaxData(frame.max);
        this.signalWritable(s);
        this.schedule(s);
        return undefined;
      }
      case 'max_streams':
        if (frame.max > this.peerMaxStreams) {
          this.peerMaxStreams = frame.max;
          if (this.openBlocked) {
            this.openBlocked = false;
            this.events.push({ kind: 'streams_available', available: this.available });
          }
        }
        return undefined;
      case 'streams_blocked':
        this.raiseStreamLimit(1);
        return undefined;
      case 'data_blocked':
        return undefined; // informational: MAX_DATA goes out as reads free credit
      case 'stream_data_blocked': {
        const s = this.peerStream(frame.streamId);
        return s instanceof StreamViolation ? s : undefined;
      }
      default:
        return undefined;
    }
  }

  // ---- packet building --------------------------------------------------------------------

  /** Whether control frames are waiting. */
  get hasControl(): boolean {
    return (
      this.maxDataPending ||
      this.maxStreamsPending ||
      this.maxStreamDataPending.size > 0 ||
      this.resetPending.size > 0 ||
      this.stopPending.size > 0 ||
      this.dataBlockedPending !== undefined ||
      this.streamsBlockedPending !== undefined ||
      this.streamBlockedPending.size > 0
    );
  }

  /** The FEC setting of the stream whose frame {@link nextFrame} would return next. */
  nextFecSetting(): FecSetting {
    const s = this.urgentQueue[0] ?? this.bulkQueue[0];
    return s ? s.policy.fec : 'off';
  }

  /** Whether some stream has bytes (or a FIN) it may send now. */
  get hasData(): boolean {
    return this.urgentQueue.length > 0 || this.bulkQueue.length > 0;
  }

  /**
   * Appends control frames that fit in `room` bytes to `frames`, recording them in `sent`.
   * Returns the bytes used. Frames are small (≤ 25 bytes); the caller leaves room for them.
   */
  writeControl(room: number, frames: Frame[], sent: SentStreamFrame[]): number {
    let used = 0;
    const fits = (n: number) => used + n <= room;
    if (this.maxDataPending && fits(9)) {
      this.maxDataPending = false;
      frames.push({ type: 'max_data', max: this.recvMaxData });
      sent.push({ kind: 'max_data' });
      used += 9;
    }
    if (this.maxStreamsPending && fits(9)) {
      this.maxStreamsPending = false;
      frames.push({ type: 'max_streams', max: this.localMaxStreams });
      sent.push({ kind: 'max_streams' });
      used += 9;
    }
    for (const id of this.maxStreamDataPending) {
      if (!fits(17)) break;
      this.maxStreamDataPending.delete(id);
      const s = this.streams.get(id);
      if (!s || s.recv.finalSize !== undefined) continue;
      frames.push({ type: 'max_stream_data', streamId: id, max: s.recv.maxData });
      sent.push({ kind: 'max_stream_data', id });
      used += 17;
    }
    for (const id of this.resetPending) {
      if (!fits(25)) break;
      this.resetPending.delete(id);
      const s = this.streams.get(id);
      if (!s || s.send.resetCode === undefined || !s.send.resetPending) continue;
      s.send.resetPending = false;
      frames.push({
        type: 'reset_stream',
        streamId: id,
        code: s.send.resetCode,
        finalSize: s.send.finalSize ?? 0,
      });
      sent.push({ kind: 'reset', id });
      used += 25;
    }
    for (const id of this.stopPending) {
      if (!fits(17)) break;
      this.stopPending.delete(id);
      const s = this.streams.get(id);
      if (!s || s.recv.stopCode === undefined) continue;
      s.recv.stopPending = false;
      frames.push({ type: 'stop_sending', streamId: id, code: s.recv.stopCode });
      sent.push({ kind: 'stop', id });
      used += 17;
    }
    // Blocked frames are advisory: sent once, not retransmitted (RFC 9000 §4.1).
    if (this.dataBlockedPending !== undefined && fits(9)) {
      frames.push({ type: 'data_blocked', limit: this.dataBlockedPending });
      this.dataBlockedPending = undefined;
      used += 9;
    }
    if (this.streamsBlockedPending !== undefined && fits(9)) {
      frames.push({ type: 'streams_blocked', limit: this.streamsBlockedPending });
      this.streamsBlockedPending = undefined;
      used += 9;
    }
    for (const id of this.streamBlockedPending) {
      if (!fits(17)) break;
      this.streamBlockedPending.delete(id);
      const s = this.streams.get(id);
      if (s?.send.blockedAt !== undefined)
        frames.push({ type: 'stream_data_blocked', streamId: id, limit: s.send.blockedAt });
      used += 17;
    }
    return used;
  }

  /**
   * The next STREAM frame of at most `room` bytes (header included), from the stream whose
   * turn it is, or undefined when no stream can send. `urgentOnly` limits it to low-latency
   * streams.
   */
  nextFrame(
    room: number,
  ): { frame: Frame & { type: 'stream' }; sent: SentStreamFrame; mode: StreamMode } | undefined {
    for (;;) {
      const queue = this.urgentQueue.length > 0 ? this.urgentQueue : this.bulkQueue;
      const s = queue.shift();
      if (!s) return undefined;
      s.queued = false;
      const credit = this.sendMaxData - this.sentData;
      const overhead = streamFrameOverhead(s.id, s.send.sentOffset + room, room);
      if (room <= overhead) {
        this.requeue(s, queue, true);
        return undefined;
      }
      const retransmittedBefore = s.send.bytesRetransmitted;
      const chunk = s.send.next(room - overhead, credit);
      if (!chunk) {
        if (s.send.blockedAt !== undefined) this.streamBlockedPending.add(s.id);
        if (credit <= 0 && s.send.writeOffset > s.send.sentOffset)
          this.dataBlockedPending = this.sendMaxData;
        continue;
      }
      this.bytesRetransmitted += s.send.bytesRetransmitted - retransmittedBefore;
      this.sentData += chunk.fresh;
      this.requeue(s, queue, s.send.wantsToSend(this.sendMaxData - this.sentData));
      return {
        frame: {
          type: 'stream',
          streamId: s.id,
          offset: chunk.offset,
          data: chunk.data,
          fin: chunk.fin,
        },
        sent: {
          kind: 'stream',
          id: s.id,
          offset: chunk.offset,
          length: chunk.data.length,
          fin: chunk.fin,
        },
        mode: s.policy.mode,
      };
    }
  }

  /** `stream_writable` once a writer that was refused has half its buffer free again. */
  private signalWritable(s: Stream): void {
    if (s.writableWanted && s.send.writable * 2 >= s.send.capacity) {
      s.writableWanted = false;
      this.events.push({ kind: 'stream_writable', streamId: s.id });
    }
  }

  // ---- acknowledgements and losses ------------------------------------------------------

  onAcked(f: SentStreamFrame): void {
    if (f.kind === 'stream') {
      const s = this.streams.get(f.id);
      if (!s) return;
      this.bytesAcked += s.send.onAcked(f.offset, f.length, f.fin);
      this.signalWritable(s);
      this.maybeFree(s);
    } else if (f.kind === 'reset') {
      const s = this.streams.get(f.id);
      if (!s) return;
      s.send.onResetAcked();
      this.maybeFree(s);
    }
  }

  onLost(f: SentStreamFrame): void {
    switch (f.kind) {
      case 'stream': {
        const s = this.streams.get(f.id);
        if (!s) return;
        s.send.onLost(f.offset, f.length, f.fin);
        this.schedule(s);
        return;
      }
      case 'max_data':
        this.maxDataPending = true;
        return;
      case 'max_streams':
        this.maxStreamsPending = true;
        return;
      case 'max_stream_data':
        if (this.streams.has(f.id)) this.maxStreamDataPending.add(f.id);
        return;
      case 'reset': {
        const s = this.streams.get(f.id);
        if (!s) return;
        s.send.onResetLost();
        if (s.send.resetPending) this.resetPending.add(f.id);
        return;
      }
      case 'stop': {
        const s = this.streams.get(f.id);
        if (s && s.recv.stopCode !== undefined && s.recv.finalSize === undefined) {
          s.recv.stopPending = true;
          this.stopPending.add(f.id);
        }
        return;
      }
    }
  }

  /** Bytes received and not yet read, across streams (bounded by the session window). */
  get bufferedReceive(): number {
    return this.recvHighest - this.recvConsumed;
  }

  // ---- internals --------------------------------------------------------------------------

  private get(id: number): Stream {
    const s = this.streams.get(id);
    if (!s) throw new UnknownStreamError(`no open stream ${id}`);
    return s;
  }

  private create(id: number, policy: StreamPolicy): Stream {
    const s = new Stream(
      id,
      new SendStream(id, this.peerStreamWindow, this.limits.sendBufferMax),
      new RecvStream(id, this.limits.streamWindow),
      { ...policy },
    );
    this.streams.set(id, s);
    this.streamsOpened++;
    return s;
  }

  /**
   * The stream a peer frame names: created if the peer opens it now, undefined if it was
   * already freed, or a violation.
   */
  private peerStream(id: number): Stream | StreamViolation | undefined {
    const existing = this.streams.get(id);
    if (existing) return existing;
    if ((id & 2) !== 0)
      return new StreamViolation(CloseCode.STREAM_STATE_ERROR, `stream ${id} is unidirectional`);
    const index = Math.floor(id / 4);
    if ((id & 1) === this.localBit) {
      if (index >= this.nextLocalIndex)
        return new StreamViolation(
          CloseCode.STREAM_STATE_ERROR,
          `stream ${id} is ours and was never opened`,
        );
      return undefined;
    }
    if (index < this.nextPeerIndex) return undefined;
    if (index >= this.localMaxStreams)
      return new StreamViolation(
        CloseCode.STREAM_LIMIT_ERROR,
        `stream ${id} exceeds the limit of ${this.localMaxStreams} streams`,
      );
    let opened: Stream | undefined;
    // Opening a stream opens every lower-numbered one of the peer's (RFC 9000 §3.2).
    while (this.nextPeerIndex <= index) {
      const sid = this.nextPeerIndex++ * 4 + (1 - this.localBit);
      opened = this.create(sid, DEFAULT_STREAM_POLICY);
      this.events.push({ kind: 'stream_opened', streamId: sid });
    }
    return opened;
  }

  private receiveCredit(grew: number): StreamViolation | undefined {
    this.recvHighest += grew;
    if (this.recvHighest > this.recvMaxData)
      return new StreamViolation(
        CloseCode.FLOW_CONTROL_ERROR,
        `session data ${this.recvHighest} beyond the limit ${this.recvMaxData}`,
      );
    return undefined;
  }

  private consume(n: number): void {
    this.recvConsumed += n;
    if (this.recvMaxData - this.recvConsumed <= this.connectionWindow / 2) {
      this.connectionWindow = autotuneWindow(
        this.connectionWindow,
        this.limits.connectionWindowMax,
        this.connectionUpdates,
        this.nowMs,
        this.rttMs,
      );
      this.recvMaxData = this.recvConsumed + this.connectionWindow;
      this.maxDataPending = true;
    }
  }

  private schedule(s: Stream): void {
    if (s.queued || !this.streams.has(s.id)) return;
    const send = s.send;
    if (send.resetCode !== undefined) {
      if (send.resetPending) this.resetPending.add(s.id);
      return;
    }
    const credit = this.sendMaxData - this.sentData;
    if (!send.wantsToSend(credit)) {
      if (send.writeOffset > send.sentOffset) {
        if (send.sentOffset >= send.maxData) {
          send.blockedAt ??= send.maxData;
          this.streamBlockedPending.add(s.id);
        } else if (credit <= 0) this.dataBlockedPending = this.sendMaxData;
      }
      return;
    }
    s.queued = true;
    (s.policy.mode === 'low-latency' ? this.urgentQueue : this.bulkQueue).push(s);
  }

  private requeue(s: Stream, queue: Stream[], again: boolean): void {
    if (!again) return;
    s.queued = true;
    queue.push(s);
  }

  private maybeFree(s: Stream): void {
    if (s.send.state !== 'done' || !s.recv.finished) return;
    // Stopped, and the peer has not told its final size (its RESET_STREAM, or the FIN): the
    // stream stays until it does, so our STOP_SENDING goes out (and again if lost) and what the
    // peer still sends counts against session flow control (RFC 9000 §3.5, §4.5). Freed now,
    // the STOP_SENDING would be dropped unsent and the peer would write into a closed window
    // for good.
    if (s.recv.stopCode !== undefined && s.recv.finalSize === undefined) return;
    this.streams.delete(s.id);
    this.maxStreamDataPending.delete(s.id);
    this.streamBlockedPending.delete(s.id);
    this.events.push({ kind: 'stream_closed', streamId: s.id });
    if ((s.id & 1) !== this.localBit) {
      this.peerStreamsFreed++;
      this.raiseStreamLimit(Math.max(1, this.limits.maxStreams >> 3));
    }
  }

  /**
   * Lets the peer open as many streams as it freed, keeping `maxStreams` open at most; the
   * update goes out once it grows by `batch` (RFC 9000 §4.6: not one frame per stream).
   */
  private raiseStreamLimit(batch: number): void {
    const target = this.peerStreamsFreed + this.limits.maxStreams;
    if (target - this.localMaxStreams < batch) return;
    this.localMaxStreams = target;
    this.maxStreamsPending = true;
  }
}
