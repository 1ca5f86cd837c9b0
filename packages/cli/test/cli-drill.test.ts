/**
 * `braid drill` against real braidd processes on loopback, each bound to two addresses (four
 * paths): a blackhole drill and a flap drill verify every byte at the peer and report their
 * figures; a session with one path, an unknown peer, a peer with the drill service switched off
 * and malformed options are refused with the error a shell user can act on. Time figures are
 * checked for sanity only (numbers ≥ 0), never for their size.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Eid } from '@braid/protocol';
import { startDaemons, type DemoDaemonSpec, type DemoDaemons } from '@braid/cli';
import type { BraidStream } from '@braid/sdk';
import { BRAID_BIN, eventually, runBraid, twoDaemons } from './support/run.js';

t.setTimeout(300_000); // a bound on a hang; nothing here is timed

/** The `--json` document's fields this test reads. */
interface DrillDocument {
  peer: string;
  session: string;
  fault: {
    mode: string;
    pathId: number | null;
    pathIds: number[];
    induced: boolean;
    atMs: number | null;
    restoredAtMs: number | null;
    cycles: { downAtMs: number; upAtMs: number | null }[];
    description: string;
  };
  transfer: {
    bytesSent: number;
    bytesReceived: number;
    sha256Sent: string;
    sha256Received: string;
  };
  detectMs: number | null;
  stallMs: number;
  resentBytes: number;
  lostBytes: number;
  recoveredMs: number | null;
  verified: boolean;
  failovers: { atMs: number; from: number; to: number; reason: string }[];
  events: { atMs: number; pathId: number; change: string }[];
  paths: {
    id: number;
    faulted: boolean;
    timeline: { atMs: number; txBytesPerSecond: number; streamBytesPerSecond: number }[];
  }[];
}

/** Daemons with the given binds, stopped and removed when the test ends. */
async function daemons(t: Test, specs: DemoDaemonSpec[]): Promise<DemoDaemons['daemons']> {
  const dir = await mkdtemp(join(tmpdir(), 'braid-drill-test-'));
  const started: DemoDaemons[] = [];
  t.teardown(async () => {
    for (const hosts of started) await hosts.close();
    await rm(dir, { recursive: true, force: true });
  });
  const hosts = await startDaemons(dir, specs);
  started.push(hosts);
  return hosts.daemons;
}

function isTime(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

t.test('a blackhole drill: failover, every byte verified, the figures in --json', async (t) => {
  // active-backup: one path carries the data at a time, so the path faulted is the one carrying it.
  const [a, b] = await twoDaemons(t, { protocol: { scheduler: 'active-backup' } });
  const r = await runBraid([
    '--socket',
    a.socketPath,
    'drill',
    b.eid,
    '--seconds',
    '4',
    '--fault-at',
    '1',
    '--fault-for',
    '1.5',
    '--rate',
    '4M',
    '--json',
  ]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '', 'no progress lines on a non-terminal stderr with --json');
  const doc = JSON.parse(r.stdout) as DrillDocument;
  t.equal(doc.peer, b.eid);
  t.equal(doc.verified, true, 'the peer got every byte, same SHA-256');
  t.equal(doc.lostBytes, 0);
  t.ok(doc.transfer.bytesSent > 0);
  t.equal(doc.transfer.bytesReceived, doc.transfer.bytesSent);
  t.equal(doc.transfer.sha256Received, doc.transfer.sha256Sent);
  t.equal(doc.fault.mode, 'blackhole');
  t.equal(doc.fault.induced, true);
  t.same(doc.fault.pathIds, [doc.fault.pathId]);
  t.match(doc.fault.description, /blackholed administratively/);
  t.ok(isTime(doc.fault.atMs) && isTime(doc.fault.restoredAtMs));
  t.ok(doc.fault.restoredAtMs! > doc.fault.atMs!, 'restored after the fault');
  for (const field of ['detectMs', 'stallMs', 'recoveredMs'] as const)
    t.ok(isTime(doc[field]), `${field} is a time: ${doc[field]}`);
  t.ok(Number.isSafeInteger(doc.resentBytes) && doc.resentBytes >= 0, 'resentBytes');
  const off = doc.failovers.filter((f) => f.from === doc.fault.pathId && f.atMs >= doc.fault.atMs!);
  t.ok(off.length > 0, 'a failover off the faulted path');
  t.not(off[0]!.to, doc.fault.pathId);
  t.ok(
    doc.events.some((e) => e.pathId === doc.fault.pathId && e.change === 'down'),
    'the path went down',
  );
  t.equal(doc.paths.length, 4, 'two addresses each side: four paths');
  const faulted = doc.paths.filter((p) => p.faulted);
  t.same(
    faulted.map((p) => p.id),
    [doc.fault.pathId],
  );
  for (const p of doc.paths) t.ok(p.timeline.length > 1, `path ${p.id} has a timeline`);
  const carried = doc.paths.filter((p) => p.timeline.some((q) => q.streamBytesPerSecond > 0));
  t.ok(carried.length >= 2, 'at least two paths carried the data: the faulted one and another');

  // Human output of the same drill kind: the verdict and the figures.
  const human = await runBraid([
    '--socket',
    a.socketPath,
    'drill',
    b.eid,
    '--bytes',
    '6M',
    '--rate',
    '3M',
    '--fault-at',
    '0.5',
    '--fault-for',
    '0.5',
  ]);
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, /^VERIFIED /m);
  t.match(human.stdout, /^Detection /m);
  t.match(human.stdout, /^Lost\s+0 B /m);
  t.match(human.stdout, /^\+\s*\d+\.\d{3} s\s+FAULT blackhole path \d+/m, 'plain progress lines');
});

t.test('a flap drill takes the path down and up again several times', async (t) => {
  const [a, b] = await twoDaemons(t);
  const r = await runBraid([
    '--socket',
    a.socketPath,
    'drill',
    b.eid,
    '--fault',
    'flap',
    '--flaps',
    '3',
    '--seconds',
    '4',
    '--fault-at',
    '0.8',
    '--fault-for',
    '1.8',
    '--json',
  ]);
  t.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as DrillDocument;
  t.equal(doc.verified, true);
  t.equal(doc.lostBytes, 0);
  t.equal(doc.fault.mode, 'flap');
  t.equal(doc.fault.cycles.length, 3, 'three down/up cycles');
  for (const c of doc.fault.cycles) t.ok(c.upAtMs !== null && c.upAtMs > c.downAtMs, 'each let up');
  const downs = doc.events.filter((e) => e.pathId === doc.fault.pathId && e.change === 'down');
  t.ok(downs.length >= 3, `the path went down on each flap (${downs.length})`);
  t.ok(isTime(doc.recoveredMs), 'the path carried traffic again after the last flap');
  t.ok(doc.detectMs === null || isTime(doc.detectMs));
});

t.test('a session with one path is refused with an explanation', async (t) => {
  const [a, b] = await daemons(t, [
    { name: 'a', bind: ['127.0.0.1:0'] },
    { name: 'b', bind: ['127.0.0.3:0'] },
  ]);
  const r = await runBraid(['--socket', a!.socketPath, 'drill', b!.eid]);
  t.equal(r.code, 1, 'a runtime error, not a usage error');
  t.match(r.stderr, /has 1 usable path/);
  t.match(r.stderr, /a failover drill needs at least two/);
  t.match(r.stderr, /ERR_BRAID_DRILL_SINGLE_PATH/);
  t.equal(r.stdout, '', 'nothing was sent');
});

t.test('an unknown peer, and a peer with the drill service off', async (t) => {
  const [a, b] = await daemons(t, [
    { name: 'a', bind: ['127.0.0.1:0', '127.0.0.2:0'] },
    { name: 'b', bind: ['127.0.0.3:0', '127.0.0.4:0'], config: { drill: { enabled: false } } },
  ]);
  const stranger = new Eid(randomBytes(16)).toString();
  const unknown = await runBraid(['--socket', a!.socketPath, 'drill', stranger, '--json']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /no locator is known for/);
  t.match(unknown.stderr, /ERR_BRAID_PEER_UNKNOWN/);
  t.equal(unknown.stdout, '');

  const off = await runBraid(['--socket', a!.socketPath, 'drill', b!.eid, '--json']);
  t.equal(off.code, 1);
  t.match(off.stderr, /does not offer the drill service/);
  t.match(off.stderr, /ERR_BRAID_DRILL_UNAVAILABLE/);
  // Nothing was left taken down: every path of the session is usable.
  const paths = await a!.client.openSession(b!.eid).then((s) => s.paths());
  t.ok(paths.every((p) => p.status === 'active' || p.status === 'standby'));
});

t.test('malformed options are usage errors, found before any connection', async (t) => {
  const eid = new Eid(randomBytes(16)).toString();
  const cases: [string[], RegExp][] = [
    [['--bytes', '1M', '--seconds', '5'], /give --bytes or --seconds, not both/],
    [['--fault', 'meteor'], /'meteor' is invalid\. Allowed choices are blackhole, down, flap/],
    [['--rate', 'fast'], /bad --rate "fast"/],
    [['--bytes', '0'], /bad --bytes "0"/],
    [['--seconds', '5', '--fault-at', '3', '--fault-for', '2'], /the fault must end before/],
    [['--fault', 'flap', '--flaps', '50', '--fault-for', '1'], /too short for 50 flaps/],
    [['--flaps', '4'], /--flaps applies to --fault flap only/],
    [['--path', 'x'], /bad path id "x"/],
  ];
  for (const [args, message] of cases) {
    const r = await runBraid(['--socket', '/nonexistent/braidd.sock', 'drill', eid, ...args]);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, message);
  }
  const badPeer = await runBraid(['drill', 'braid1nope']);
  t.equal(badPeer.code, 2);
  t.match(badPeer.stderr, /bad peer EID/);
});

/** Everything the service sends until it ends its half, as lines of JSON. */
async function replies(stream: BraidStream): Promise<Record<string, unknown>[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

t.test('the drill service: greeting, receipt, and its bounds', async (t) => {
  const maxBytes = 100_000;
  const [a, b] = await twoDaemons(t, { drill: { maxBytes } });
  const session = await a.client.openSession(b.eid);

  // A drill by hand: the receipt counts and hashes exactly what was sent.
  const payload = randomBytes(50_000);
  const ok = await session.openStream('braid.drill');
  const okReplies = replies(ok);
  ok.end(payload);
  const [greeting, receipt] = await okReplies;
  t.same(greeting, { service: 'braid.drill', version: 1, maxBytes, bucketMs: 10 });
  t.equal(receipt!.ok, true);
  t.equal(receipt!.bytes, payload.length);
  t.equal(receipt!.sha256, createHash('sha256').update(payload).digest('hex'));
  const timeline = receipt!.timeline as { intervalMs: number; bytes: number[] };
  t.equal(
    timeline.bytes.reduce((s, n) => s + n, 0),
    payload.length,
    'the timeline accounts for every byte',
  );

  // More than maxBytes: an error line, not a silent cut.
  const big = await session.openStream('braid.drill');
  const bigReplies = replies(big).catch(() => [] as Record<string, unknown>[]);
  big.on('error', () => undefined);
  big.end(randomBytes(maxBytes + 1));
  const bigLines = await bigReplies;
  t.match(bigLines[1], { ok: false, code: 'ERR_BRAID_DRILL_TOO_LARGE' });

  // At most four drills at once: the fifth is answered "busy".
  const held = await Promise.all([1, 2, 3, 4].map(() => session.openStream('braid.drill')));
  const heldReplies = held.map((s) => replies(s));
  const fifth = await session.openStream('braid.drill');
  const fifthLines = await replies(fifth);
  t.match(fifthLines[0], { ok: false, code: 'ERR_BRAID_DRILL_BUSY' });
  for (const s of held) s.end();
  for (const r of await Promise.all(heldReplies)) t.match(r[1], { ok: true, bytes: 0 });

  // The CLI refuses a --bytes above the peer's limit before sending.
  const r = await runBraid([
    '--socket',
    a.socketPath,
    'drill',
    b.eid,
    '--bytes',
    '200k',
    '--rate',
    '0',
  ]);
  t.equal(r.code, 1);
  t.match(r.stderr, /the peer accepts at most 100000 bytes per drill/);
  t.match(r.stderr, /ERR_BRAID_DRILL_REFUSED/);
});

t.test('Ctrl-C in the middle of the fault: the path is let up again', async (t) => {
  const [a, b] = await twoDaemons(t);
  const child = spawn(
    process.execPath,
    [
      BRAID_BIN,
      '--socket',
      a.socketPath,
      'drill',
      b.eid,
      '--seconds',
      '60',
      '--fault-at',
      '0.5',
      '--fault-for',
      '30',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const faulted = await eventually(async () => {
    const m = /FAULT blackhole path (\d+)/.exec(output);
    return m && new RegExp(`path ${m[1]} down`).test(output) ? Number(m[1]) : undefined;
  }, 'the fault');
  child.kill('SIGINT');
  t.equal(await exited, 1);
  t.match(output, /ERR_BRAID_DRILL_INTERRUPTED/);
  const session = await a.client.openSession(b.eid);
  const back = await eventually(async () => {
    const p = (await session.paths()).find((q) => q.id === faulted);
    return p && (p.status === 'active' || p.status === 'standby') ? p : undefined;
  }, 'the faulted path usable again');
  t.notMatch(back.reason, /administratively/, `path ${faulted} is ${back.status} again`);
});
