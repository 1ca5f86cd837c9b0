import t from 'tap';
import { gilbertElliottFromMeanLoss, readSequence, type LinkOptions } from '@braid/netsim';
import { overOneLink, sequenced } from './support/one-link.js';

/** Sends `count` sequenced datagrams over one link and returns the sequence numbers received. */
function sendOver(seed: number, count: number, options: LinkOptions) {
  const { arrivals, stats } = overOneLink(seed, sequenced(count, 0.1), options, count);
  return { received: arrivals.map((a) => readSequence(a.bytes)), stats };
}

/** Lengths of the runs of consecutive missing sequence numbers. */
function lossBursts(received: number[], count: number): number[] {
  const bursts: number[] = [];
  let expected = 0;
  for (const seq of [...received, count]) {
    if (seq > expected) bursts.push(seq - expected);
    expected = seq + 1;
  }
  return bursts;
}

t.test('independent loss drops the configured fraction of 20,000 datagrams', (t) => {
  const count = 20_000;
  const { received, stats } = sendOver(11, count, { loss: 0.1 });
  const lossRate = 1 - received.length / count;
  t.ok(Math.abs(lossRate - 0.1) < 0.01, `loss rate ${lossRate}`);
  t.equal(stats.dropped.loss, count - received.length, 'every loss is counted as loss');
  t.equal(stats.delivered, received.length);
  t.equal(stats.sent, count);
  // Independent losses are mostly single: a burst of length k has probability 0.9 * 0.1^(k-1).
  const bursts = lossBursts(received, count);
  const meanBurst = bursts.reduce((s, b) => s + b, 0) / bursts.length;
  t.ok(Math.abs(meanBurst - 1 / 0.9) < 0.05, `mean burst ${meanBurst}`);
  t.end();
});

t.test('loss 0 delivers everything and loss 1 nothing', (t) => {
  t.equal(sendOver(12, 1000, { loss: 0 }).received.length, 1000);
  const none = sendOver(12, 1000, { loss: 1 });
  t.equal(none.received.length, 0);
  t.equal(none.stats.dropped.loss, 1000);
  t.end();
});

t.test('Gilbert–Elliott loss has the configured mean loss and mean burst length', (t) => {
  const count = 40_000;
  const gilbertElliott = gilbertElliottFromMeanLoss({ lossRate: 0.05, meanBurstLength: 4 });
  t.equal(gilbertElliott.pBadToGood, 0.25);
  const { received, stats } = sendOver(13, count, { gilbertElliott });
  const lossRate = 1 - received.length / count;
  t.ok(Math.abs(lossRate - 0.05) < 0.01, `loss rate ${lossRate}`);
  const bursts = lossBursts(received, count);
  const meanBurst = bursts.reduce((s, b) => s + b, 0) / bursts.length;
  t.ok(Math.abs(meanBurst - 4) < 0.6, `mean burst ${meanBurst} over ${bursts.length} bursts`);
  t.equal(
    stats.dropped.burst_loss,
    count - received.length,
    'Bad-state losses count as burst_loss',
  );
  t.equal(stats.dropped.loss, 0);
  t.end();
});

t.test('Gilbert–Elliott loss is burstier than independent loss at the same rate', (t) => {
  const count = 20_000;
  const bursty = sendOver(14, count, {
    gilbertElliott: gilbertElliottFromMeanLoss({ lossRate: 0.1, meanBurstLength: 8 }),
  });
  const independent = sendOver(14, count, { loss: 0.1 });
  const longest = (r: number[]) => Math.max(...lossBursts(r, count));
  t.ok(longest(bursty.received) > 2 * longest(independent.received));
  t.end();
});

t.test('losses in the Good state are counted as loss, in Bad as burst_loss', (t) => {
  const { stats } = sendOver(15, 10_000, {
    gilbertElliott: { pGoodToBad: 0.01, pBadToGood: 0.5, lossGood: 0.02, lossBad: 0.5 },
  });
  t.ok(stats.dropped.loss > 100 && stats.dropped.loss < 300, `loss ${stats.dropped.loss}`);
  t.ok(stats.dropped.burst_loss > 0, `burst_loss ${stats.dropped.burst_loss}`);
  t.end();
});

t.test('gilbertElliottFromMeanLoss rejects impossible parameters', (t) => {
  t.throws(() => gilbertElliottFromMeanLoss({ lossRate: 1, meanBurstLength: 2 }), {
    code: 'ERR_BRAID_INVALID_OPTION',
  });
  t.throws(() => gilbertElliottFromMeanLoss({ lossRate: 0.1, meanBurstLength: 0.5 }), {
    code: 'ERR_BRAID_INVALID_OPTION',
  });
  t.throws(() => gilbertElliottFromMeanLoss({ lossRate: 0.9, meanBurstLength: 1 }), {
    code: 'ERR_BRAID_INVALID_OPTION',
  });
  t.same(gilbertElliottFromMeanLoss({ lossRate: 0, meanBurstLength: 3 }).pGoodToBad, 0);
  t.end();
});
