/**
 * One byte stream carried over a control connection, with credit-based flow control: each side
 * may send only as many bytes as the other granted (its window to start with, then what the
 * reader consumed). The receiver's buffer is thus bounded by its window, whatever the sender
 * does, and a sender's writes wait (Node's writable backpressure) until credit arrives.
 */
import { Duplex } from 'node:stream';
import { IpcCreditError, IpcStreamResetError, errorPayload } from './errors.js';
import type { ErrorBody } from './messages.js';

/** Largest data message: a write is cut into chunks of at most this many bytes. */
export const DATA_CHUNK_BYTES = 64 * 1024;
/** Default receive window per stream (bytes a side may have sent that the reader has not taken). */
export const STREAM_WINDOW_BYTES = 256 * 1024;

/** What a stream needs from its connection. */
export interface StreamHost {
  sendStreamData(handle: number, bytes: Uint8Array): void;
  sendStreamCredit(handle: number, bytes: number): void;
  sendStreamEnd(handle: number): void;
  sendStreamReset(handle: number, error: ErrorBody): void;
  /** Both directions are finished: the handle may be forgotten. */
  streamFinished(handle: number): void;
  /** The peer broke the protocol on this stream: the connection must close. */
  streamViolation(error: Error): void;
}

export interface IpcStreamOptions {
  /** Bytes the peer granted us to start with (its announced window). */
  sendWindowBytes: number;
  /** Bytes we grant the peer: the bound of our receive buffer. */
  receiveWindowBytes: number;
  /**
   * Send nothing until {@link IpcStream.release}: for a stream a response will announce, so
   * that none of its messages reaches the peer before the response that names its handle.
   */
  held?: boolean;
  /** Builds the error a reset from the peer fails the stream with. Default {@link IpcStreamResetError}. */
  resetError?: (error: ErrorBody) => Error;
}

export class IpcStream extends Duplex {
  /** Stream bytes written to the connection / received from it. */
  bytesSent = 0;
  bytesReceived = 0;
  private sendCredit: number;
  private grantedLimit: number;
  private readonly receiveWindow: number;
  private pending: { chunk: Buffer; offset: number; callback: (error?: Error) => void } | undefined;
  private sentFin = false;
  private receivedFin = false;
  private forgotten = false;
  private held: boolean;
  private readonly resetError: ((error: ErrorBody) => Error) | undefined;
  private finalPending: ((error?: Error) => void) | undefined;

  constructor(
    private readonly host: StreamHost,
    readonly handle: number,
    options: IpcStreamOptions,
  ) {
    super({
      allowHalfOpen: true,
      readableHighWaterMark: options.receiveWindowBytes,
      writableHighWaterMark: DATA_CHUNK_BYTES,
    });
    this.sendCredit = options.sendWindowBytes;
    this.receiveWindow = options.receiveWindowBytes;
    this.grantedLimit = options.receiveWindowBytes;
    this.held = options.held ?? false;
    this.resetError = options.resetError;
  }

  /** @internal The message announcing this stream was sent: its own messages may follow. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    this.flush();
    const final = this.finalPending;
    this.finalPending = undefined;
    if (final) this._final(final);
  }

  /** Bytes we may still send before the peer grants more. */
  get sendCreditBytes(): number {
    return this.sendCredit;
  }

  /** Bytes received and not yet taken by the reader (at most the receive window). */
  get bufferedBytes(): number {
    return this.readableLength;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error) => void) {
    this.pending = { chunk, offset: 0, callback };
    this.flush();
  }

  override _final(callback: (error?: Error) => void): void {
    if (this.held) {
      this.finalPending = callback;
      return;
    }
    if (!this.sentFin && !this.destroyed) {
      this.sentFin = true;
      this.host.sendStreamEnd(this.handle);
      this.maybeFinished();
    }
    callback();
  }

  override _read(): void {
    this.grant();
  }

  // Credit follows consumption. `_read` alone is not enough: Node calls it once and then not
  // again until something is pushed, and nothing is pushed while the peer has no credit.
  // Every way of consuming (flowing mode, pipe, async iteration, read()) goes through `read`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Readable.read's own type
  override read(size?: number): any {
    const chunk: unknown = super.read(size);
    this.grant();
    return chunk;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.forgotten) {
      // A held stream was never announced: the peer has nothing to reset.
      if ((!this.sentFin || !this.receivedFin) && !this.held) {
        this.sentFin = true;
        this.receivedFin = true;
        this.host.sendStreamReset(
          this.handle,
          error
            ? errorPayload(error)
            : { code: 'ERR_BRAID_STREAM_CANCELLED', message: 'stream destroyed' },
        );
      }
      this.forget();
    }
    this.pending = undefined;
    callback(error);
  }

  /** @internal The peer granted `bytes` more. */
  onCredit(bytes: number): void {
    if (this.sentFin) return;
    this.sendCredit += bytes;
    if (this.sendCredit > Number.MAX_SAFE_INTEGER / 2) {
      this.host.streamViolation(new IpcCreditError(`stream ${this.handle}: credit overflow`));
      return;
    }
    this.flush();
  }

  /** @internal Bytes from the peer. */
  onData(bytes: Uint8Array): void {
    if (this.receivedFin) return;
    if (this.bytesReceived + bytes.length > this.grantedLimit) {
      this.host.streamViolation(
        new IpcCreditError(
          `stream ${this.handle}: peer sent ${this.bytesReceived + bytes.length - this.grantedLimit} bytes beyond its credit`,
        ),
      );
      return;
    }
    this.bytesReceived += bytes.length;
    this.push(bytes);
  }

  /** @internal The peer finished its sending half. */
  onEnd(): void {
    if (this.receivedFin) return;
    this.receivedFin = true;
    this.push(null);
    this.maybeFinished();
  }

  /** @internal The peer abandoned the stream. */
  onReset(error: ErrorBody): void {
    this.sentFin = true;
    this.receivedFin = true;
    this.forget();
    if (this.resetError) {
      this.destroy(this.resetError(error));
      return;
    }
    const err = new IpcStreamResetError(`stream reset by the other side: ${error.message}`);
    err.remoteCode = error.code;
    this.destroy(err);
  }

  /** @internal The connection closed under the stream. */
  onConnectionClosed(error: Error | undefined): void {
    this.sentFin = true;
    this.receivedFin = true;
    this.forget();
    if (!this.destroyed) this.destroy(error);
  }

  private flush(): void {
    const p = this.pending;
    if (!p || this.destroyed || this.held) return;
    // Each turn sends one chunk of at most DATA_CHUNK_BYTES, so it ends within
    // chunk.length / DATA_CHUNK_BYTES + 1 turns.
    while (p.offset < p.chunk.length && this.sendCredit > 0) {
      const n = Math.min(p.chunk.length - p.offset, this.sendCredit, DATA_CHUNK_BYTES);
      this.host.sendStreamData(this.handle, p.chunk.subarray(p.offset, p.offset + n));
      p.offset += n;
      this.sendCredit -= n;
      this.bytesSent += n;
    }
    if (p.offset === p.chunk.length) {
      this.pending = undefined;
      p.callback();
    }
  }

  /** Grants the peer what the reader has taken since the last grant. */
  private grant(): void {
    if (this.receivedFin || this.forgotten || this.held) return;
    const consumed = this.bytesReceived - this.readableLength;
    const limit = consumed + this.receiveWindow;
    const more = limit - this.grantedLimit;
    // Batch small grants, but always grant once the buffer is empty so the peer never stalls.
    if (more <= 0 || (more < this.receiveWindow / 4 && this.readableLength > 0)) return;
    this.grantedLimit = limit;
    this.host.sendStreamCredit(this.handle, more);
  }

  private maybeFinished(): void {
    if (this.sentFin && this.receivedFin) this.forget();
  }

  private forget(): void {
    if (this.forgotten) return;
    this.forgotten = true;
    this.host.streamFinished(this.handle);
  }
}
