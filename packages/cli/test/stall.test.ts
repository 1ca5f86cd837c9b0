import t from 'tap';
import { StallMeter, STALL_BUCKET_MS } from '@braid/cli';

function stallOf(records: [number, number][], bucketMs?: number): [number, number | undefined] {
  const meter = new StallMeter(bucketMs);
  for (const [atMs, bytes] of records) meter.record(atMs, bytes);
  return [meter.stallMs, meter.stallFromMs];
}

t.test('the stall is the longest run of empty 10 ms buckets', (t) => {
  t.equal(STALL_BUCKET_MS, 10);
  t.same(stallOf([]), [0, undefined], 'nothing delivered: no stall');
  t.same(
    stallOf([
      [0, 1],
      [11, 1],
      [25, 1],
    ]),
    [0, undefined],
    'a byte in every bucket',
  );
  t.same(
    stallOf([
      [3, 1],
      [41, 1],
      [52, 0],
      [105, 5],
    ]),
    [50, 50],
    'buckets 1–3 then 5–9 empty: the longer gap wins; a 0-byte record is no delivery',
  );
  t.same(
    stallOf([
      [0, 1],
      [5, 1],
      [9, 1],
      [10, 1],
    ]),
    [0, undefined],
    'same bucket repeated',
  );
  t.same(
    stallOf(
      [
        [0, 1],
        [100, 1],
      ],
      50,
    ),
    [50, 50],
    'another bucket width',
  );
  t.same(
    stallOf([
      [0, 1],
      [200, 1],
      [150, 1],
      [230, 1],
    ]),
    [190, 10],
    'a late record from an earlier bucket does not shorten a gap already seen',
  );
  t.throws(() => new StallMeter(0), RangeError);
  t.end();
});

t.test('a mark starts the measurement: the wait for the first delivery after it counts', (t) => {
  const meter = new StallMeter();
  meter.mark(1000);
  meter.record(1105, 100);
  meter.record(1112, 100);
  t.equal(meter.stallMs, 90, 'buckets 101–109 had nothing');
  t.equal(meter.stallFromMs, 1010);
  const noDelivery = new StallMeter();
  noDelivery.mark(50);
  t.equal(noDelivery.stallMs, 0, 'a mark alone is no gap');
  t.end();
});
