/**
 * Incoming streams of one service. Streams go to `'stream'` listeners when there are any;
 * otherwise they wait (at most `backlog` of them) for the async iterator. {@link
 * QueuedServiceListener} is that mechanism, shared by the embedded endpoint's listener here and
 * the SDK's daemon client; each says what a stream that finds no room becomes and how closing
 * reaches its side.
 */
import type { BraidStream, ServiceEvents, ServiceListener } from './api.js';
import { claimStream, holdUntilClaimed } from './claim.js';
import { EndpointClosedError } from './errors.js';
import { TypedEmitter } from './typed-emitter.js';

/** Streams accepted but not yet taken by the iterator, per service, by default. */
export const SERVICE_BACKLOG_DEFAULT = 128;

export abstract class QueuedServiceListener
  extends TypedEmitter<ServiceEvents>
  implements ServiceListener
{
  private readonly queue: BraidStream[] = [];
  private readonly waiting: ((result: IteratorResult<BraidStream>) => void)[] = [];
  protected closed = false;

  constructor(
    readonly service: string,
    private readonly backlog: number,
  ) {
    super();
  }

  get closing(): boolean {
    return this.closed;
  }

  /** Whether another stream can be taken now. */
  get hasRoom(): boolean {
    if (this.closed) return false;
    return (
      this.listenerCount('stream') > 0 || this.queue.length < this.backlog + this.waiting.length
    );
  }

  /**
   * Hands a stream to the application: a `'stream'` listener, a waiting iterator, or the
   * backlog. Returns false, taking nothing, when there is no room ({@link hasRoom}).
   */
  protected offer(stream: BraidStream): boolean {
    if (!this.hasRoom) return false;
    if (this.listenerCount('stream') > 0) {
      // The listeners run now, and attach their own error handlers. A stream already reset
      // (while its opener's request waited) is taken and dropped, as a queued one is.
      if (claimStream(stream)) this.emit('stream', stream);
      return true;
    }
    // Until an iterator's caller has it, a reset must not throw (see claim.ts). Waiting
    // iterators are served once this turn's ticks have run, so a stream reset in the same turn
    // is skipped rather than handed over dead.
    holdUntilClaimed(stream);
    this.queue.push(stream);
    if (this.waiting.length > 0) queueMicrotask(() => this.serveWaiting());
    return true;
  }

  /** The next queued stream still alive, claimed; those reset while queued are dropped. */
  private take(): BraidStream | undefined {
    for (let stream = this.queue.shift(); stream; stream = this.queue.shift())
      if (claimStream(stream)) return stream;
    return undefined;
  }

  private serveWaiting(): void {
    while (this.waiting.length > 0) {
      const stream = this.take();
      if (!stream) return;
      this.waiting.shift()!({ value: stream, done: false });
    }
  }

  /** Marks the listener closed: streams nobody took are destroyed, iterators end. */
  protected finish(error?: Error): void {
    this.closed = true;
    for (const stream of this.queue.splice(0)) stream.destroy(error);
    for (const waiter of this.waiting.splice(0)) waiter({ value: undefined, done: true });
  }

  abstract close(): Promise<void>;

  [Symbol.asyncIterator](): AsyncIterator<BraidStream> {
    return {
      next: () => {
        const stream = this.take();
        if (stream) return Promise.resolve({ value: stream, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.waiting.push(resolve));
      },
      // Leaving a `for await` loop closes the listener, as `events.on` does.
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }
}

/**
 * The embedded endpoint's listener. The accepting side checks {@link hasRoom} before it accepts
 * a stream, and refuses it with SERVICE_REFUSED otherwise (the opener sees
 * `ERR_BRAID_SERVICE_REFUSED`).
 */
export class EmbeddedServiceListener extends QueuedServiceListener {
  constructor(
    service: string,
    backlog: number,
    private readonly onClose: (listener: EmbeddedServiceListener) => void,
  ) {
    super(service, backlog);
  }

  /** Hands an accepted stream to the application; call only when {@link hasRoom}. */
  deliver(stream: BraidStream): void {
    this.offer(stream);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
    // Accepted streams nobody took are abandoned: the peer sees them reset (CANCELLED).
    this.finish(new EndpointClosedError(`listener for ${this.service} closed`));
    this.emit('close');
  }
}
