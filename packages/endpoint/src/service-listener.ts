/**
 * Incoming streams of one service. Streams go to `'stream'` listeners when there are any;
 * otherwise they wait (at most `backlog` of them) for the async iterator. A stream that finds
 * the backlog full is refused with SERVICE_REFUSED, which the opener sees as
 * `ERR_BRAID_SERVICE_REFUSED`.
 */
import { EventEmitter } from 'node:events';
import type { BraidStream, ServiceEvents, ServiceListener } from './api.js';
import { EndpointClosedError } from './errors.js';

/** Streams accepted but not yet taken by the iterator, per service, by default. */
export const SERVICE_BACKLOG_DEFAULT = 128;

export class EmbeddedServiceListener extends EventEmitter implements ServiceListener {
  private readonly queue: BraidStream[] = [];
  private readonly waiting: ((result: IteratorResult<BraidStream>) => void)[] = [];
  private closed = false;

  constructor(
    readonly service: string,
    private readonly backlog: number,
    private readonly onClose: (listener: EmbeddedServiceListener) => void,
  ) {
    super();
  }

  get closing(): boolean {
    return this.closed;
  }

  /** Whether another stream can be taken now (the accepting side checks before accepting). */
  get hasRoom(): boolean {
    if (this.closed) return false;
    return (
      this.listenerCount('stream') > 0 ||
      this.waiting.length > 0 ||
      this.queue.length < this.backlog
    );
  }

  /** Hands an accepted stream to the application; call only when {@link hasRoom}. */
  deliver(stream: BraidStream): void {
    if (this.listenerCount('stream') > 0) {
      this.emit('stream', stream);
      return;
    }
    const waiter = this.waiting.shift();
    if (waiter) waiter({ value: stream, done: false });
    else this.queue.push(stream);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
    // Accepted streams nobody took are abandoned: the peer sees them reset (CANCELLED).
    for (const stream of this.queue.splice(0))
      stream.destroy(new EndpointClosedError(`listener for ${this.service} closed`));
    for (const waiter of this.waiting.splice(0)) waiter({ value: undefined, done: true });
    this.emit('close');
  }

  [Symbol.asyncIterator](): AsyncIterator<BraidStream> {
    return {
      next: () => {
        const stream = this.queue.shift();
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

  override on<E extends keyof ServiceEvents>(
    event: E,
    listener: (...args: ServiceEvents[E]) => void,
  ): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override off<E extends keyof ServiceEvents>(
    event: E,
    listener: (...args: ServiceEvents[E]) => void,
  ): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }
}
