import { fileURLToPath } from 'node:url';
import { JsSocket } from './fallback.js';
import { loadBinding, NativeSocket } from './native.js';
import type { DgramExtSocket, DgramExtSocketOptions } from './types.js';

export { DgramExtError } from './errors.js';
export { BATCH_MAX, SEGMENTS_MAX } from './types.js';
export type {
  DgramExtFeatures,
  DgramExtSocket,
  DgramExtSocketOptions,
  DgramExtStats,
  ReceivedBatch,
} from './types.js';

/** Where `pnpm --filter @braid/dgram-ext build:native` writes the addon. */
export const defaultAddonPath = fileURLToPath(new URL('../build/dgram_ext.node', import.meta.url));

/** Why the addon at `path` does not load, or undefined when it does. */
export function addonLoadError(path = defaultAddonPath): Error | undefined {
  const binding = loadBinding(path);
  return binding instanceof Error ? binding : undefined;
}

/**
 * Opens and binds a UDP socket: the native addon's when it loads (and `implementation` is not
 * `js`), else node:dgram's with the same interface.
 */
export async function openSocket(options: DgramExtSocketOptions): Promise<DgramExtSocket> {
  const implementation = options.implementation ?? 'auto';
  if (implementation !== 'js') {
    const binding = loadBinding(options.addonPath ?? defaultAddonPath);
    if (!(binding instanceof Error)) return new NativeSocket(binding, options);
    if (implementation === 'native') throw binding;
  }
  return JsSocket.open(options);
}
