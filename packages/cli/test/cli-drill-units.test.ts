/**
 * The drill's pure parts, without daemons: the peer side's receipt (gaps, stall, the bounded
 * timeline), the CLI's parsers of the service's lines fed garbage, the size and time option
 * parsers, and the HTML page's escaping. The modules are not exported from the packages' entry
 * points, so they are imported from the built files beside this test's output.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import {
  DRILL_GAPS_MAX,
  DRILL_TIMELINE_BUCKETS_MAX,
  DrillReceipt,
} from '../../daemon/dist/drill-service.js';
import { parseByteSize, parseSeconds } from '../dist/drill-args.js';
import {
  DRILL_LINE_BYTES_MAX,
  LineReader,
  parseGreeting,
  parseReceipt,
} from '../dist/drill-wire.js';
import { renderDrillHtml } from '../dist/drill-report.js';
import type { DrillReport } from '../dist/drill-run.js';

t.test('the receipt: bytes, hash, the longest gaps in 10 ms buckets', (t) => {
  const r = new DrillReceipt();
  const chunk = Buffer.from('abcdefgh');
  // First byte at 1000 (the receipt's 0); then 0–9, 10–19, a gap of 50 ms, a gap of 20 ms.
  for (const at of [1000, 1005, 1012, 1075, 1078, 1105]) r.record(at, chunk);
  r.record(1200, new Uint8Array(0)); // nothing delivered: no effect
  const result = r.result();
  t.equal(result.bytes, 6 * chunk.length);
  t.equal(
    result.sha256,
    createHash('sha256')
      .update(Buffer.concat(Array(6).fill(chunk)))
      .digest('hex'),
  );
  t.equal(result.stallMs, 50, 'buckets 2–6 empty');
  t.equal(result.stallFromMs, 20);
  t.same(result.gaps, [
    { fromMs: 20, ms: 50 },
    { fromMs: 80, ms: 20 },
  ]);
  t.equal(result.durationMs, 105);
  t.equal(result.timeline.intervalMs, 100);
  t.same(result.timeline.bytes, [5 * chunk.length, chunk.length]);
  t.end();
});

t.test('the receipt stays bounded however long and gappy the drill', (t) => {
  const r = new DrillReceipt();
  // One byte every 20 ms for 10,000 s: 500,000 gaps, a timeline of 100,000 × 100 ms.
  for (let at = 0; at <= 10_000_000; at += 20) r.record(at, Buffer.of(1));
  r.record(10_000_100, Buffer.of(1)); // one last, longer gap: 90 ms
  const result = r.result();
  t.equal(result.gaps.length, DRILL_GAPS_MAX, 'at most the longest gaps');
  t.equal(result.gaps[0]!.ms, 90, 'the longest first');
  t.equal(result.stallMs, 90);
  t.equal(result.gaps[1]!.ms, 10, 'then the 10 ms gaps between bytes');
  t.ok(result.timeline.bytes.length <= DRILL_TIMELINE_BUCKETS_MAX, 'timeline bounded');
  t.ok(result.timeline.intervalMs > 100, 'coarsened by doubling');
  t.equal(
    result.timeline.bytes.reduce((s, n) => s + n, 0),
    result.bytes,
    'coarsening keeps every byte',
  );
  t.end();
});

t.test("the service's lines: garbage is a DrillProtocolError, refusals keep their code", (t) => {
  const greeting = '{"service":"braid.drill","version":1,"maxBytes":1000,"bucketMs":10}';
  t.same(parseGreeting(greeting), { version: 1, maxBytes: 1000, bucketMs: 10 });
  const bad: [string, RegExp][] = [
    ['', /not JSON/],
    ['not json', /not JSON/],
    ['[1,2]', /not a JSON object/],
    ['null', /not a JSON object/],
    ['{"service":"echo","version":1,"maxBytes":1,"bucketMs":10}', /not braid\.drill/],
    ['{"service":"braid.drill","version":2,"maxBytes":1,"bucketMs":10}', /speaks version 2/],
    ['{"service":"braid.drill","version":1,"maxBytes":-1,"bucketMs":10}', /"maxBytes"/],
    ['{"service":"braid.drill","version":1,"maxBytes":"9","bucketMs":10}', /"maxBytes"/],
  ];
  for (const [line, message] of bad)
    t.throws(() => parseGreeting(line), { code: 'ERR_BRAID_DRILL_PROTOCOL', message }, line);
  t.throws(
    () => parseGreeting('{"version":1,"ok":false,"code":"ERR_BRAID_DRILL_BUSY","message":"busy"}'),
    { code: 'ERR_BRAID_DRILL_REFUSED', peerCode: 'ERR_BRAID_DRILL_BUSY', message: /busy/ },
  );

  const receipt = {
    version: 1,
    ok: true,
    bytes: 10,
    sha256: 'a'.repeat(64),
    durationMs: 5,
    bucketMs: 10,
    stallMs: 0,
    stallFromMs: null,
    gaps: [],
    timeline: { intervalMs: 100, bytes: [10] },
  };
  t.equal(parseReceipt(JSON.stringify(receipt)).bytes, 10);
  const broken: Record<string, unknown>[] = [
    { ...receipt, ok: undefined },
    { ...receipt, sha256: 'xyz' },
    { ...receipt, bytes: Number.NaN },
    { ...receipt, gaps: 'none' },
    { ...receipt, gaps: [{ fromMs: 1 }] },
    { ...receipt, gaps: [null] },
    { ...receipt, timeline: { intervalMs: 100, bytes: [1, -2] } },
    { ...receipt, timeline: null },
    { ...receipt, stallFromMs: 'soon' },
  ];
  for (const b of broken)
    t.throws(() => parseReceipt(JSON.stringify(b)), { code: 'ERR_BRAID_DRILL_PROTOCOL' });
  t.end();
});

t.test('the line reader: split lines, an over-long line, an early end, a timeout', async (t) => {
  const source = new PassThrough();
  const reader = new LineReader(source);
  source.write('{"a":');
  source.write('1}\n{"b"');
  source.write(':2}\n');
  t.equal(await reader.next('one', 1000), '{"a":1}');
  t.equal(await reader.next('two', 1000), '{"b":2}');
  await t.rejects(reader.next('three', 20), {
    code: 'ERR_BRAID_DRILL_PROTOCOL',
    message: /no three from the drill service within 20 ms/,
  });
  source.end();
  await t.rejects(reader.next('four', 1000), { message: /closed the stream before four/ });

  const flood = new PassThrough();
  const flooded = new LineReader(flood);
  flood.write(Buffer.alloc(DRILL_LINE_BYTES_MAX + 1, 0x61));
  await t.rejects(flooded.next('a line', 1000), {
    code: 'ERR_BRAID_DRILL_PROTOCOL',
    message: /longer than/,
  });
});

t.test('size, rate and time options', (t) => {
  const size = parseByteSize('--bytes', 1, 2 ** 50);
  t.equal(size('64M'), 64e6);
  t.equal(size('1GiB'), 1024 ** 3);
  t.equal(size('1.5kB'), 1500);
  t.equal(size('512'), 512);
  for (const bad of ['', '0', '-1', '1X', 'M', '1e6', '1 PB', '2000T'])
    t.throws(() => size(bad), { code: 'ERR_BRAID_USAGE' }, JSON.stringify(bad));
  const rate = parseByteSize('--rate', 0, 100e9, true);
  t.equal(rate('10MB/s'), 10e6);
  t.equal(rate('0'), 0);
  const seconds = parseSeconds('--fault-at', 0, 3600);
  t.equal(seconds('1.5'), 1500);
  for (const bad of ['-1', '1h', '3601', ''])
    t.throws(() => seconds(bad), { code: 'ERR_BRAID_USAGE' }, JSON.stringify(bad));
  t.end();
});

t.test('the report page escapes what it shows and what it embeds', (t) => {
  const hostile = '</script><img src=x onerror=alert(1)>';
  const report: DrillReport = {
    version: 1,
    peer: 'braid1peer',
    session: 's1',
    startedAt: '2020-01-01T00:00:00.000Z',
    fault: {
      mode: 'blackhole',
      pathId: 0,
      pathIds: [0],
      local: hostile,
      remote: '127.0.0.3:1',
      atMs: 100,
      forMs: 100,
      restoredAtMs: 200,
      induced: true,
      cycles: [{ downAtMs: 100, upAtMs: 200 }],
      description: hostile,
    },
    transfer: {
      mode: 'bytes',
      rateBytesPerSecond: 0,
      bytesSent: 10,
      bytesReceived: 10,
      durationMs: 300,
      sha256Sent: 'a'.repeat(64),
      sha256Received: 'a'.repeat(64),
      peerMaxBytes: 100,
      limitedByPeer: false,
    },
    detectMs: 1,
    stallMs: 0,
    stallAtMs: null,
    faultStallMs: 0,
    resentBytes: 0,
    reinjectedBytes: 0,
    lostBytes: 0,
    recoveredMs: 2,
    recoveredDataMs: null,
    verified: true,
    failovers: [{ atMs: 101, from: 0, to: 1, reason: hostile, protocolDetectMs: 1 }],
    events: [],
    eventsDropped: 0,
    sampleIntervalMs: 100,
    paths: [
      {
        id: 0,
        local: hostile,
        remote: '127.0.0.3:1',
        faulted: true,
        status: 'active',
        streamBytesSent: 10,
        bytesSent: 10,
        bytesReceived: 1,
        reinjectedBytes: 0,
        timeline: [
          {
            atMs: 0,
            status: 'active',
            txBytesPerSecond: 0,
            rxBytesPerSecond: 0,
            streamBytesPerSecond: 0,
          },
          {
            atMs: 100,
            status: 'down',
            txBytesPerSecond: 100,
            rxBytesPerSecond: 0,
            streamBytesPerSecond: 100,
          },
        ],
      },
    ],
    receiver: { offsetMs: 0, intervalMs: 100, bytes: [10], gaps: [] },
  };
  const html = renderDrillHtml(report);
  t.notOk(html.includes('<img'), 'no markup injected');
  t.equal(html.split('</script>').length - 1, 2, 'only the two script elements end');
  const embedded = /<script type="application\/json" id="drill-data">(.*?)<\/script>/s.exec(html);
  t.same(JSON.parse(embedded![1]!), report, 'the embedded document round-trips');
  t.match(html, /id="fig-detectMs" data-field="detectMs" data-value="1"/);
  t.match(html, /id="fig-recoveredDataMs" data-field="recoveredDataMs" data-value="null"/);
  t.end();
});
