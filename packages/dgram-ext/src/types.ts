/**
 * The datagrams of one read, all from one source. `data` and `segments` are the socket's own
 * memory, valid only during the `onBatch` call that hands them over: copy what you keep.
 */
export interface ReceivedBatch {
  /** Receive memory; datagram i is `data[segments[2i] … segments[2i] + segments[2i+1])`. */
  data: Uint8Array;
  /** (offset, length) pairs into `data`, `count` of them. */
  segments: Uint32Array;
  /** Datagrams in this batch (a GRO read gives several from one recvmsg). */
  count: number;
  /** Source address, numeric. */
  address: string;
  port: number;
}

export interface DgramExtSocketOptions {
  type: 'udp4' | 'udp6';
  /** Numeric local address. Default `0.0.0.0` or `::`. */
  address?: string;
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** Called once per batch of received datagrams. */
  onBatch: (batch: ReceivedBatch) => void;
  /** Receive errors, and in the `js` implementation send errors too. Default: ignored. */
  onError?: (error: Error) => void;
  /** Called once after {@link DgramExtSocket.wantWritable}, when the socket can send again. */
  onWritable?: () => void;
  /** udp6 only: refuse IPv4 (IPV6_V6ONLY). Default false (dual stack, as node:dgram). */
  ipv6Only?: boolean;
  /**
   * UDP GRO on receive (Linux ≥ 5.0): a train of GSO datagrams from one sender arrives in
   * one read and is cut into its segments here. Default false.
   */
  gro?: boolean;
  /** Set DF and ignore the cached path MTU (IP_PMTUDISC_PROBE), for DPLPMTUD. Default false. */
  dontFragment?: boolean;
  /** SO_RCVBUF in bytes; 0 keeps the kernel's default. Default 0. */
  recvBufferSize?: number;
  /** SO_SNDBUF in bytes; 0 keeps the kernel's default. Default 0. */
  sendBufferSize?: number;
  /** SO_BINDTODEVICE (needs CAP_NET_RAW). Default: none. */
  bindToDevice?: string;
  /** Largest datagram read whole without GRO; a longer one is dropped and reported (EMSGSIZE). Default 2048. */
  maxDatagramBytes?: number;
  /** Messages per recvmmsg, 1–64. Default 32, or 8 with GRO (each GRO slot is 64 KiB). */
  recvBatchMax?: number;
  /** recvmmsg calls per readable event before yielding to the loop, 1–64. Default 8. */
  readsPerWakeMax?: number;
  /** `auto` (default): the addon when it loads, else `js`. `native` throws when it does not load. */
  implementation?: 'auto' | 'native' | 'js';
  /** Where the addon is loaded from. Default: this package's build/dgram_ext.node. */
  addonPath?: string;
}

export interface DgramExtFeatures {
  /** sendSegments makes one sendmsg with UDP_SEGMENT. */
  gso: boolean;
  /** Reads return GRO trains. */
  gro: boolean;
  /** sendBatch and sendSegments make one sendmmsg (or better) rather than one send each. */
  batchedSend: boolean;
  /** Reads use recvmmsg. */
  batchedReceive: boolean;
  dontFragment: boolean;
}

/** What the socket's syscalls carried since it opened. */
export interface DgramExtStats {
  /** recvmmsg calls that returned datagrams (recvmsg/'message' events in the js fallback). */
  recvCalls: number;
  /** Messages those calls returned; a GRO train is one message. */
  recvMessages: number;
  /** Datagrams handed to onBatch. */
  recvDatagrams: number;
  /** sendto/sendmsg/sendmmsg calls. */
  sendCalls: number;
  /** Datagrams those calls sent. */
  sendDatagrams: number;
}

export interface DgramExtSocket {
  readonly implementation: 'native' | 'js';
  readonly features: DgramExtFeatures;
  /** The socket's file descriptor (native), -1 once closed or in the js implementation. */
  readonly fd: number;
  address(): { address: string; port: number };
  /**
   * One datagram. The native implementation sends now and throws a DgramExtError (EAGAIN
   * included); the js one queues on node:dgram and reports errors to onError.
   */
  send(bytes: Uint8Array, port: number, address: string): void;
  /**
   * `bytes` cut into datagrams of `segmentBytes` (the last may be shorter), at most 64 and
   * 65,507 bytes in all (udp4): one GSO send, else one sendmmsg. Returns the count sent.
   */
  sendSegments(bytes: Uint8Array, segmentBytes: number, port: number, address: string): number;
  /** Up to 64 datagrams to one destination in one sendmmsg. Returns the count sent. */
  sendBatch(datagrams: readonly Uint8Array[], port: number, address: string): number;
  /**
   * After a send threw EAGAIN (the socket's send buffer is full): call `onWritable` once when
   * it has room again. Idempotent until then. The js implementation never throws EAGAIN (node:dgram
   * queues), and calls `onWritable` on the next turn.
   */
  wantWritable(): void;
  stats(): DgramExtStats;
  ref(): void;
  unref(): void;
  /** Stops reads and callbacks at once and closes the fd. Idempotent. */
  close(): void;
}

/** Bounds of one call, the kernel's and this package's. */
export const BATCH_MAX = 64;
export const SEGMENTS_MAX = 64;
