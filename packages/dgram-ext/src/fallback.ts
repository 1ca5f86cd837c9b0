import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { constants } from 'node:os';
import { DgramExtError } from './errors.js';
import {
  BATCH_MAX,
  SEGMENTS_MAX,
  type DgramExtFeatures,
  type DgramExtSocket,
  type DgramExtSocketOptions,
  type DgramExtStats,
  type ReceivedBatch,
} from './types.js';

const UDP4_PAYLOAD_MAX = 65507;
/** As the addon says it: a negative errno, this platform's. */
const EMSGSIZE = -constants.errno.EMSGSIZE;

/** The same interface over node:dgram: one syscall and one callback per datagram. */
export class JsSocket implements DgramExtSocket {
  readonly implementation = 'js';
  readonly features: DgramExtFeatures = {
    gso: false,
    gro: false,
    batchedSend: false,
    batchedReceive: false,
    dontFragment: false,
  };
  readonly fd = -1;
  private closed = false;
  private writablePending = false;
  private readonly counters: DgramExtStats;

  private constructor(
    private readonly socket: Socket,
    counters: DgramExtStats,
    private readonly onWritable: (() => void) | undefined,
  ) {
    this.counters = counters;
  }

  static async open(options: DgramExtSocketOptions): Promise<JsSocket> {
    const socket = createSocket({
      type: options.type,
      ...(options.type === 'udp6' && options.ipv6Only ? { ipv6Only: true } : {}),
      ...(options.recvBufferSize ? { recvBufferSize: options.recvBufferSize } : {}),
      ...(options.sendBufferSize ? { sendBufferSize: options.sendBufferSize } : {}),
    });
    const batch: ReceivedBatch = {
      data: new Uint8Array(0),
      segments: new Uint32Array(2),
      count: 1,
      address: '',
      port: 0,
    };
    const onBatch = options.onBatch;
    const counters: DgramExtStats = {
      recvCalls: 0,
      recvMessages: 0,
      recvDatagrams: 0,
      sendCalls: 0,
      sendDatagrams: 0,
    };
    socket.on('message', (msg, rinfo) => {
      counters.recvCalls++;
      counters.recvMessages++;
      counters.recvDatagrams++;
      batch.data = msg;
      batch.segments[1] = msg.length;
      batch.address = rinfo.address;
      batch.port = rinfo.port;
      onBatch(batch);
    });
    const bound = once(socket, 'listening');
    socket.bind({
      address: options.address ?? (options.type === 'udp6' ? '::' : '0.0.0.0'),
      port: options.port ?? 0,
    });
    await bound;
    socket.on('error', (err) => options.onError?.(err));
    return new JsSocket(socket, counters, options.onWritable);
  }

  address(): { address: string; port: number } {
    const { address, port } = this.socket.address();
    return { address, port };
  }

  stats(): DgramExtStats {
    return { ...this.counters };
  }

  send(bytes: Uint8Array, port: number, address: string): void {
    this.counters.sendCalls++;
    this.counters.sendDatagrams++;
    this.socket.send(bytes, port, address, (err) => {
      if (err) this.socket.emit('error', err);
    });
  }

  sendSegments(bytes: Uint8Array, segmentBytes: number, port: number, address: string): number {
    const count = bytes.length === 0 ? 1 : Math.ceil(bytes.length / segmentBytes);
    // The addon's limits: 64 segments, each at most one UDP payload.
    if (count > SEGMENTS_MAX || segmentBytes > UDP4_PAYLOAD_MAX || !(segmentBytes > 0)) {
      throw new DgramExtError(EMSGSIZE, 'send');
    }
    for (let offset = 0, i = 0; i < count; i++, offset += segmentBytes) {
      this.send(bytes.subarray(offset, offset + segmentBytes), port, address);
    }
    return count;
  }

  sendBatch(datagrams: readonly Uint8Array[], port: number, address: string): number {
    if (datagrams.length > BATCH_MAX) throw new DgramExtError(EMSGSIZE, 'send');
    for (const d of datagrams) this.send(d, port, address);
    return datagrams.length;
  }

  /** node:dgram queues rather than refuses: writable on the next turn, once per call or run. */
  wantWritable(): void {
    if (this.writablePending) return;
    this.writablePending = true;
    setImmediate(() => {
      this.writablePending = false;
      if (!this.closed) this.onWritable?.();
    });
  }

  ref(): void {
    this.socket.ref();
  }

  unref(): void {
    this.socket.unref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.removeAllListeners('message');
    this.socket.close();
  }
}
