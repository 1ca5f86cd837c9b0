/**
 * One bound UDP socket of the endpoint, in one of two implementations:
 *
 * - `native` (`@braid/dgram-ext`): the datagrams of a turn are queued per socket and sent at
 *   the end of the turn as trains. A run of datagrams to one destination whose sizes are equal
 *   (the last may be shorter) leaves in one `sendmsg` with UDP GSO, up to 64 datagrams or 64 KiB;
 *   receives are `recvmmsg` batches with UDP GRO. On loopback that takes the kernel's cost per
 *   datagram from about 4.8 µs to 0.4 µs at the sender and from 4.2 to 0.2 µs at the receiver
 *   (packages/dgram-ext/README.md). Sends are synchronous, so a full send buffer (EAGAIN)
 *   is seen: the queue stays, `blocked` is set, and the socket's writability resumes it.
 * - `dgram` (`node:dgram`): each datagram is handed to libuv at once, which queues it should the
 *   socket not take it. Used where the addon is not built (no compiler at install, not Linux)
 *   or when asked.
 *
 * Either way the endpoint sees the same thing: `enqueue` per datagram, `flush` at the end of a
 * turn, `onDatagram` per datagram received and `onReceived` after each read.
 */
import dgram from 'node:dgram';
import { copyBytes } from '@braid/protocol';
import { addonLoadError, openSocket, SEGMENTS_MAX, type DgramExtSocket } from '@braid/dgram-ext';

export type SocketImplementation = 'native' | 'dgram';

export interface SocketIoHandlers {
  /** One datagram, its memory the endpoint's to keep. */
  onDatagram(bytes: Uint8Array, address: string, port: number): void;
  /** After the datagrams of one read. */
  onReceived(): void;
  /** Datagrams the kernel took. */
  onSent(datagrams: number, bytes: number): void;
  /**
   * A send or receive error. A send error carries the destination (`address`, `port`), as
   * node:dgram's do, and the datagrams it concerns were not sent.
   */
  onError(error: NodeJS.ErrnoException): void;
  /** A blocked socket sent its queue and can take more. */
  onWritable(): void;
}

export interface SocketIoOptions {
  family: 4 | 6;
  host: string;
  port: number;
  bufferBytes: number;
  implementation: 'auto' | SocketImplementation;
  handlers: SocketIoHandlers;
  /** Errors setting the buffer sizes (they are kept at the kernel's default then). */
  onBufferError(error: unknown): void;
}

export interface SocketIo {
  readonly implementation: SocketImplementation;
  readonly port: number;
  /** Datagrams handed over and not yet taken by the kernel. */
  readonly queued: number;
  /** The kernel refused a send for lack of buffer; `onWritable` follows. */
  readonly blocked: boolean;
  /** Queues (native) or sends (dgram) a copy of `bytes`: the caller may reuse them at once. */
  enqueue(bytes: Uint8Array, host: string, port: number): void;
  /** Sends what is queued (native); no-op for dgram, which sends on `enqueue`. */
  flush(): void;
  ref(): void;
  unref(): void;
  close(): Promise<void>;
}

/** Why `auto` does not use the native sockets here (not Linux, the addon not built), or undefined. */
export function nativeSocketProblem(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  return addonLoadError()?.message;
}

/** Opens and binds one socket. A bind error is thrown as the system error (`code`). */
export async function openSocketIo(options: SocketIoOptions): Promise<SocketIo> {
  if (options.implementation !== 'dgram') {
    const problem = nativeSocketProblem();
    if (problem === undefined) return NativeIo.open(options);
    if (options.implementation === 'native')
      throw new Error(`the native UDP sockets are not available: ${problem}`);
  }
  return DgramIo.open(options);
}

/** A native socket's queue buffer to begin with: a turn of 1,400-byte datagrams fits. */
const QUEUE_BUFFER_BYTES = 256 * 1024;
const UDP4_PAYLOAD_MAX = 65507;
const UDP6_PAYLOAD_MAX = 65527;

/** Exported for tests, which drive it over a stand-in socket. */
export class NativeIo implements SocketIo {
  readonly implementation = 'native';
  readonly port: number;
  /**
   * The queue: the datagrams' bytes one after the other in `queueBuf` (copied in by `enqueue`,
   * so a train is one contiguous slice, sent without another copy), and four arrays with their
   * offsets, lengths and destinations (no object per datagram). Entries before `head` are sent.
   * The buffer starts over when the queue empties.
   */
  private queueBuf = new Uint8Array(QUEUE_BUFFER_BYTES);
  private queueEnd = 0;
  private readonly queueOffsets: number[] = [];
  private readonly queueLengths: number[] = [];
  private readonly queueHosts: string[] = [];
  private readonly queuePorts: number[] = [];
  private head = 0;
  blocked = false;
  private closed = false;
  private readonly payloadMax: number;

  constructor(
    private readonly socket: DgramExtSocket,
    family: 4 | 6,
    private readonly handlers: SocketIoHandlers,
  ) {
    this.port = socket.address().port;
    this.payloadMax = family === 6 ? UDP6_PAYLOAD_MAX : UDP4_PAYLOAD_MAX;
  }

  static async open(options: SocketIoOptions): Promise<NativeIo> {
    const h = options.handlers;
    const holder: { io?: NativeIo } = {};
    const open = (bufferBytes: number) =>
      openSocket({
        implementation: 'native',
        type: options.family === 6 ? 'udp6' : 'udp4',
        ipv6Only: true,
        address: options.host,
        port: options.port,
        gro: true,
        recvBufferSize: bufferBytes,
        sendBufferSize: bufferBytes,
        onBatch: (b) => {
          // The batch is the socket's memory until this returns: each run of datagrams that
          // lie end to end (a GRO read) is copied once, and the datagrams are views into that.
          const seg = b.segments;
          const count = b.count;
          let i = 0;
          while (i < count) {
            const start = seg[2 * i]!;
            let end = start + seg[2 * i + 1]!;
            let j = i + 1;
            while (j < count && seg[2 * j] === end) end += seg[2 * j++ + 1]!;
            const copy = b.data.slice(start, end);
            for (; i < j; i++) {
              const offset = seg[2 * i]! - start;
              h.onDatagram(copy.subarray(offset, offset + seg[2 * i + 1]!), b.address, b.port);
            }
          }
          h.onReceived();
        },
        onError: (err) => h.onError(err as NodeJS.ErrnoException),
        onWritable: () => holder.io?.resume(),
      });
    let socket: DgramExtSocket;
    try {
      socket = await open(options.bufferBytes);
    } catch (err) {
      const syscall = (err as { syscall?: string }).syscall ?? '';
      if (!syscall.startsWith('setsockopt SO_')) throw err;
      options.onBufferError(err);
      socket = await open(0);
    }
    holder.io = new NativeIo(socket, options.family, h);
    return holder.io;
  }

  get queued(): number {
    return this.queueOffsets.length - this.head;
  }

  enqueue(bytes: Uint8Array, host: string, port: number): void {
    if (this.closed) return;
    const n = bytes.length;
    if (this.queueEnd + n > this.queueBuf.length) this.makeRoom(n);
    this.queueBuf.set(bytes, this.queueEnd);
    this.queueOffsets.push(this.queueEnd);
    this.queueLengths.push(n);
    this.queueHosts.push(host);
    this.queuePorts.push(port);
    this.queueEnd += n;
  }

  /**
   * Room for `n` more bytes: the unsent datagrams move to the front of a buffer (the same one
   * when they leave it half free, else one twice as large). Bounded: the endpoint queues at
   * most SOCKET_QUEUE_MAX datagrams while the socket is blocked, and a turn's worth otherwise.
   */
  private makeRoom(n: number): void {
    const count = this.queueOffsets.length;
    const from = this.head < count ? this.queueOffsets[this.head]! : this.queueEnd;
    const used = this.queueEnd - from;
    const old = this.queueBuf;
    if (used + n <= old.length / 2) old.copyWithin(0, from, this.queueEnd);
    else {
      this.queueBuf = new Uint8Array(Math.max(2 * old.length, used + n));
      this.queueBuf.set(old.subarray(from, this.queueEnd));
    }
    this.queueOffsets.splice(0, this.head);
    this.queueLengths.splice(0, this.head);
    this.queueHosts.splice(0, this.head);
    this.queuePorts.splice(0, this.head);
    this.head = 0;
    for (let i = 0; i < this.queueOffsets.length; i++) this.queueOffsets[i]! -= from;
    this.queueEnd = used;
  }

  flush(): void {
    const offsets = this.queueOffsets;
    const lengths = this.queueLengths;
    const hosts = this.queueHosts;
    const ports = this.queuePorts;
    while (!this.blocked && !this.closed && this.head < offsets.length) {
      const head = this.head;
      const host = hosts[head]!;
      const port = ports[head]!;
      const size = lengths[head]!;
      // A train: same destination, the size of the first, at most one shorter one at its end.
      let n = 1;
      let total = size;
      const most = size === 0 ? 1 : Math.min(SEGMENTS_MAX, Math.floor(this.payloadMax / size));
      while (n < most && head + n < offsets.length) {
        const length = lengths[head + n]!;
        if (ports[head + n] !== port || hosts[head + n] !== host || length > size) break;
        n++;
        total += length;
        if (length < size) break;
      }
      // The train's datagrams lie one after the other in the queue's buffer.
      const start = offsets[head]!;
      const train = this.queueBuf.subarray(start, start + total);
      try {
        if (n === 1) this.socket.send(train, port, host);
        else this.socket.sendSegments(train, size, port, host);
        this.head += n;
        this.handlers.onSent(n, total);
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { datagramsSent?: number };
        const sent = e.datagramsSent ?? 0;
        if (sent > 0) this.handlers.onSent(sent, sent * size);
        this.head += sent;
        if (e.code === 'EAGAIN') {
          // The send buffer is full: keep the rest, and go on when the socket has room.
          this.blocked = true;
          this.socket.wantWritable();
          break;
        }
        // Anything else concerns this destination: the datagrams of this train are dropped (the
        // protocol's loss recovery resends what matters) and the error is reported once.
        this.head += n - sent;
        Object.assign(e, { address: host, port });
        this.handlers.onError(e);
      }
    }
    if (this.head === offsets.length) this.clearQueue();
  }

  private clearQueue(): void {
    this.queueOffsets.length = this.queueLengths.length = 0;
    this.queueHosts.length = this.queuePorts.length = 0;
    this.head = 0;
    this.queueEnd = 0;
    // A buffer that grew while the socket was blocked goes back to its first size.
    if (this.queueBuf.length > 4 * QUEUE_BUFFER_BYTES)
      this.queueBuf = new Uint8Array(QUEUE_BUFFER_BYTES);
  }

  /** The socket can send again: sends the queue, then tells the endpoint. */
  resume(): void {
    this.blocked = false;
    this.flush();
    if (!this.blocked) this.handlers.onWritable();
  }

  ref(): void {
    this.socket.ref();
  }

  unref(): void {
    this.socket.unref();
  }

  close(): Promise<void> {
    this.closed = true;
    this.clearQueue();
    this.socket.close();
    return Promise.resolve();
  }
}

/**
 * The sockets' `lookup`: every address this endpoint hands to a socket (bind, send) is an IP
 * literal that `parseLocator` already checked, so it is its own answer. Node's default,
 * `dns.lookup`, would test it with `isIP` again and answer on the next tick, so every datagram
 * would leave one tick after `send` and cost a closure and a regular expression on the way.
 */
function literalLookup(
  address: string,
  _options: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}

class DgramIo implements SocketIo {
  readonly implementation = 'dgram';
  readonly port: number;
  readonly blocked = false;
  queued = 0;
  private readonly onSent: (error: Error | null) => void;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly handlers: SocketIoHandlers,
  ) {
    this.port = socket.address().port;
    this.onSent = (error) => {
      this.queued--;
      if (error) handlers.onError(error as NodeJS.ErrnoException);
    };
    socket.on('message', (msg, rinfo) => {
      handlers.onDatagram(
        new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength),
        rinfo.address,
        rinfo.port,
      );
      handlers.onReceived();
    });
    socket.on('error', (err) => handlers.onError(err as NodeJS.ErrnoException));
  }

  static async open(options: SocketIoOptions): Promise<DgramIo> {
    const socket = dgram.createSocket({
      ...(options.family === 6 ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' }),
      lookup: literalLookup,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ address: options.host, port: options.port, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      try {
        socket.close();
      } catch {
        // Node may have closed it already.
      }
      throw err;
    }
    for (const set of [
      (n: number) => socket.setRecvBufferSize(n),
      (n: number) => socket.setSendBufferSize(n),
    ])
      try {
        set(options.bufferBytes);
      } catch (err) {
        options.onBufferError(err);
      }
    return new DgramIo(socket, options.handlers);
  }

  enqueue(bytes: Uint8Array, host: string, port: number): void {
    try {
      // Node sends after this returns, and the caller may reuse `bytes` by then: a copy.
      this.socket.send(copyBytes(bytes), port, host, this.onSent);
      this.queued++;
      this.handlers.onSent(1, bytes.length);
    } catch (err) {
      // Synchronous refusals: port 0, family mismatch, socket closing.
      this.handlers.onError(err as NodeJS.ErrnoException);
    }
  }

  flush(): void {}

  ref(): void {
    this.socket.ref();
  }

  unref(): void {
    this.socket.unref();
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
