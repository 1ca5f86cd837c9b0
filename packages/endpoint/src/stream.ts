/**
 * `BraidStream` on the embedded endpoint: a Node `Duplex` over one protocol stream.
 *
 * Writing: `_write` hands the chunk to `streamWrite`; what the protocol does not take (its send
 * buffer of `streamSendBufferBytes` is full: flow or congestion control hold the bytes) is kept
 * here, and the write callback is called only once `stream_writable` lets the rest in. So at
 * most one chunk waits here, Node's own buffer fills to `writableHighWaterMark`, `write()`
 * returns false and `'drain'` fires when room comes back: memory per stream is bounded by the
 * protocol's send buffer + the high-water mark + one chunk.
 *
 * Reading: on `stream_readable` the stream reads (at most {@link READ_CHUNK_BYTES} at a time)
 * and `push`es until the protocol has nothing more or `push` returns false; then it waits for
 * `_read`. Unread bytes stay in the protocol's receive buffer, which the peer's flow control
 * bounds (`streamWindowBytes`), so a slow reader slows the writer down instead of growing memory.
 */
import { Duplex } from 'node:stream';
import type { ReadResult } from '@braid/protocol';
import type { BraidSession, BraidStream } from './api.js';
import { StreamResetError, StreamStoppedError } from './errors.js';
import { StreamCode } from './service-header.js';

/** Bytes read from the protocol per `push`. */
export const READ_CHUNK_BYTES = 64 * 1024;
/** Default `readableHighWaterMark` and `writableHighWaterMark` of a stream. */
export const STREAM_HIGH_WATER_MARK_BYTES = 64 * 1024;

/** What a stream asks of its session (protocol calls with the clock and a flush). */
export interface StreamHost {
  write(streamId: number, data: Uint8Array): number;
  end(streamId: number): void;
  read(streamId: number, max: number): ReadResult | undefined;
  /**
   * Finishes what is left of a stream: our sending half ended (`end`) or reset (`reset`), and
   * the peer's stopped (`receive`), with `code`; halves already finished are skipped.
   */
  abort(streamId: number, code: number, send: 'end' | 'reset' | 'none', receive: boolean): void;
  /** The stream object is gone: forget it. */
  release(streamId: number): void;
}

/** The application code to reset with when a stream is destroyed with `error`. */
export function resetCodeOf(error: Error | null): number {
  if (!error) return StreamCode.CANCELLED;
  const code = (error as { resetCode?: unknown }).resetCode;
  return typeof code === 'number' && Number.isInteger(code) && code >= 0 && code < 2 ** 62
    ? code
    : StreamCode.APPLICATION_ERROR;
}

export class EmbeddedStream extends Duplex implements BraidStream {
  private pendingWrite: { data: Uint8Array; callback: (error?: Error | null) => void } | undefined;
  /** `push` returned false: wait for `_read` before reading more from the protocol. */
  private readPaused = true;
  /** Our sending half is finished (ended or reset) as far as the protocol is concerned. */
  private sendDone = false;
  /** The peer's sending half is finished (end read, or reset / stopped). */
  private receiveDone = false;
  /** The code of the peer's STOP_SENDING, once it came. */
  private stoppedCode: number | undefined;

  constructor(
    private readonly host: StreamHost,
    readonly session: BraidSession,
    readonly streamId: number,
    readonly service: string,
    highWaterMarkBytes: number = STREAM_HIGH_WATER_MARK_BYTES,
  ) {
    super({
      allowHalfOpen: true,
      readableHighWaterMark: highWaterMarkBytes,
      writableHighWaterMark: highWaterMarkBytes,
    });
  }

  // ---- protocol events (from the session) ---------------------------------------------

  onReadable(): void {
    if (!this.readPaused) this.pump();
  }

  onWritable(): void {
    this.tryWrite();
  }

  /** The peer's end was read along with the service header: nothing more will come. */
  onEndRead(): void {
    this.receiveDone = true;
    this.push(null);
  }

  /** The peer reset its sending half with `code`. */
  onReset(code: number): void {
    if (this.receiveDone) return;
    this.receiveDone = true;
    this.destroy(
      new StreamResetError(code, `stream ${this.streamId} was reset by the peer (code ${code})`),
    );
  }

  /**
   * The peer sent STOP_SENDING: the protocol has reset our sending half with `code`. Like EPIPE
   * on a socket, it is an error only for bytes that can no longer go: writes waiting now fail
   * the stream at once, a later write fails then, and a stream with nothing to send is fine.
   */
  onStopped(code: number): void {
    this.sendDone = true;
    this.stoppedCode = code;
    if (this.writableFinished) return;
    if (this.pendingWrite || this.writableLength > 0) this.destroy(this.stoppedError());
  }

  /**
   * The session is closing or gone. `error` is undefined when the application closed it: the
   * stream then just closes. Otherwise what the protocol still holds for us is read out (the
   * peer may have ended the stream and closed), and a stream that still loses bytes (the peer's
   * end never came, or writes are still queued) fails with `error`; one that loses nothing
   * ends normally once the application has read it.
   */
  onSessionClosed(error: Error | undefined): void {
    if (this.destroyed) return;
    if (!error) {
      this.sendDone = this.receiveDone = true;
      this.destroy();
      return;
    }
    if (!this.receiveDone) this.drainRemaining();
    const losing = !this.receiveDone || this.pendingWrite !== undefined || this.writableLength > 0;
    this.sendDone = this.receiveDone = true;
    if (losing) this.destroy(error);
    else if (!this.writableEnded) this.end();
  }

  /** Moves everything readable into Node's buffer, backpressure or not (the window bounds it). */
  private drainRemaining(): void {
    for (;;) {
      let r: ReadResult | undefined;
      try {
        r = this.host.read(this.streamId, READ_CHUNK_BYTES);
      } catch {
        return;
      }
      if (!r) return;
      if (r.data.length > 0)
        this.push(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength));
      if (r.fin) {
        this.receiveDone = true;
        this.push(null);
        return;
      }
    }
  }

  private stoppedError(): StreamStoppedError {
    const code = this.stoppedCode ?? 0;
    return new StreamStoppedError(
      code,
      `stream ${this.streamId}: the peer stopped reading (code ${code})`,
    );
  }

  // ---- Duplex ---------------------------------------------------------------------------

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    if (this.stoppedCode !== undefined) {
      callback(this.stoppedError());
      return;
    }
    // A plain Uint8Array view: the protocol copies with `slice`, which on a Buffer would not.
    this.pendingWrite = {
      data: new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
      callback,
    };
    this.tryWrite();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.sendDone) {
      // Stopped by the peer with nothing left to send: there is no end to send either.
      callback();
      return;
    }
    try {
      this.host.end(this.streamId);
      this.sendDone = true;
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _read(): void {
    this.readPaused = false;
    this.pump();
  }

  /**
   * `destroy()` closes like a socket: our sending half ends after what the protocol already took
   * (FIN), and the peer is asked to stop sending (STOP_SENDING, CANCELLED). `destroy(error)`
   * abandons both halves: RESET_STREAM and STOP_SENDING with the error's `resetCode` (or
   * APPLICATION_ERROR), which the peer sees as ERR_BRAID_STREAM_RESET.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const pending = this.pendingWrite;
    this.pendingWrite = undefined;
    if (!this.sendDone || !this.receiveDone) {
      this.host.abort(
        this.streamId,
        resetCodeOf(error),
        this.sendDone ? 'none' : error ? 'reset' : 'end',
        !this.receiveDone,
      );
      this.sendDone = this.receiveDone = true;
    }
    this.host.release(this.streamId);
    pending?.callback(error ?? new Error('stream destroyed'));
    callback(error);
  }

  // ---- internals ------------------------------------------------------------------------

  private tryWrite(): void {
    const pending = this.pendingWrite;
    if (!pending) return;
    let taken: number;
    try {
      taken = this.host.write(this.streamId, pending.data);
    } catch (err) {
      // The protocol reset our sending half for the peer's STOP_SENDING (and maybe took its
      // RESET_STREAM) in this same turn, and its events, which carry the peer's code, are not
      // dispatched yet: the write waits for them, and `onReset` / `onStopped` fail it with that
      // code rather than with a bare "stream was reset". (Our own resets destroy us first.)
      if ((err as { code?: string }).code === 'ERR_BRAID_STREAM_STATE' && !this.sendDone) return;
      this.pendingWrite = undefined;
      pending.callback(err as Error);
      return;
    }
    if (taken >= pending.data.length) {
      this.pendingWrite = undefined;
      pending.callback();
    } else {
      // The rest waits for `stream_writable` (flow control, or the send buffer is full).
      pending.data = pending.data.subarray(taken);
    }
  }

  /**
   * Moves what the protocol has into Node's buffer until it runs dry or `push` says stop; each
   * turn takes at least one byte out of a receive buffer the peer's flow control bounds.
   */
  private pump(): void {
    while (!this.readPaused && !this.receiveDone && !this.destroyed) {
      let r: ReadResult | undefined;
      try {
        r = this.host.read(this.streamId, READ_CHUNK_BYTES);
      } catch (err) {
        this.destroy(err as Error);
        return;
      }
      if (!r) return;
      if (r.data.length > 0) {
        const more = this.push(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength));
        if (!more) this.readPaused = true;
      }
      if (r.fin) {
        this.receiveDone = true;
        this.push(null);
      }
    }
  }
}
