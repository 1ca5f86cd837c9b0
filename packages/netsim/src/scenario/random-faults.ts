/**
 * A whole fault configuration derived from one seed (after TigerBeetle's simulator): delay,
 * jitter, independent and bursty loss, duplication, reordering, corruption, a rate limit with a
 * small queue, link flaps, the handshake pattern and the workload. Faults stop at `healAtMs`,
 * after which the run must complete (liveness).
 */
import { createSeededRandom } from '@braid/protocol';
import { gilbertElliottFromMeanLoss, type LinkOptions } from '../link.js';
import type { ExchangeOptions } from './datagram-exchange.js';
import type { TransferOptions } from './stream-transfer.js';

/** Faults stop here; the run then has the rest of `maxVirtualMs` to finish. */
export const SWEEP_HEAL_AT_MS = 60_000;
export const SWEEP_MAX_VIRTUAL_MS = 900_000;

export function randomFaults(seed: number): Omit<ExchangeOptions, 'crypto'> {
  const r = createSeededRandom((seed ^ 0xfa0175) >>> 0);
  const chance = (p: number) => r.nextFloat() < p;
  const between = (lo: number, hi: number) => lo + r.nextFloat() * (hi - lo);
  const direction = (): LinkOptions => {
    const burst = chance(0.3);
    const loss = chance(0.7) ? between(0, 0.3) : 0;
    return {
      delayMs: between(0.5, 250),
      jitterMs: chance(0.3) ? between(0, 50) : 0,
      ...(burst
        ? {
            gilbertElliott: gilbertElliottFromMeanLoss({
              lossRate: Math.max(loss, 0.01),
              meanBurstLength: between(1, 6),
            }),
          }
        : { loss }),
      duplicate: chance(0.3) ? between(0, 0.5) : 0,
      reorder: chance(0.3) ? between(0, 0.3) : 0,
      reorderDelayMs: between(1, 60),
      corrupt: chance(0.3) ? between(0, 0.1) : 0,
      ...(chance(0.3)
        ? { rateBps: between(1e6, 100e6), queuePackets: Math.floor(between(8, 256)) }
        : {}),
    };
  };
  const forward = direction();
  const reverse = chance(0.5) ? forward : direction();
  return {
    seed,
    pattern: chance(0.5) ? 'ik' : 'xx',
    messages: Math.floor(between(5, 60)),
    messageBytes: Math.floor(between(1, 1160)),
    link: forward,
    reverse,
    ...(chance(0.3)
      ? {
          flap: {
            periodMs: Math.floor(between(2000, 7000)),
            downMs: Math.floor(between(100, 1900)),
          },
        }
      : {}),
    healAtMs: SWEEP_HEAL_AT_MS,
    maxVirtualMs: SWEEP_MAX_VIRTUAL_MS,
  };
}

/**
 * The same fault configuration as {@link randomFaults}, carrying a stream workload instead:
 * one to four streams of up to 256 KiB each (sizes from their own random stream, so the faults
 * of seed N are the same in both sweeps).
 */
export function randomTransfer(seed: number): Omit<TransferOptions, 'crypto'> {
  const { messages: _m, messageBytes: _b, ...faults } = randomFaults(seed);
  const r = createSeededRandom((seed ^ 0x5712ea) >>> 0);
  const streams = 1 + Math.floor(r.nextFloat() * 4);
  const sizes = Array.from({ length: streams }, () => Math.floor(r.nextFloat() * 256 * 1024));
  // Faults may silence a direction for longer than the default idle (30 s) or handshake (60 s)
  // timeout: per-packet loss bursts last long in time when traffic is sparse. Those timeouts
  // closing the session would be correct, but the sweep judges liveness after healing, so
  // here they outlast the fault phase. Their own behaviour is tested on its own.
  const endpoint = {
    idleTimeoutMs: 2 * SWEEP_HEAL_AT_MS,
    handshakeTimeoutMs: 2 * SWEEP_HEAL_AT_MS,
  };
  return { ...faults, sizes, endpoint };
}
