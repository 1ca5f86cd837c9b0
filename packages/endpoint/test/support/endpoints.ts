/**
 * Two embedded endpoints on loopback for the tests, each bound to 127.0.0.1 and 127.0.0.2
 * (Linux routes all of 127/8 to `lo`), closed by `t.teardown` whatever the test's outcome.
 */
import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Test } from 'tap';
import {
  openEndpoint,
  type BraidSession,
  type UdpEndpoint,
  type UdpEndpointOptions,
} from '@braid/endpoint';

export const LOOPBACK_PAIR = ['127.0.0.1:0', '127.0.0.2:0'];

/** Pairs only same-host locators, so two endpoints on 127.0.0.1 + 127.0.0.2 get exactly two paths. */
export function sameHostPaths(local: string, remote: string): boolean {
  return local.slice(0, local.lastIndexOf(':')) === remote.slice(0, remote.lastIndexOf(':'));
}

export async function endpoint(t: Test, options: UdpEndpointOptions = {}): Promise<UdpEndpoint> {
  const e = await openEndpoint({
    bind: LOOPBACK_PAIR,
    crypto: 'libsodium',
    closeTimeoutMs: 500,
    ...options,
  });
  t.teardown(() => e.close());
  return e;
}

export interface Pair {
  a: UdpEndpoint;
  b: UdpEndpoint;
  /** A's session to B (opened once B knows nothing special about A). */
  session: BraidSession;
  /** B's end of the same session. */
  peerSession: BraidSession;
}

export async function pair(
  t: Test,
  options: UdpEndpointOptions = {},
  bOptions: UdpEndpointOptions = {},
): Promise<Pair> {
  const a = await endpoint(t, options);
  const b = await endpoint(t, { ...options, ...bOptions });
  const peerSession = new Promise<BraidSession>((resolve) => b.once('session', resolve));
  await a.addPeer(b.eid, b.locators);
  const session = await a.openSession(b.eid);
  return { a, b, session, peerSession: await peerSession };
}

/** Deterministic content: byte i of a stream seeded `seed`. */
export function content(bytes: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    // xorshift32: cheap and not periodic over a few MB.
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `data` in `chunkBytes` pieces, honouring backpressure, then ends the stream. */
export function writeAll(stream: Duplex, data: Buffer, chunkBytes = 64 * 1024): Promise<void> {
  return new Promise((resolve, reject) => {
    let offset = 0;
    stream.once('error', reject);
    const pump = () => {
      while (offset < data.length) {
        const piece = data.subarray(offset, offset + chunkBytes);
        offset += piece.length;
        if (!stream.write(piece)) {
          stream.once('drain', pump);
          return;
        }
      }
      stream.end(() => resolve());
    };
    pump();
  });
}

/** Reads a stream to its end. */
export function readAll(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** Resolves on the first `event` of `emitter` whose payload satisfies `match`. */
export function once<T>(
  emitter: EventEmitter,
  event: string,
  match: (value: T) => boolean = () => true,
): Promise<T> {
  return new Promise((resolve) => {
    const listener = (value: T) => {
      if (!match(value)) return;
      emitter.off(event, listener);
      resolve(value);
    };
    emitter.on(event, listener);
  });
}
