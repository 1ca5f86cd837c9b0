import { createRequire } from 'node:module';
import { isIP } from 'node:net';
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

/** The addon's functions (src/dgram_ext.c). Send results: a count, or [sent, -errno]. */
export interface Binding {
  open(
    family: number,
    address: string,
    port: number,
    gro: number,
    dontFragment: number,
    recvBufferSize: number,
    sendBufferSize: number,
    device: string | undefined,
    recvMemory: Uint8Array,
    slotBytes: number,
    segments: Uint32Array,
    readsPerWake: number,
    onBatch: (count: number, address: string, port: number) => void,
    onError: (errno: number, syscall: string) => void,
    onWritable: () => void,
    v6Only: number,
  ): object;
  close(handle: object): void;
  setRef(handle: object, ref: boolean): void;
  info(handle: object): [string, number, number, number, number];
  stats(handle: object): [number, number, number, number, number];
  send(handle: object, bytes: Uint8Array, port: number, address: string): SendResult;
  sendSegments(
    handle: object,
    bytes: Uint8Array,
    segmentBytes: number,
    port: number,
    address: string,
    useGso: boolean,
  ): SendResult;
  sendBatch(
    handle: object,
    datagrams: readonly Uint8Array[],
    port: number,
    address: string,
  ): SendResult;
  wantWritable(handle: object): void;
}

type SendResult = number | [number, number];

const GRO_SLOT_BYTES = 65536;
const GRO_SEGMENTS_PER_SLOT_MAX = SEGMENTS_MAX;
/** The addon's READS_PER_WAKE_MAX. */
const READS_PER_WAKE_MAX = 64;
const DEFAULTS = { maxDatagramBytes: 2048, recvBatchMax: 32, groRecvBatchMax: 8, readsPerWake: 8 };

const loads = new Map<string, Binding | Error>();

/** The addon at `path`, or the Error that loading it threw (remembered per path). */
export function loadBinding(path: string): Binding | Error {
  let loaded = loads.get(path);
  if (!loaded) {
    try {
      loaded = createRequire(import.meta.url)(path) as Binding;
    } catch (err) {
      loaded = err instanceof Error ? err : new Error(String(err));
    }
    loads.set(path, loaded);
  }
  return loaded;
}

function intIn(value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`expected an integer in [${min}, ${max}], got ${v}`);
  }
  return v;
}

/** The addon throws plain Errors with errno and syscall; they leave here as DgramExtErrors. */
function openOrThrow(open: () => object): object {
  try {
    return open();
  } catch (err) {
    const e = err as { errno?: unknown; syscall?: unknown };
    if (typeof e.errno === 'number' && typeof e.syscall === 'string') {
      throw new DgramExtError(e.errno, e.syscall);
    }
    throw err;
  }
}

export class NativeSocket implements DgramExtSocket {
  readonly implementation = 'native';
  readonly features: DgramExtFeatures;
  private readonly handle: object;
  private closed = false;
  private readonly openFd: number;
  /** Handed to onBatch, refilled for each batch: one object per socket, not per read. */
  private readonly batch: ReceivedBatch;

  constructor(
    private readonly binding: Binding,
    options: DgramExtSocketOptions,
  ) {
    const gro = options.gro ?? false;
    const slotBytes = gro
      ? GRO_SLOT_BYTES
      : intIn(options.maxDatagramBytes, DEFAULTS.maxDatagramBytes, 1, GRO_SLOT_BYTES);
    const slots = intIn(
      options.recvBatchMax,
      gro ? DEFAULTS.groRecvBatchMax : DEFAULTS.recvBatchMax,
      1,
      BATCH_MAX,
    );
    const memory = new Uint8Array(slots * slotBytes);
    const segments = new Uint32Array(2 * slots * (gro ? GRO_SEGMENTS_PER_SLOT_MAX : 1));
    this.batch = { data: memory, segments, count: 0, address: '', port: 0 };
    const onBatch = options.onBatch;
    const onError = options.onError;
    const onWritable = options.onWritable;
    const batch = this.batch;
    const family = options.type === 'udp6' ? 6 : 4;
    this.handle = openOrThrow(() =>
      binding.open(
        family,
        options.address ?? (family === 6 ? '::' : '0.0.0.0'),
        intIn(options.port, 0, 0, 65535),
        gro ? 1 : 0,
        options.dontFragment ? 1 : 0,
        intIn(options.recvBufferSize, 0, 0, 2 ** 31 - 1),
        intIn(options.sendBufferSize, 0, 0, 2 ** 31 - 1),
        options.bindToDevice,
        memory,
        slotBytes,
        segments,
        intIn(options.readsPerWakeMax, DEFAULTS.readsPerWake, 1, READS_PER_WAKE_MAX),
        (count, address, port) => {
          batch.count = count;
          batch.address = address;
          batch.port = port;
          onBatch(batch);
        },
        (errno, syscall) => onError?.(new DgramExtError(errno, syscall)),
        () => onWritable?.(),
        options.ipv6Only ? 1 : 0,
      ),
    );
    const [, , fd, gso] = binding.info(this.handle);
    this.openFd = fd;
    this.features = {
      gso: gso === 1,
      gro,
      batchedSend: true,
      batchedReceive: true,
      dontFragment: options.dontFragment ?? false,
    };
  }

  get fd(): number {
    return this.closed ? -1 : this.openFd;
  }

  address(): { address: string; port: number } {
    const [address, port] = this.binding.info(this.handle);
    return { address, port };
  }

  send(bytes: Uint8Array, port: number, address: string): void {
    const r = this.binding.send(this.handle, bytes, port, address);
    if (r !== 1) throw this.sendError(r, 'sendto', address);
  }

  sendSegments(bytes: Uint8Array, segmentBytes: number, port: number, address: string): number {
    const r = this.binding.sendSegments(this.handle, bytes, segmentBytes, port, address, true);
    if (typeof r === 'number') return r;
    throw this.sendError(r, this.features.gso ? 'sendmsg' : 'sendmmsg', address);
  }

  sendBatch(datagrams: readonly Uint8Array[], port: number, address: string): number {
    const r = this.binding.sendBatch(this.handle, datagrams, port, address);
    if (typeof r === 'number') return r;
    throw this.sendError(r, 'sendmmsg', address);
  }

  wantWritable(): void {
    if (!this.closed) this.binding.wantWritable(this.handle);
  }

  stats(): DgramExtStats {
    const [recvCalls, recvMessages, recvDatagrams, sendCalls, sendDatagrams] = this.binding.stats(
      this.handle,
    );
    return { recvCalls, recvMessages, recvDatagrams, sendCalls, sendDatagrams };
  }

  ref(): void {
    this.binding.setRef(this.handle, true);
  }

  unref(): void {
    this.binding.setRef(this.handle, false);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.binding.close(this.handle);
  }

  private sendError(r: SendResult, syscall: string, address: string): DgramExtError {
    const [sent, errno] = typeof r === 'number' ? [r, 0] : r;
    if (this.closed) return new DgramExtError(errno, syscall, sent, 'ERR_SOCKET_DGRAM_NOT_RUNNING');
    // The addon parses numeric literals only and answers EINVAL for anything else.
    const invalid = errno === -22 && isIP(address) === 0;
    return new DgramExtError(
      errno,
      syscall,
      sent,
      invalid ? 'ERR_BRAID_INVALID_ADDRESS' : undefined,
    );
  }
}
