/**
 * A stream handed to the application through a promise or a queue (`openStream`, a listener's
 * iterator) can be reset by the peer before the application's code has run: through braidd,
 * one read of the control socket often holds both the answer that hands the stream over and
 * the reset behind it (a peer that refuses at once), and a queued stream may wait long enough
 * for its opener to give up. Node emits a
 * stream's `'error'` on the next tick, before any promise continuation runs, so with no
 * listener yet it would end the process. Until it is claimed, such a stream's error is held
 * instead (the stream is destroyed and `errored` says why), and whoever hands the stream over
 * checks it first: `openStream` rejects with the error, an iterator skips the stream.
 */
import type { Duplex } from 'node:stream';

/** The guard: one listener shared by every held stream (and added once, however often held). */
const held = (): void => undefined;

/** Holds `stream`'s errors until {@link claimStream}. */
export function holdUntilClaimed(stream: Duplex): void {
  if (!stream.listeners('error').includes(held)) stream.on('error', held);
}

/**
 * Hands `stream` over: a live stream gets Node's usual error behaviour back (from now on its
 * errors go to the application's listeners) and true is returned. A stream already destroyed
 * returns false and keeps the guard, since its `'error'` may still be on its way.
 */
export function claimStream(stream: Duplex): boolean {
  if (stream.destroyed) return false;
  stream.off('error', held);
  return true;
}
