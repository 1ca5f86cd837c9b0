import t from 'tap';
import { ACK_RANGES_MAX, AckTracker, type Frame } from '@braid/protocol';

const MAX_ACK_DELAY_MS = 25;

function ranges(f: (Frame & { type: 'ack' }) | undefined): [number, number][] {
  return (f?.ranges ?? []).map((r) => [r.smallest, r.largest]);
}

t.test(
  'every second ack-eliciting packet is acknowledged at once (RFC 9000 §13.2.2)',
  async (t) => {
    const a = new AckTracker(MAX_ACK_DELAY_MS);
    a.onPacket(0, 0, true);
    t.notOk(a.mustSend(0), 'one packet: not yet');
    a.onPacket(1, 1, true);
    t.ok(a.mustSend(1), 'the second: at once');
    t.equal(a.deadline, undefined, 'no delayed deadline once immediate');
    t.same(ranges(a.frame(1)), [[0, 1]]);
    t.notOk(a.mustSend(1), 'the frame resets the count');
    a.onPacket(2, 2, true);
    t.notOk(a.mustSend(2), 'counting starts again');
    a.onPacket(3, 3, true);
    t.ok(a.mustSend(3));
  },
);

t.test('a lone ack-eliciting packet waits max_ack_delay', async (t) => {
  const a = new AckTracker(MAX_ACK_DELAY_MS);
  a.onPacket(100, 0, true);
  t.equal(a.deadline, 125);
  t.notOk(a.mustSend(124.9));
  t.ok(a.mustSend(125));
  const f = a.frame(130);
  t.same(ranges(f), [[0, 0]]);
  t.equal(f?.ackDelayMs, 30, 'the delay since the largest arrived');
  t.equal(a.deadline, undefined);
  t.notOk(a.mustSend(1000));
});

t.test('packets that are not ack-eliciting set no timer but are reported', async (t) => {
  const a = new AckTracker(MAX_ACK_DELAY_MS);
  t.notOk(a.hasNews);
  t.equal(a.frame(0), undefined, 'nothing received: no frame');
  a.onPacket(0, 0, false);
  a.onPacket(0, 1, false);
  a.onPacket(0, 2, false);
  t.notOk(a.mustSend(10_000), 'never forced');
  t.equal(a.deadline, undefined);
  t.ok(a.hasNews, 'but worth piggybacking');
  t.same(ranges(a.frame(5)), [[0, 2]]);
  t.notOk(a.hasNews, 'reported');
});

t.test('out of order or a gap: acknowledged at once (RFC 9000 §13.2.1)', async (t) => {
  const gap = new AckTracker(MAX_ACK_DELAY_MS);
  gap.onPacket(0, 0, true);
  gap.frame(0);
  gap.onPacket(1, 2, true);
  t.ok(gap.mustSend(1), 'packet 1 is missing');

  const late = new AckTracker(MAX_ACK_DELAY_MS);
  late.onPacket(0, 5, true);
  late.frame(0);
  late.onPacket(1, 3, true);
  t.ok(late.mustSend(1), 'older than the largest');

  const inOrder = new AckTracker(MAX_ACK_DELAY_MS);
  inOrder.onPacket(0, 5, true);
  inOrder.frame(0);
  inOrder.onPacket(1, 6, true);
  t.notOk(inOrder.mustSend(1), 'the next one in order waits');

  const notEliciting = new AckTracker(MAX_ACK_DELAY_MS);
  notEliciting.onPacket(0, 0, true);
  notEliciting.frame(0);
  notEliciting.onPacket(1, 9, false);
  t.notOk(notEliciting.mustSend(1), 'a gap revealed by an ACK-only packet forces nothing');
});

t.test('ranges are listed largest first', async (t) => {
  const a = new AckTracker(MAX_ACK_DELAY_MS);
  for (const pn of [0, 1, 2, 9, 5, 6, 12]) a.onPacket(0, pn, true);
  t.same(ranges(a.frame(0)), [
    [12, 12],
    [9, 9],
    [5, 6],
    [0, 2],
  ]);
  t.equal(a.largest, 12);
});

t.test('ranges the peer has seen acknowledged are pruned (RFC 9000 §13.2.4)', async (t) => {
  const a = new AckTracker(MAX_ACK_DELAY_MS);
  for (const pn of [0, 1, 2, 4, 5]) a.onPacket(0, pn, true);
  const first = a.frame(0)!;
  t.same(ranges(first), [
    [4, 5],
    [0, 2],
  ]);
  a.onPacket(1, 7, true);
  a.onAckAcked(first.ranges[0]!.largest);
  t.same(ranges(a.frame(1)), [[7, 7]], 'only what is above the acknowledged ACK');
  a.onAckAcked(7);
  t.notOk(a.hasNews);
  t.equal(a.frame(2), undefined, 'everything pruned');
});

t.test(
  `at most ACK_RANGES_MAX (${ACK_RANGES_MAX}) ranges are kept, the lowest dropped`,
  async (t) => {
    const a = new AckTracker(MAX_ACK_DELAY_MS);
    for (let i = 0; i < ACK_RANGES_MAX + 10; i++) a.onPacket(0, i * 2, true);
    const f = a.frame(0)!;
    t.equal(f.ranges.length, ACK_RANGES_MAX);
    t.equal(f.ranges[0]!.largest, (ACK_RANGES_MAX + 9) * 2);
    t.equal(f.ranges[ACK_RANGES_MAX - 1]!.smallest, 20, 'the ten lowest are gone');
  },
);
