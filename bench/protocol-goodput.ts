/**
 * protocol-goodput: how fast the sans-IO protocol moves one bulk stream between two sessions
 * joined by an in-memory pipe (no sockets, no simulated delay), with 1,400-byte packets, and how
 * its CPU time splits between the AEAD and everything else (framing, acknowledgement, loss
 * detection, congestion control, flow control, copies).
 *
 * The split is measured without timing individual calls (which would distort both sides): the
 * crypto provider is wrapped to count the calls and bytes sealed and opened during the transfer,
 * and in the same run the same provider's seal and open are timed alone on a full packet and on
 * an ACK-sized one. That fits a cost per call plus a cost per byte for each, so the AEAD time of
 * the transfer counts the many small ACK packets at their real price. The rest is the
 * transfer's wall time minus that. Target: rest / AEAD ≤ 1.0.
 */
import { performance } from 'node:perf_hooks';
import {
  createSeededRandom,
  createSodiumCrypto,
  Endpoint,
  generateIdentity,
  type CryptoProvider,
} from '@braid/protocol';
import { interleavedCallsPerSecond } from './measure.js';
import type { Benchmark, BenchRunResult } from './types.js';

const PACKET_BYTES = 1400;
const TRANSFER_BYTES = 64 << 20;
const CHUNK_BYTES = 256 << 10;
const A = '198.51.100.1:4433';
const B = '203.0.113.1:4433';

interface Counted extends CryptoProvider {
  seals: number;
  opens: number;
  sealedBytes: number;
  openedBytes: number;
}

function counting(inner: CryptoProvider): Counted {
  const c = Object.create(inner) as Counted;
  c.seals = c.opens = c.sealedBytes = c.openedBytes = 0;
  c.aeadSeal = (key, nonce, ad, plaintext) => {
    c.seals++;
    c.sealedBytes += plaintext.length;
    return inner.aeadSeal(key, nonce, ad, plaintext);
  };
  c.aeadOpen = (key, nonce, ad, sealed) => {
    c.opens++;
    c.openedBytes += sealed.length;
    return inner.aeadOpen(key, nonce, ad, sealed);
  };
  return c;
}

/** Moves `bytes` over one stream; returns the wall time in ms. Throws if a byte goes astray. */
function transfer(crypto: CryptoProvider, bytes: number): number {
  const random = createSeededRandom(1);
  const options = { crypto, random, maxDatagramBytes: PACKET_BYTES, keepaliveIntervalMs: 0 };
  const idA = generateIdentity(crypto, random);
  const idB = generateIdentity(crypto, random);
  const a = new Endpoint({ ...options, identity: idA });
  const b = new Endpoint({ ...options, identity: idB });
  const chunk = new Uint8Array(CHUNK_BYTES).map((_, i) => i * 7);
  const start = performance.now();
  const sid = a.connect(start, {
    remoteEid: idB.eid,
    remoteStaticKey: idB.publicKey,
    local: A,
    remote: B,
  });
  let bSid = -1;
  let streamId = -1;
  let written = 0;
  let received = 0;
  let ended = false;
  const write = (now: number) => {
    while (written < bytes) {
      // Stream byte x is chunk[x % CHUNK_BYTES], so the reader can check any byte.
      const from = written % CHUNK_BYTES;
      const piece = chunk.subarray(from, Math.min(CHUNK_BYTES, from + bytes - written));
      const n = a.streamWrite(now, sid, streamId, piece);
      written += n;
      if (n < piece.length) return;
    }
    if (!ended) a.streamEnd(now, sid, streamId);
    ended = true;
  };
  const read = (now: number, id: number) => {
    for (;;) {
      const r = b.streamRead(now, bSid, id, 1 << 20);
      if (!r) return;
      for (let i = 0; i < r.data.length; i += 4099)
        if (r.data[i] !== chunk[(received + i) % CHUNK_BYTES])
          throw new Error(`protocol-goodput: byte ${received + i} differs`);
      received += r.data.length;
      if (r.fin) return;
    }
  };
  for (let rounds = 0; received < bytes; rounds++) {
    if (rounds > 10_000_000) throw new Error('protocol-goodput: no progress');
    const now = performance.now();
    let moved = false;
    for (let t = a.pollTransmit(now); t; t = a.pollTransmit(now)) {
      b.handleDatagram(now, { local: B, remote: A }, t.bytes);
      moved = true;
    }
    for (let t = b.pollTransmit(now); t; t = b.pollTransmit(now)) {
      a.handleDatagram(now, { local: A, remote: B }, t.bytes);
      moved = true;
    }
    for (let e = a.pollEvent(); e; e = a.pollEvent()) {
      if (e.type === 'established') {
        streamId = a.openStream(now, sid);
        write(now);
      } else if (e.type === 'stream_writable') write(now);
    }
    for (let e = b.pollEvent(); e; e = b.pollEvent()) {
      if (e.type === 'established') bSid = e.session;
      else if (e.type === 'stream_readable') read(now, e.streamId);
    }
    if (!moved) {
      const deadline = Math.min(a.pollTimeout() ?? Infinity, b.pollTimeout() ?? Infinity);
      const t = Math.max(performance.now(), deadline);
      if (Number.isFinite(deadline) && deadline <= performance.now() + 1) {
        a.handleTimeout(t);
        b.handleTimeout(t);
      }
    }
  }
  return performance.now() - start;
}

export const protocolGoodput: Benchmark = {
  name: 'protocol-goodput',
  description: `one bulk stream of ${TRANSFER_BYTES >> 20} MiB between two sessions over an in-memory pipe, ${PACKET_BYTES}-byte packets; CPU split AEAD vs the rest`,
  ratios: [
    // The target "non-AEAD time / AEAD time ≤ 1.0", written as the runner's ≥ target.
    {
      name: 'AEAD time / non-AEAD time',
      numerator: 'aead ms',
      denominator: 'other ms',
      targetMin: 1.0,
    },
    { name: 'goodput / raw AEAD (seal+open)', numerator: 'goodput', denominator: 'aead seal+open' },
  ],
  async run(): Promise<BenchRunResult> {
    const sodium = await createSodiumCrypto();
    const crypto = counting(sodium);
    transfer(crypto, 4 << 20); // warm-up
    crypto.seals = crypto.opens = crypto.sealedBytes = crypto.openedBytes = 0;
    const ms = transfer(crypto, TRANSFER_BYTES);
    // Seal and open alone, same provider, same run: a full packet and an ACK-sized one.
    const key = new Uint8Array(32).fill(7);
    const nonce = new Uint8Array(12);
    const ad = new Uint8Array(13);
    const big = new Uint8Array(PACKET_BYTES - 13 - 16);
    const small = new Uint8Array(24);
    const bigSealed = sodium.aeadSeal(key, nonce, ad, big);
    const smallSealed = sodium.aeadSeal(key, nonce, ad, small);
    const perSecond = await interleavedCallsPerSecond({ warmupMs: 100, slices: 6, sliceMs: 50 }, [
      () => sodium.aeadSeal(key, nonce, ad, big),
      () => sodium.aeadSeal(key, nonce, ad, small),
      () => sodium.aeadOpen(key, nonce, ad, bigSealed),
      () => sodium.aeadOpen(key, nonce, ad, smallSealed),
    ]);
    const [sealBig, sealSmall, openBig, openSmall] = perSecond.map((n) => 1000 / n) as [
      number,
      number,
      number,
      number,
    ];
    // ms per call = fixed + perByte × bytes, from the two sizes.
    const fit = (tBig: number, tSmall: number, bigBytes: number, smallBytes: number) => {
      const perByte = Math.max(0, (tBig - tSmall) / (bigBytes - smallBytes));
      return { perByte, fixed: Math.max(0, tSmall - perByte * smallBytes) };
    };
    const seal = fit(sealBig, sealSmall, big.length, small.length);
    const open = fit(openBig, openSmall, bigSealed.length, smallSealed.length);
    const aeadMs =
      crypto.seals * seal.fixed +
      crypto.sealedBytes * seal.perByte +
      crypto.opens * open.fixed +
      crypto.openedBytes * open.perByte;
    // Seal plus open of full packets as a rate: the ceiling if AEAD were all there was.
    const rawAead = big.length / (sealBig + openBig) / 1000;
    return {
      metrics: {
        goodput: { value: TRANSFER_BYTES / 1e6 / (ms / 1000), unit: 'MB/s' },
        'transfer ms': { value: ms, unit: 'ms' },
        'aead ms': { value: aeadMs, unit: 'ms' },
        'other ms': { value: Math.max(0, ms - aeadMs), unit: 'ms' },
        'aead seal+open': { value: rawAead, unit: 'MB/s' },
      },
      notes: [
        `AEAD: libsodium-wrappers ChaCha20-Poly1305 (IETF); per transfer, both sides: ${crypto.seals} seals (${(crypto.sealedBytes / 1e6).toFixed(1)} MB), ${crypto.opens} opens (${(crypto.openedBytes / 1e6).toFixed(1)} MB)`,
        `seal ${(seal.fixed * 1000).toFixed(2)} µs/call + ${(seal.perByte * 1e6).toFixed(3)} ns/byte; open ${(open.fixed * 1000).toFixed(2)} µs/call + ${(open.perByte * 1e6).toFixed(3)} ns/byte`,
      ],
    };
  },
};
