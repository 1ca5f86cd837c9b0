/**
 * `pnpm demo` itself, as a newcomer runs it (through tsx, stdout not a terminal): it must print
 * VERIFIED and exit 0, show the failover, and leave no daemon and no file behind — also when
 * interrupted with SIGINT halfway.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

t.setTimeout(600_000); // a bound on a hang; nothing here is timed

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

function runDemoScript(
  args: string[],
  onOutput?: (text: string, kill: (signal: NodeJS.Signals) => void) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [join(ROOT, 'scripts', 'demo.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BRAID_SOCKET: undefined },
    });
    let stdout = '';
    let stderr = '';
    const kill = (signal: NodeJS.Signals) => child.kill(signal);
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      onOutput?.(stdout, kill);
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The daemons' pids and the work directory, from the demo's header. */
function leftovers(stdout: string): { pids: number[]; workDir: string | undefined } {
  const pids = [...stdout.matchAll(/braidd pid (\d+)/g)].map((m) => Number(m[1]));
  const workDir = /state, sockets and logs in (\S+)/.exec(stdout)?.[1];
  return { pids, workDir };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('pnpm demo: the file arrives intact across the failover; VERIFIED, exit 0', async (t) => {
  const r = await runDemoScript([]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^VERIFIED: the receiver got every byte/m);
  t.notMatch(r.stdout, /MISMATCH/);
  t.match(r.stdout, /BLACKHOLE path \d+ \(127\.0\.0\.[12]:\d+ → 127\.0\.0\.[34]:\d+\)/);
  t.match(r.stdout, /path \d+ down \(taken down administratively\)/);
  t.match(r.stdout, /^stall\s+\d/m, 'the report gives the stall');
  t.match(r.stdout, /^transfer\s+67\.1 MB in /m, 'the whole 64 MiB');
  t.match(r.stdout, /sender's paths/);
  const hashes = [...r.stdout.matchAll(/^SHA-256 (?:sent|received)\s+([0-9a-f]{64})$/gm)];
  t.equal(hashes.length, 2);
  t.equal(hashes[0]![1], hashes[1]![1], 'the hashes printed are equal');
  t.notOk(
    r.stdout.includes('\x1b[') || r.stdout.includes('\r'),
    'not a terminal: plain lines, no redraws',
  );
  t.match(r.stdout, /progress\s+\d+%/, 'progress as plain lines');
  const { pids, workDir } = leftovers(r.stdout);
  t.equal(pids.length, 2, 'two daemons ran');
  for (const pid of pids) t.notOk(alive(pid), `braidd ${pid} is gone`);
  t.ok(workDir, 'the work directory was named');
  t.notOk(workDir && existsSync(workDir), 'the work directory is removed');
});

t.test('SIGINT halfway: daemons stopped, files removed, exit 130', async (t) => {
  let sent = false;
  const r = await runDemoScript(['--rate', '2'], (stdout, kill) => {
    if (!sent && /progress\s+\d+%/.test(stdout)) {
      sent = true;
      kill('SIGINT');
    }
  });
  t.ok(sent, 'interrupted during the transfer');
  t.equal(r.code, 130);
  t.match(r.stderr, /interrupted; stopping the daemons and removing the files/);
  t.notMatch(r.stdout, /VERIFIED/);
  const { pids, workDir } = leftovers(r.stdout);
  t.equal(pids.length, 2);
  for (const pid of pids) t.notOk(alive(pid), `braidd ${pid} is gone`);
  t.notOk(workDir && existsSync(workDir), 'the work directory is removed');
});

t.test('bad options: exit 2 before anything starts', async (t) => {
  const r = await runDemoScript(['--blackhole-at', '2']);
  t.equal(r.code, 2);
  t.match(r.stderr, /bad --blackhole-at "2"/);
  t.equal(r.stdout, '');
});
