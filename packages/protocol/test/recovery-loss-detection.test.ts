import t from 'tap';
import {
  AckOfUnsentPacket,
  LossDetection,
  PACKET_THRESHOLD,
  PTO_BACKOFF_MAX,
  PTO_MAX_MS,
  type AckOutcome,
  type AckRange,
  type SentPacket,
} from '@braid/protocol';

// Frames are opaque to loss detection: a label per packet is enough to follow them.
type Label = string;
const MAX_ACK_DELAY_MS = 25;
const PACKET_BYTES = 1200;

function detector(initialRttMs = 100): LossDetection<Label> {
  return new LossDetection<Label>({
    initialRttMs,
    maxDatagramBytes: PACKET_BYTES,
    algorithm: 'newreno',
  });
}

function send(ld: LossDetection<Label>, now: number, pn: number, ackEliciting = true): void {
  const packet: SentPacket<Label> = {
    packetNumber: pn,
    sentTimeMs: now,
    bytes: PACKET_BYTES,
    ackEliciting,
    inFlight: ackEliciting,
    frames: [`frame of ${pn}`],
  };
  ld.onPacketSent(now, packet);
}

function ack(ld: LossDetection<Label>, now: number, ...ranges: AckRange[]): AckOutcome<Label> {
  const out = ld.onAck(now, ranges, 0, MAX_ACK_DELAY_MS, true, false);
  if (out instanceof AckOfUnsentPacket) throw new Error(`unexpected ${out.packetNumber}`);
  return out;
}

const pns = (ps: readonly SentPacket<Label>[]) => ps.map((p) => p.packetNumber);
const r = (smallest: number, largest = smallest): AckRange => ({ smallest, largest });

t.test(`packet threshold: an ACK of pn+${PACKET_THRESHOLD} declares pn lost`, async (t) => {
  const ld = detector();
  for (let pn = 0; pn < 4; pn++) send(ld, 0, pn);
  t.equal(ld.bytesInFlight, 4 * PACKET_BYTES);
  const out = ack(ld, 10, r(3));
  t.same(pns(out.acked), [3]);
  t.same(pns(out.lost), [0], 'only 0 is 3 behind; 1 and 2 are not yet');
  t.same(out.lost[0]?.frames, ['frame of 0'], 'the frames come back to their owner');
  t.equal(ld.packetsLost, 1);
  t.equal(ld.bytesLost, PACKET_BYTES);
  t.equal(ld.bytesInFlight, 2 * PACKET_BYTES, '1 and 2 still in flight');
});

t.test('time threshold: the loss timer declares the rest lost after 9/8 RTT', async (t) => {
  const ld = detector();
  for (let pn = 0; pn < 4; pn++) send(ld, 0, pn);
  ack(ld, 10, r(3)); // RTT sample 10 ms: loss delay = 9/8 * 10 = 11.25 ms
  t.equal(ld.timeout(MAX_ACK_DELAY_MS), 11.25, 'the loss timer, sent time + loss delay');
  t.same(ld.onTimeout(11, MAX_ACK_DELAY_MS), { lost: [], probes: 0 }, 'early: nothing');
  const fired = ld.onTimeout(11.25, MAX_ACK_DELAY_MS);
  t.same(pns(fired.lost), [1, 2]);
  t.equal(fired.probes, 0, 'a loss timer sends no probes');
  t.equal(ld.bytesInFlight, 0);
  t.equal(ld.timeout(MAX_ACK_DELAY_MS), undefined, 'nothing left to time');
});

t.test('PTO: fires with two probes and doubles each time until acknowledged', async (t) => {
  const ld = detector(100);
  send(ld, 0, 0);
  // Before any sample: srtt 100, rttvar 50: PTO = 100 + 4 * 50 + 25.
  const pto = 325;
  t.equal(ld.timeout(MAX_ACK_DELAY_MS), pto);
  t.same(ld.onTimeout(pto - 1, MAX_ACK_DELAY_MS), { lost: [], probes: 0 });
  t.same(ld.onTimeout(pto, MAX_ACK_DELAY_MS), { lost: [], probes: 2 });
  t.equal(ld.ptoCount, 1);
  t.equal(ld.timeout(MAX_ACK_DELAY_MS), 2 * pto, 'backed off: 2 x PTO from the last send');
  send(ld, pto, 1); // the probe
  t.equal(ld.timeout(MAX_ACK_DELAY_MS), pto + 2 * pto, 'measured from the probe');
  t.equal(ld.onTimeout(3 * pto, MAX_ACK_DELAY_MS).probes, 2);
  t.equal(ld.timeout(MAX_ACK_DELAY_MS), pto + 4 * pto, 'doubled again');
  t.equal(ld.ptoFired, 2);
  const out = ack(ld, 3 * pto + 50, r(1));
  t.same(pns(out.acked), [1]);
  t.equal(ld.ptoCount, 0, 'an ACK resets the backoff');
});

t.test(`PTO backoff stops doubling after ${PTO_BACKOFF_MAX} timeouts`, async (t) => {
  // A tiny RTT, so that 2^PTO_BACKOFF_MAX x PTO stays below the PTO_MAX_MS ceiling.
  const ld = detector(0.5);
  const base = 0.5 + 1; // srtt + max(4 x rttvar, 1 ms granularity), no ack delay
  send(ld, 0, 0);
  for (let i = 0; i < PTO_BACKOFF_MAX + 5; i++) {
    const at = ld.timeout(0)!;
    t.equal(ld.onTimeout(at, 0).probes, 2);
  }
  t.equal(ld.ptoCount, PTO_BACKOFF_MAX + 5);
  t.equal(ld.ptoMs(0), base * 2 ** PTO_BACKOFF_MAX);
});

t.test(`a backed-off PTO never exceeds PTO_MAX_MS (${PTO_MAX_MS} ms)`, async (t) => {
  const ld = detector(100);
  send(ld, 0, 0);
  const seen: number[] = [];
  for (let i = 0; i < 8; i++) {
    const at = ld.timeout(MAX_ACK_DELAY_MS)!;
    ld.onTimeout(at, MAX_ACK_DELAY_MS);
    seen.push(ld.ptoMs(MAX_ACK_DELAY_MS));
  }
  t.same(seen, [650, 1300, 2600, PTO_MAX_MS, PTO_MAX_MS, PTO_MAX_MS, PTO_MAX_MS, PTO_MAX_MS]);
});

t.test('no PTO without ack-eliciting packets in flight', async (t) => {
  const ld = detector();
  t.equal(ld.timeout(MAX_ACK_DELAY_MS), undefined);
  send(ld, 0, 0, false); // an ACK-only packet
  t.equal(ld.timeout(MAX_ACK_DELAY_MS), undefined);
  t.equal(ld.bytesInFlight, 0);
});

t.test('an ACK of a packet never sent is reported, and changes nothing', async (t) => {
  const ld = detector();
  const none = ld.onAck(0, [r(0)], 0, MAX_ACK_DELAY_MS, true, false);
  t.ok(none instanceof AckOfUnsentPacket, 'nothing sent yet');
  send(ld, 0, 0);
  send(ld, 0, 1);
  const beyond = ld.onAck(5, [r(2), r(0, 1)], 0, MAX_ACK_DELAY_MS, true, false);
  t.ok(beyond instanceof AckOfUnsentPacket);
  t.equal(beyond instanceof AckOfUnsentPacket ? beyond.packetNumber : -1, 2);
  t.equal(ld.bytesInFlight, 2 * PACKET_BYTES, 'the valid part was not applied either');
  t.equal(ld.largestAcked, -1);
  t.same(pns(ack(ld, 6, r(0, 1)).acked), [0, 1]);
});

t.test('skipped packet numbers: an ACK of one is an ACK of a packet never sent', async (t) => {
  const ld = detector();
  send(ld, 0, 0);
  ack(ld, 1, r(0));
  ld.skipPacketNumbers(100);
  send(ld, 2, 100);
  const out = ld.onAck(3, [r(100), r(50)], 0, MAX_ACK_DELAY_MS, true, false);
  t.notOk(out instanceof AckOfUnsentPacket, 'numbers below the largest sent are not "unsent"');
  t.same(out instanceof AckOfUnsentPacket ? [] : pns(out.acked), [100]);
  t.ok(ld.onAck(3, [r(101)], 0, MAX_ACK_DELAY_MS, true, false) instanceof AckOfUnsentPacket);
  send(ld, 4, 101);
  t.throws(() => ld.skipPacketNumbers(200), RangeError, 'not with packets outstanding');
});

/** An RTT sample of 100 ms at t=100, then ack-eliciting packets 1.. sent at `sendTimes`. */
function persistentSetup(sendTimes: number[]): LossDetection<Label> {
  const ld = detector(100);
  send(ld, 0, 0);
  ack(ld, 100, r(0));
  sendTimes.forEach((at, i) => send(ld, at, i + 1));
  return ld;
}

t.test('persistent congestion: every packet over 3 x PTO lost collapses the window', async (t) => {
  const ld = persistentSetup([200, 700, 1300, 1400]);
  const before = ld.cc.windowBytes;
  const out = ack(ld, 1500, r(4));
  t.same(
    pns(out.lost),
    [1, 2, 3],
    'lost across 1100 ms > 3 x PTO (825 ms after the second sample)',
  );
  t.equal(ld.persistentCongestionEvents, 1);
  // The minimum window (2 packets); no recovery period follows a collapse (RFC 9002 B.8), so
  // slow start then grows it by packet 4, acknowledged in the same ACK.
  t.equal(ld.cc.windowBytes, 3 * PACKET_BYTES);
  t.equal(before, 11 * PACKET_BYTES, 'from the initial window, grown by packet 0');
});

t.test('no persistent congestion when a packet in the period was acknowledged', async (t) => {
  const ld = persistentSetup([200, 700, 1300, 1400]);
  const before = ld.cc.windowBytes;
  const out = ack(ld, 1500, r(4), r(2));
  t.same(pns(out.lost), [1, 3], 'the same span, but 2 got through');
  t.equal(ld.persistentCongestionEvents, 0);
  t.equal(ld.cc.windowBytes, before / 2, 'an ordinary halving (NewReno)');
});

t.test('no persistent congestion when the lost packets span less than 3 x PTO', async (t) => {
  const ld = persistentSetup([800, 1000, 1300, 1400]);
  const out = ack(ld, 1500, r(4));
  t.same(pns(out.lost), [1, 2, 3], 'lost across 500 ms < 825 ms');
  t.equal(ld.persistentCongestionEvents, 0);
});

t.test('no persistent congestion for packets sent before the first RTT sample', async (t) => {
  const ld = detector(100);
  for (const [pn, at] of [
    [0, 0],
    [1, 1000],
    [2, 2000],
    [3, 2100],
  ] as const)
    send(ld, at, pn);
  const out = ack(ld, 2200, r(3));
  t.same(pns(out.lost), [0, 1, 2]);
  t.equal(ld.persistentCongestionEvents, 0, 'lost before there was an RTT to compare with');
});

t.test(
  'an RTT sample is taken only when the largest acknowledged is newly acknowledged',
  async (t) => {
    const ld = detector(100);
    send(ld, 0, 0);
    send(ld, 0, 1);
    send(ld, 10, 2, false); // not ack-eliciting
    const first = ack(ld, 50, r(1));
    t.ok(first.rttSampled);
    t.equal(ld.rtt.latestMs, 50);
    const again = ack(ld, 80, r(0, 1));
    t.same(pns(again.acked), [0], 'the older packet is newly acknowledged');
    t.notOk(again.rttSampled, 'but the largest (1) was acknowledged before');
    t.equal(ld.rtt.latestMs, 50, 'no sample of 80 ms');
    const nonEliciting = ack(ld, 90, r(2));
    t.notOk(nonEliciting.rttSampled, 'a newly acknowledged largest that elicits nothing');
    t.equal(ld.rtt.latestMs, 50);
    const duplicate = ack(ld, 100, r(0, 2));
    t.same(pns(duplicate.acked), [], 'a duplicate ACK acknowledges nothing');
    t.notOk(duplicate.rttSampled);
  },
);
