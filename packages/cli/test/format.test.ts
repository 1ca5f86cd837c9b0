import t from 'tap';
import type { PathStats } from '@braid/protocol';
import {
  formatBytes,
  formatDuration,
  formatPercent,
  formatRate,
  lineCount,
  pathRows,
  pathsDocument,
  redrawPrefix,
  renderPathTable,
  renderTable,
  toJson,
} from '@braid/cli';

/** A path's stats; the fields the CLI does not show (FEC counters…) are left out. */
function path(id: number, over: Partial<PathStats> = {}): PathStats {
  const stats = {
    id,
    local: `127.0.0.1:${4000 + id}`,
    remote: `127.0.0.3:${5000 + id}`,
    status: 'active',
    standby: false,
    rttMs: 0.5,
    minRttMs: 0.3,
    rttVarMs: 0.1,
    cwndBytes: 120_000,
    bytesInFlight: 0,
    lossRate: 0,
    packetsSent: 0,
    packetsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    streamBytesSent: 0,
    packetsLost: 0,
    ptoCount: 0,
    suspected: 0,
    downs: 0,
    recoveries: 0,
    probesSent: 0,
    reinjectedBytes: 0,
    reason: '',
    ...over,
  };
  return stats as PathStats;
}

t.test('bytes in SI units, three significant digits', (t) => {
  t.equal(formatBytes(0), '0 B');
  t.equal(formatBytes(999), '999 B');
  t.equal(formatBytes(1000), '1.00 kB');
  t.equal(formatBytes(1536), '1.54 kB');
  t.equal(formatBytes(64 * 1024 * 1024), '67.1 MB');
  t.equal(formatBytes(999_960), '1.00 MB', 'rounds up into the next unit, never "1000 kB"');
  t.equal(formatBytes(123_456_789_012), '123 GB');
  t.equal(formatBytes(-2500), '-2.50 kB');
  t.equal(formatBytes(Number.NaN), '—');
  t.end();
});

t.test('rates, durations, percentages', (t) => {
  t.equal(formatRate(8_000_000), '8.00 MB/s');
  t.equal(formatRate(undefined), '—');
  t.equal(formatDuration(0.423), '0.42 ms');
  t.equal(formatDuration(12.34), '12.3 ms');
  t.equal(formatDuration(850), '850 ms');
  t.equal(formatDuration(12_340), '12.3 s');
  t.equal(formatDuration(2_500), '2.50 s');
  t.equal(formatDuration(200_000), '3m20s');
  t.equal(formatDuration(7_500_000), '2h05m');
  t.equal(formatDuration(90_000_000), '1d01h');
  t.equal(formatDuration(-1), '—', 'a negative value (e.g. no RTT sample) is unknown');
  t.equal(formatDuration(undefined), '—');
  t.equal(formatPercent(0), '0%');
  t.equal(formatPercent(0.0004), '<0.1%');
  t.equal(formatPercent(0.025), '2.5%');
  t.equal(formatPercent(1), '100.0%');
  t.end();
});

t.test('tables align columns, right-align numbers and count code points', (t) => {
  const text = renderTable<{ a: string; n: number }>(
    [
      { header: 'NAME', value: (r) => r.a },
      { header: 'N', align: 'right', value: (r) => String(r.n) },
    ],
    [
      { a: 'x', n: 1 },
      { a: 'long→name', n: 12345 },
    ],
  );
  t.equal(text, ['NAME           N', 'x              1', 'long→name  12345'].join('\n'));
  t.end();
});

t.test('JSON documents: undefined becomes null, bytes hex, newline at the end', (t) => {
  t.equal(
    toJson({ a: undefined, b: new Uint8Array([1, 255]) }),
    '{\n  "a": null,\n  "b": "01ff"\n}\n',
  );
  t.same(JSON.parse(toJson([{ rttMs: undefined }])), [{ rttMs: null }]);
  t.end();
});

t.test('throughput comes from byte-counter deltas between snapshots', (t) => {
  const first = [{ session: '1', peer: 'braid1x', atMs: 1000, paths: [path(1), path(2)] }];
  const second = [
    {
      session: '1',
      peer: 'braid1x',
      atMs: 1500,
      paths: [
        path(1, { bytesSent: 4_000_000, bytesReceived: 50_000 }),
        path(2, { bytesSent: 0 }),
        path(3, { bytesSent: 10 }),
      ],
    },
  ];
  const initial = pathRows(first);
  t.equal(initial[0]!.txBytesPerSecond, undefined, 'no rate without a previous snapshot');
  const rows = pathRows(second, first);
  t.equal(rows[0]!.txBytesPerSecond, 8_000_000, '4 MB in 500 ms');
  t.equal(rows[0]!.rxBytesPerSecond, 100_000);
  t.equal(rows[1]!.txBytesPerSecond, 0, 'an idle path reads 0, not unknown');
  t.equal(rows[2]!.txBytesPerSecond, undefined, 'a path new in this snapshot has no rate yet');
  const reset = pathRows(
    first,
    second.map((s) => ({ ...s, atMs: 500 })),
  );
  t.equal(reset[0]!.txBytesPerSecond, undefined, 'a counter that went backwards gives no rate');
  const sameTime = pathRows(second, second);
  t.equal(sameTime[0]!.txBytesPerSecond, undefined, 'a zero interval gives no rate');
  t.end();
});

t.test('the paths table and its JSON document', (t) => {
  const rows = pathRows(
    [
      {
        session: '7',
        peer: 'braid1peer',
        atMs: 2000,
        paths: [
          path(1, { status: 'down', reason: 'taken down administratively', bytesSent: 2e6 }),
          path(2, { lossRate: 0.031, rttMs: 12.34 }),
        ],
      },
    ],
    [{ session: '7', peer: 'braid1peer', atMs: 1000, paths: [path(1), path(2)] }],
  );
  const table = renderPathTable(rows, true).split('\n');
  t.match(
    table[0],
    /^SESSION\s+PATH\s+LOCAL\s+REMOTE\s+STATE\s+RTT\s+LOSS\s+CWND\s+INFLIGHT\s+TX\/S\s+RX\/S\s+SENT\s+RECEIVED\s+REASON$/,
  );
  t.match(
    table[1],
    /^7\s+1\s+127\.0\.0\.1:4001\s+127\.0\.0\.3:5001\s+down\s.*2\.00 MB\/s.*taken down administratively$/,
  );
  t.match(table[2], /active\s+12\.3 ms\s+3\.1%/);
  t.notMatch(renderPathTable(rows, false), /TX\/S/, 'one-shot tables have no rate columns');
  t.equal(renderPathTable([], false), 'no paths (no open session)');
  const doc = pathsDocument(rows) as {
    sessions: { id: string; peer: string; paths: Record<string, unknown>[] }[];
  };
  t.equal(doc.sessions.length, 1);
  t.equal(doc.sessions[0]!.id, '7');
  t.equal(doc.sessions[0]!.peer, 'braid1peer');
  t.same(
    doc.sessions[0]!.paths.map((p) => p.id),
    [1, 2],
  );
  t.equal(doc.sessions[0]!.paths[0]!.txBytesPerSecond, 2_000_000);
  t.notOk('session' in doc.sessions[0]!.paths[0]!, 'the session is not repeated in each path');
  t.same(Object.keys(pathsDocument(rows, 5) as object), ['atMs', 'sessions']);
  t.end();
});

t.test('redrawing in place moves up over the previous block', (t) => {
  t.equal(redrawPrefix(0), '', 'nothing to erase the first time');
  t.equal(redrawPrefix(3), '\x1b[3F\x1b[J');
  t.equal(lineCount('a\nb\nc'), 3);
  t.equal(lineCount(''), 0);
  t.end();
});
