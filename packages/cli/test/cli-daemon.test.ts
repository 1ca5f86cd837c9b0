/**
 * `braid` as a child process against two real braidd processes on loopback: the JSON documents
 * of status, peers, sessions and paths, ping per path, `paths --watch`, `path down` causing a
 * failover and `path up` bringing the path back, and the errors for unknown sessions and paths.
 */
import t from 'tap';
import { runBraid, twoDaemons, eventually } from './support/run.js';

t.setTimeout(300_000); // a bound on a hang; nothing here is timed

t.test('status, peers, sessions, paths and ping against two daemons', async (t) => {
  const [a, b] = await twoDaemons(t);
  const braid = (...args: string[]) => runBraid(['--socket', a.socketPath, ...args]);
  const json = async (...args: string[]) => {
    const r = await braid(...args, '--json');
    t.equal(r.code, 0, `${args.join(' ')} --json: exit 0 (${r.stderr.trim()})`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  const status = await json('status');
  t.equal(status.eid, a.eid);
  t.equal(status.mode, 'daemon');
  t.same(status.locators, a.locators);
  t.type(status.sessions, 'number');
  t.type(status.uptimeMs, 'number');
  t.type(status.version, 'string');
  t.ok(Array.isArray(status.services));
  t.equal(status.socketPath, a.socketPath, 'a daemon also names its socket');
  t.equal(status.pid, a.pid, 'and its pid');
  const statusText = await braid('status');
  t.match(statusText.stdout, new RegExp(`^eid\\s+${a.eid}$`, 'm'));
  t.match(statusText.stdout, new RegExp(`^socket\\s+${a.socketPath}$`, 'm'));

  const id = await braid('id');
  t.equal(id.stdout, `${a.eid}\n`, '`braid id` prints the EID alone');
  t.same(await json('id'), { eid: a.eid });

  const peers = (await json('peers')).peers as Record<string, unknown>[];
  t.same(
    peers.map((p) => [p.eid, p.locators, typeof p.source, typeof p.connected]),
    [[b.eid, b.locators, 'string', 'boolean']],
  );

  t.same(await json('sessions'), { sessions: [] }, 'no session yet');
  const noPaths = await braid('paths');
  t.equal(noPaths.code, 0);
  t.equal(noPaths.stdout, 'no paths (no open session)\n');

  // ping opens the session and measures every path.
  const ping = await json('ping', b.eid, '--count', '2', '--interval', '10');
  t.equal(ping.peer, b.eid);
  t.type(ping.session, 'string');
  const results = ping.results as Record<string, unknown>[];
  t.equal(
    results.filter((r) => r.seq === 1).length,
    4,
    'the first round waited for the new session’s four paths to validate',
  );
  t.same([...new Set(results.map((r) => r.seq))], [1, 2], 'two rounds');
  for (const r of results) {
    t.type(r.pathId, 'number');
    t.match(r.local, /^127\.0\.0\.[12]:\d+$/);
    t.match(r.remote, /^127\.0\.0\.[34]:\d+$/);
    t.ok(r.rttMs === null || (typeof r.rttMs === 'number' && r.rttMs >= 0), 'rttMs or null');
  }
  t.ok(
    results.some((r) => typeof r.rttMs === 'number'),
    'at least one path answered',
  );
  const pingText = await braid('ping', b.eid);
  t.equal(pingText.code, 0);
  t.match(pingText.stdout, /^PATH\s+LOCAL\s+REMOTE\s+RTT\n/);

  const sessions = (await json('sessions')).sessions as Record<string, unknown>[];
  t.equal(sessions.length, 1);
  const session = sessions[0]!;
  t.equal(session.id, ping.session);
  t.equal(session.peer, b.eid);
  t.equal(session.role, 'initiator');
  t.type(session.state, 'string');
  t.type(session.paths, 'number');
  t.type(session.pathsUp, 'number');
  t.equal(session.suspended, false);
  const stats = session.stats as Record<string, unknown>;
  for (const field of ['rttMs', 'bytesSent', 'bytesReceived', 'packetsLost', 'failovers'])
    t.type(stats[field], 'number', `stats.${field}`);

  // Every address pair validates: 2 × 2 paths.
  const doc = await eventually(async () => {
    const d = await json('paths', String(session.id));
    const ps = (d.sessions as { paths: { status: string }[] }[])[0]?.paths ?? [];
    return ps.length === 4 && ps.every((p) => p.status === 'active') ? d : undefined;
  }, 'four active paths');
  const listed = doc.sessions as { id: string; peer: string; paths: Record<string, unknown>[] }[];
  t.equal(listed.length, 1);
  t.equal(listed[0]!.id, session.id);
  t.equal(listed[0]!.peer, b.eid);
  for (const p of listed[0]!.paths) {
    for (const field of [
      'id',
      'rttMs',
      'lossRate',
      'cwndBytes',
      'bytesInFlight',
      'bytesSent',
      'bytesReceived',
    ])
      t.type(p[field], 'number', `path.${field}`);
    for (const field of ['local', 'remote', 'status', 'reason'])
      t.type(p[field], 'string', `path.${field}`);
    t.equal(p.txBytesPerSecond, null, 'no rate from a single snapshot');
  }
  const byPeer = await json('paths', b.eid);
  t.same(
    (byPeer.sessions as { id: string }[]).map((s) => s.id),
    [session.id],
    'a session can be named by its peer EID',
  );
  const table = await braid('paths');
  t.match(table.stdout, /^SESSION\s+PATH\s+LOCAL\s+REMOTE\s+STATE\s+RTT\s+LOSS\s+CWND/);
  t.equal(table.stdout.trim().split('\n').length, 5, 'a header and four paths');

  // --watch: a bounded number of refreshes; JSON lines with throughput after the first.
  const watch = await braid('paths', '--watch', '--interval', '100', '--count', '3', '--json');
  t.equal(watch.code, 0);
  const lines = watch.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.equal(lines.length, 3, 'one JSON document per refresh');
  for (const line of lines) t.type(line.atMs, 'number');
  const later = (lines[2]!.sessions as { paths: Record<string, unknown>[] }[])[0]!.paths;
  for (const p of later) t.type(p.txBytesPerSecond, 'number', 'a rate once two snapshots exist');
  const watchText = await braid('paths', '--watch', '-i', '100', '-n', '2');
  t.equal(watchText.code, 0);
  t.equal(watchText.stdout.match(/TX\/S/g)?.length, 2, 'two tables, plain (no TTY: no redraw)');
  t.notOk(watchText.stdout.includes('\x1b['), 'no escape codes when stdout is not a terminal');

  // Unknown session and path: a runtime error (exit 1) listing what exists.
  const unknown = await braid('paths', 'nosuch');
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, `no session "nosuch"; open sessions: ${session.id} (${b.eid})`);
  const badPath = await braid('path', 'down', String(session.id), '99');
  t.equal(badPath.code, 1);
  const ids = listed[0]!.paths.map((p) => p.id).join(', ');
  t.match(badPath.stderr, `has no path 99; its paths are ${ids} (ERR_BRAID_UNKNOWN_PATH)`);
});
