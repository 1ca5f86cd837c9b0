import t from 'tap';
import { createSodiumCrypto } from '@braid/protocol';
import {
  gilbertElliottFromMeanLoss,
  runStreamTransfer,
  seedFromEnv,
  type TransferOptions,
  type TransferResult,
} from '@braid/netsim';

const MB = 1 << 20;
const seed = seedFromEnv(process.env, 3);

async function transfer(
  options: Omit<TransferOptions, 'seed' | 'crypto'>,
): Promise<TransferResult> {
  return runStreamTransfer({ seed, crypto: await createSodiumCrypto(), ...options });
}

function dropped(r: TransferResult, reason: string): number {
  return r.links.reduce((n, l) => n + (l.dropped[reason] ?? 0), 0);
}

t.test(
  '2 + 3 + 5 MB over 15 ms, 10 Mbit/s, a 25-packet queue: byte-exact, near line rate',
  async (t) => {
    for (const congestion of ['cubic', 'newreno'] as const) {
      const r = await transfer({
        sizes: [2 * MB, 3 * MB, 5 * MB],
        link: { delayMs: 15, rateBps: 10e6, queuePackets: 25 },
        endpoint: { congestion },
      });
      t.ok(r.verified, `${congestion}: ${r.failure ?? 'verified'}`);
      t.equal(r.bytes, 10 * MB, `${congestion}: every byte`);
      t.equal(r.hash.received, r.hash.sent, `${congestion}: hashes agree`);
      // Virtual time, so this is exact arithmetic, not a wall-clock assertion: 1200-byte packets
      // carry ~1150 bytes of stream data, so ~95% of 10 Mbit/s is the ceiling.
      t.ok(
        r.goodputBps > 7.5e6,
        `${congestion}: goodput ${(r.goodputBps / 1e6).toFixed(2)} Mbit/s`,
      );
      t.ok(dropped(r, 'queue') > 0, `${congestion}: the queue overflowed and losses were repaired`);
      t.ok(r.retransmittedBytes > 0, `${congestion}: ${r.retransmittedBytes} bytes retransmitted`);
    }
  },
);

t.test('2 MB at 2% loss in bursts (Gilbert-Elliott, mean burst 3): byte-exact', async (t) => {
  const r = await transfer({
    sizes: [2 * MB],
    link: {
      delayMs: 10,
      gilbertElliott: gilbertElliottFromMeanLoss({ lossRate: 0.02, meanBurstLength: 3 }),
    },
  });
  t.ok(r.verified, r.failure ?? 'verified');
  t.ok(dropped(r, 'burst_loss') > 0, `${dropped(r, 'burst_loss')} packets lost in bursts`);
});

t.test('10 MB at 10% loss, 1 MB at 30% loss: byte-exact', async (t) => {
  const ten = await transfer({ sizes: [10 * MB], link: { delayMs: 10, loss: 0.1 } });
  t.ok(ten.verified, `10%: ${ten.failure ?? 'verified'}`);
  t.equal(ten.bytes, 10 * MB);
  t.ok(dropped(ten, 'loss') > 1000, `10%: ${dropped(ten, 'loss')} packets lost`);
  const thirty = await transfer({ sizes: [1 * MB], link: { delayMs: 10, loss: 0.3 } });
  t.ok(thirty.verified, `30%: ${thirty.failure ?? 'verified'}`);
  t.ok(dropped(thirty, 'loss') > 300, `30%: ${dropped(thirty, 'loss')} packets lost`);
});

t.test('50% duplication and heavy reordering: byte-exact, nothing delivered twice', async (t) => {
  // Every read is compared with the bytes expected at the reader's offset, so a duplicate
  // delivery would show as a mismatch or as bytes beyond the end.
  const r = await transfer({
    sizes: [2 * MB, 512 * 1024],
    link: { delayMs: 10, duplicate: 0.5, reorder: 0.3, reorderDelayMs: 20 },
  });
  t.ok(r.verified, r.failure ?? 'verified');
  const links = r.links[0]!;
  t.ok(links.duplicated > 500, `${links.duplicated} duplicated`);
  t.ok(links.reordered > 300, `${links.reordered} reordered`);
  t.equal(r.bytes, 2.5 * MB);
});

t.test(
  'blackholed 2 s out of every 7 during 16 MB: survives, byte-exact, no new handshake',
  async (t) => {
    const r = await transfer({
      sizes: [16 * MB],
      link: { delayMs: 10, rateBps: 20e6, queuePackets: 50 },
      flap: { periodMs: 7000, downMs: 2000, offsetMs: 1000 },
    });
    t.ok(r.verified, r.failure ?? 'verified');
    t.ok(r.virtualMs > 8000, `the transfer spans two outages (${Math.round(r.virtualMs)} ms)`);
    t.ok(dropped(r, 'blackhole') > 50, `${dropped(r, 'blackhole')} packets fell in the holes`);
    t.same(
      r.sessions,
      { establishedAtA: 1, establishedAtB: 1, closes: [] },
      'one session, never closed',
    );
    t.equal(r.endpoints.a.handshakes.started, 1, 'no new handshake');
  },
);

t.test('1,000 concurrent small streams all complete', async (t) => {
  const r = await transfer({
    sizes: Array.from({ length: 1000 }, (_, i) => 500 + i),
    link: { delayMs: 10, loss: 0.01 },
  });
  t.ok(r.verified, r.failure ?? 'verified');
  t.equal(r.streams, 1000);
  t.equal(r.bytes, 500 * 1000 + (999 * 1000) / 2);
});

t.test('same seed, same run: the transfer is deterministic', async (t) => {
  const options = { sizes: [MB], link: { delayMs: 20, loss: 0.05, jitterMs: 5 } };
  const one = await transfer(options);
  const two = await transfer(options);
  t.ok(one.verified);
  t.same(two, one, 'identical results, packet for packet');
});
