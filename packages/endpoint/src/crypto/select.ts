/**
 * Which crypto backend an endpoint runs on. `libsodium-wrappers` (WebAssembly, always there) is
 * the default that works everywhere; `sodium-native` is used under `'auto'` only when its addon
 * loads AND a short measurement in this process shows it faster on what dominates a transfer:
 * sealing and opening full packets.
 *
 * The measurement: seal then open of one 1,400-byte packet, on each backend, in alternating
 * 25 ms slices (ABAB, two slices each, after a 10 ms warm-up of each), so a load that comes and
 * goes falls on both alike; about 120 ms once per process (the result is cached). sodium-native
 * must be at least {@link NATIVE_MIN_SPEEDUP}× as fast to be chosen: a tie is not worth a native
 * addon's risks. On the machine of docs' measurements it was about 2.2× (README).
 */
import { performance } from 'node:perf_hooks';
import { createSodiumCrypto, type CryptoProvider } from '@braid/protocol';
import { CryptoUnavailableError } from '../errors.js';
import { createSodiumNativeCrypto, sodiumNativeLoadError } from './sodium-native.js';

export type CryptoChoice = 'auto' | 'libsodium' | 'sodium-native';

/** sodium-native must be this many times faster than the WebAssembly backend to be chosen. */
export const NATIVE_MIN_SPEEDUP = 1.1;
/** Packet size of the measurement (the benchmark's and a typical full packet). */
export const MEASURE_PACKET_BYTES = 1400;
const SLICE_MS = 25;
const SLICES = 4;
const WARMUP_MS = 10;

export interface CryptoSelection {
  provider: CryptoProvider;
  /** Why this backend: what was asked, and the measurement or load failure behind it. */
  reason: string;
  /** Seal+open throughput of each backend in MB/s, when measured. */
  measured?: { libsodium: number; sodiumNative: number };
}

let autoChoice: Promise<CryptoSelection> | undefined;

/** Resolves the backend for `choice`; `'auto'` measures once per process. */
export function selectCrypto(choice: CryptoChoice = 'auto'): Promise<CryptoSelection> {
  switch (choice) {
    case 'libsodium':
      return createSodiumCrypto().then((provider) => ({ provider, reason: 'asked for' }));
    case 'sodium-native':
      return createSodiumNativeCrypto().then((provider) => {
        if (!provider)
          throw new CryptoUnavailableError(
            `sodium-native was asked for but did not load: ${sodiumNativeLoadError()?.message ?? 'unknown error'}`,
            { cause: sodiumNativeLoadError() },
          );
        return { provider, reason: 'asked for' };
      });
    case 'auto':
      autoChoice ??= chooseAuto();
      return autoChoice;
    default:
      return Promise.reject(
        new CryptoUnavailableError(
          `crypto must be 'auto', 'libsodium' or 'sodium-native', got ${String(choice)}`,
        ),
      );
  }
}

async function chooseAuto(): Promise<CryptoSelection> {
  const wasm = await createSodiumCrypto();
  const native = await createSodiumNativeCrypto();
  if (!native)
    return {
      provider: wasm,
      reason: `auto: sodium-native did not load (${sodiumNativeLoadError()?.message ?? 'unknown'})`,
    };
  // Both must agree before the faster may be used: a broken build must not be picked for speed.
  if (!sameResults(wasm, native))
    return { provider: wasm, reason: 'auto: sodium-native disagrees with libsodium-wrappers' };
  const [libsodium, sodiumNative] = sealOpenRates([wasm, native]);
  const measured = { libsodium: libsodium!, sodiumNative: sodiumNative! };
  const speedup = measured.sodiumNative / measured.libsodium;
  const figures = `seal+open of ${MEASURE_PACKET_BYTES}-byte packets: sodium-native ${measured.sodiumNative.toFixed(0)} MB/s, libsodium-wrappers ${measured.libsodium.toFixed(0)} MB/s`;
  return speedup >= NATIVE_MIN_SPEEDUP
    ? { provider: native, reason: `auto: ${figures}`, measured }
    : { provider: wasm, reason: `auto: ${figures} (below ${NATIVE_MIN_SPEEDUP}×)`, measured };
}

function sameResults(a: CryptoProvider, b: CryptoProvider): boolean {
  const key = new Uint8Array(32).map((_, i) => i);
  const nonce = new Uint8Array(12).fill(3);
  const ad = new Uint8Array(13).fill(1);
  const msg = new Uint8Array(100).map((_, i) => i * 7);
  const hex = (x: Uint8Array | null) => (x ? Buffer.from(x).toString('hex') : 'null');
  return (
    hex(a.aeadSeal(key, nonce, ad, msg)) === hex(b.aeadSeal(key, nonce, ad, msg)) &&
    hex(a.x25519PublicKey(key)) === hex(b.x25519PublicKey(key)) &&
    hex(a.blake2b(msg, 32, key)) === hex(b.blake2b(msg, 32, key))
  );
}

/** MB/s of seal followed by open of one packet, per provider, timed in alternating slices. */
function sealOpenRates(providers: CryptoProvider[]): number[] {
  const key = new Uint8Array(32).fill(7);
  const nonce = new Uint8Array(12);
  const ad = new Uint8Array(13);
  const plaintext = new Uint8Array(MEASURE_PACKET_BYTES - ad.length - 16);
  const rounds = providers.map((p) => () => {
    const sealed = p.aeadSeal(key, nonce, ad, plaintext);
    if (!p.aeadOpen(key, nonce, ad, sealed)) throw new Error(`${p.name}: open failed`);
  });
  for (const round of rounds) repeatFor(WARMUP_MS, round);
  const calls = providers.map(() => 0);
  const elapsed = providers.map(() => 0);
  for (let slice = 0; slice < SLICES; slice++)
    for (let j = 0; j < rounds.length; j++) {
      const i = slice % 2 === 0 ? j : rounds.length - 1 - j;
      const r = repeatFor(SLICE_MS, rounds[i]!);
      calls[i]! += r.calls;
      elapsed[i]! += r.ms;
    }
  return calls.map((n, i) => (n * plaintext.length) / 1000 / elapsed[i]!);
}

function repeatFor(ms: number, round: () => void): { calls: number; ms: number } {
  const start = performance.now();
  let calls = 0;
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 8; i++) round();
    calls += 8;
    elapsed = performance.now() - start;
  }
  return { calls, ms: elapsed };
}
