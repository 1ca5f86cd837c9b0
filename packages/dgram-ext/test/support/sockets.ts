import { randomBytes } from 'node:crypto';
import {
  addonLoadError,
  openSocket,
  type DgramExtSocket,
  type DgramExtSocketOptions,
} from '@braid/dgram-ext';

/** Why native tests skip here (no compiler at install, not Linux), or false when they run. */
export const noAddon: string | false = addonLoadError()?.message ?? false;

export const LOOPBACK = '127.0.0.1';

/** A socket on loopback whose received datagrams are copied into `received` in order. */
export async function collector(
  options: Partial<DgramExtSocketOptions> = {},
): Promise<{ socket: DgramExtSocket; received: Buffer[]; batches: number[] }> {
  const received: Buffer[] = [];
  const batches: number[] = [];
  const socket = await openSocket({
    type: 'udp4',
    address: LOOPBACK,
    ...options,
    onBatch: (b) => {
      batches.push(b.count);
      for (let i = 0; i < b.count; i++) {
        const offset = b.segments[2 * i]!;
        received.push(Buffer.from(b.data.subarray(offset, offset + b.segments[2 * i + 1]!)));
      }
    },
  });
  return { socket, received, batches };
}

/** Resolves once `check` holds, polling the loop; no assertion is made on how long it took. */
export async function until(check: () => boolean, what: string, turnsMax = 2000): Promise<void> {
  for (let turn = 0; turn < turnsMax; turn++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never happened: ${what}`);
}

export function payloads(lengths: number[]): Buffer[] {
  return lengths.map((n) => randomBytes(n));
}
