/**
 * A peer program running in a lab host, read through the JSON-line protocol that every lab
 * peer speaks on stdout (the Braid peer `braid-peer.ts`, the MPTCP baseline
 * `bench/mptcp/mptcp-peer.py`, the UDP probe `udp-probe.ts`):
 *
 *   {"type":"ready", …}              the peer is listening / connected
 *   {"type":"progress","bytes":N}    the receiver's count so far
 *   {"type":"event", …}              something the peer saw (a path change, a failover…)
 *   {"type":"done", …}               the result; the peer exits after it
 *   {"type":"error","code","message"} the peer failed; it exits non-zero
 */
import type { ChildProcess } from 'node:child_process';
import { LabPeerError } from './errors.js';

/** Longest line read from a peer; the receiver's `done` with its timeline is the longest. */
export const PEER_LINE_BYTES_MAX = 8 << 20;
/** Events kept per peer (the oldest are dropped beyond this, and counted). */
export const PEER_EVENTS_MAX = 10_000;
/** Tail of the peer's stderr kept for error messages. */
export const PEER_STDERR_BYTES_MAX = 16 << 10;

export type PeerMessage = { type: string } & Record<string, unknown>;

export class PeerProcess {
  readonly events: PeerMessage[] = [];
  eventsDropped = 0;
  /** The last progress count the peer reported. */
  progressBytes = 0;
  private readonly progressListeners = new Set<(bytes: number) => void>();
  private readyMessage: PeerMessage | undefined;
  private doneMessage: PeerMessage | undefined;
  private failure: Error | undefined;
  private stderrTail = '';
  private exited = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    let pending = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        this.line(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      if (pending.length > PEER_LINE_BYTES_MAX) {
        this.fail(new LabPeerError(`${label}: a line longer than ${PEER_LINE_BYTES_MAX} bytes`));
        pending = '';
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-PEER_STDERR_BYTES_MAX);
    });
    child.on('error', (err) => this.fail(new LabPeerError(`${label}: ${err.message}`)));
    child.on('exit', (code, signal) => {
      this.exited = true;
      if (!this.doneMessage)
        this.fail(
          new LabPeerError(
            `${label} exited (${signal ?? `code ${code}`}) before it was done${this.stderrNote()}`,
          ),
        );
      this.wake();
    });
  }

  onProgress(listener: (bytes: number) => void): () => void {
    this.progressListeners.add(listener);
    return () => this.progressListeners.delete(listener);
  }

  /** Resolves with the `ready` message. */
  ready(timeoutMs: number): Promise<PeerMessage> {
    return this.until(() => this.readyMessage, timeoutMs, 'ready');
  }

  /** Resolves with the `done` message. */
  done(timeoutMs: number): Promise<PeerMessage> {
    return this.until(() => this.doneMessage, timeoutMs, 'done');
  }

  /** Resolves once the receiver has reported at least `bytes`. */
  progressAtLeast(bytes: number, timeoutMs: number): Promise<number> {
    return this.until(
      () => (this.progressBytes >= bytes || this.doneMessage ? this.progressBytes : undefined),
      timeoutMs,
      `${bytes} bytes of progress`,
    );
  }

  /**
   * Resolves once `count` events have come (counting those dropped past the bound). A peer's
   * events travel on its stdout, which may be read after another process saw the effect of what
   * it reported: wait for them rather than reading `events` at once.
   */
  eventsAtLeast(count: number, timeoutMs: number): Promise<readonly PeerMessage[]> {
    return this.until(
      () => (this.events.length + this.eventsDropped >= count ? this.events : undefined),
      timeoutMs,
      `${count} events`,
    );
  }

  get hasExited(): boolean {
    return this.exited;
  }

  private until<T>(value: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const v = value();
        if (v !== undefined) {
          finish();
          resolve(v);
          return true;
        }
        if (this.failure) {
          finish();
          reject(this.failure);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new LabPeerError(`${this.label}: no ${what} within ${timeoutMs} ms${this.stderrNote()}`),
        );
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = () => void check();
      if (!check()) this.waiters.add(waiter);
    });
  }

  private line(text: string): void {
    if (text.trim() === '') return;
    let msg: PeerMessage;
    try {
      const parsed: unknown = JSON.parse(text);
      if (
        typeof parsed !== 'object' ||
        parsed === null ||
        typeof (parsed as PeerMessage).type !== 'string'
      )
        throw new Error('not an object with a "type"');
      msg = parsed as PeerMessage;
    } catch (err) {
      this.fail(
        new LabPeerError(
          `${this.label}: unreadable line ${JSON.stringify(text.slice(0, 200))}: ${(err as Error).message}`,
        ),
      );
      return;
    }
    switch (msg.type) {
      case 'ready':
        this.readyMessage = msg;
        break;
      case 'progress':
        if (typeof msg.bytes === 'number') {
          this.progressBytes = msg.bytes;
          for (const l of this.progressListeners) l(msg.bytes);
        }
        break;
      case 'done':
        this.doneMessage = msg;
        break;
      case 'error':
        this.fail(
          new LabPeerError(
            `${this.label}: ${String(msg.code)}: ${String(msg.message)}${this.stderrNote()}`,
          ),
        );
        break;
      default:
        if (this.events.length >= PEER_EVENTS_MAX) {
          this.events.shift();
          this.eventsDropped++;
        }
        this.events.push(msg);
    }
    this.wake();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private stderrNote(): string {
    const tail = this.stderrTail.trim();
    return tail ? `; stderr: ${tail.slice(-2_000)}` : '';
  }
}
