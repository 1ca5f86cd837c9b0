/**
 * Two endpoints joined by an in-memory, lossless, zero-delay wire — for unit tests of the
 * handshake and packet protection. Fault injection lives in @braid/netsim.
 */
import {
  createSeededRandom,
  createSodiumCrypto,
  Endpoint,
  generateIdentity,
  type CryptoProvider,
  type EndpointEvent,
  type EndpointOptions,
  type Identity,
  type Transmit,
} from '@braid/protocol';

export const A = '198.51.100.1:4433';
export const B = '203.0.113.1:4433';

export interface Pair {
  crypto: CryptoProvider;
  a: Endpoint;
  b: Endpoint;
  aId: Identity;
  bId: Identity;
  now: number;
  /** Every datagram that crossed the wire, in order. */
  wire: Transmit[];
  events: { a: EndpointEvent[]; b: EndpointEvent[] };
  /** Delivers queued datagrams and fires timers until quiet or `untilMs`. `tap` may drop/alter. */
  run(untilMs?: number, tap?: (t: Transmit) => Uint8Array | undefined): void;
}

export async function makePair(
  seed = 1,
  options: Partial<EndpointOptions> = {},
  bOptions: Partial<EndpointOptions> = {},
): Promise<Pair> {
  const crypto = await createSodiumCrypto();
  const random = createSeededRandom(seed);
  const aId = generateIdentity(crypto, random);
  const bId = generateIdentity(crypto, random);
  const a = new Endpoint({ identity: aId, crypto, random, ...options });
  const b = new Endpoint({ identity: bId, crypto, random, ...options, ...bOptions });
  const pair: Pair = {
    crypto,
    a,
    b,
    aId,
    bId,
    now: 0,
    wire: [],
    events: { a: [], b: [] },
    run(untilMs = pair.now + 120_000, tap) {
      for (let steps = 0; steps < 100_000; steps++) {
        let moved = false;
        for (const [from, to] of [
          [a, b],
          [b, a],
        ] as const) {
          for (let t = from.pollTransmit(pair.now); t; t = from.pollTransmit(pair.now)) {
            moved = true;
            pair.wire.push(t);
            const bytes = tap ? tap(t) : t.bytes;
            if (bytes) to.handleDatagram(pair.now, { local: t.to, remote: t.from }, bytes);
          }
        }
        for (let e = a.pollEvent(); e; e = a.pollEvent()) pair.events.a.push(e);
        for (let e = b.pollEvent(); e; e = b.pollEvent()) pair.events.b.push(e);
        if (moved) continue;
        const deadlines = [a.pollTimeout(), b.pollTimeout()].filter((d) => d !== undefined);
        if (deadlines.length === 0) return;
        const next = Math.min(...deadlines);
        if (next > untilMs) return;
        pair.now = Math.max(pair.now, next);
        a.handleTimeout(pair.now);
        b.handleTimeout(pair.now);
      }
      throw new Error('pair.run: step bound reached (livelock?)');
    },
  };
  return pair;
}
