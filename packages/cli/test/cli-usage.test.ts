import t from 'tap';
import { join } from 'node:path';
import { Eid } from '@braid/protocol';
import { runBraid, tempDir } from './support/run.js';

const EID = new Eid(new Uint8Array(16).fill(1)).toString();

t.setTimeout(300_000); // a bound on a hang; nothing here is timed

t.test(
  'no daemon: a one-line error naming the socket and how to start braidd, exit 1',
  async (t) => {
    const dir = await tempDir(t);
    const socket = join(dir, 'braidd.sock');
    for (const args of [['status'], ['sessions', '--json'], ['paths'], ['peers'], ['ping', EID]]) {
      const r = await runBraid(['--socket', socket, ...args]);
      t.equal(r.code, 1, `${args.join(' ')}: exit 1`);
      t.equal(r.stdout, '', 'nothing on stdout');
      t.equal(
        r.stderr,
        `braid: braidd is not running (no socket at ${socket}); start it with \`braid daemon\` (ERR_BRAID_DAEMON_NOT_RUNNING)\n`,
      );
    }
    const after = await runBraid(['status', '--socket', socket]);
    t.equal(after.code, 1, '--socket may also follow the command');
    t.match(after.stderr, `no socket at ${socket}`);
    const fromEnv = await runBraid(['status'], { env: { BRAID_SOCKET: socket } });
    t.equal(fromEnv.code, 1);
    t.match(fromEnv.stderr, `no socket at ${socket}`, '$BRAID_SOCKET names the socket too');
  },
);

t.test('bad command lines exit 2 with what is wrong, before connecting', async (t) => {
  const dir = await tempDir(t);
  const socket = join(dir, 'absent.sock'); // exit 2, not 1: the daemon is never asked
  const cases: [string[], RegExp][] = [
    [['bogus'], /unknown command 'bogus'/],
    [['status', '--bogus'], /unknown option '--bogus'/],
    [['ping'], /missing required argument 'peer'/],
    [['ping', 'braid1xyz'], /bad peer EID "braid1xyz": the EID is 9 characters long, expected 38/],
    [['ping', 'hello'], /bad peer EID "hello": the EID has no "braid1" prefix/],
    [['ping', EID, '--count', '0'], /bad --count "0"/],
    [['peers', 'add', EID, 'example.com:1'], /"example.com" is not an IP address/],
    [['peers', 'add', EID], /missing required argument 'locators'/],
    [['path', 'down', '1', 'x'], /bad path id "x": expected a non-negative integer/],
    [['path', 'up', '1', '-3'], /unknown option '-3'|bad path id/],
    [['paths', '--watch', '--interval', '5'], /bad --interval "5"/],
    [['cat'], /`cat` needs PEER and SERVICE/],
    [['cat', EID, 'bad service'], /bad service name "bad service"/],
    [['cat', EID, 'svc', '--listen', 'svc'], /takes no peer or service/],
    [['init', join(dir, 'x'), '--bind', 'nope'], /bad locator "nope"/],
  ];
  for (const [args, message] of cases) {
    const r = await runBraid(['--socket', socket, ...args]);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, message, `${args.join(' ')}: says what is wrong`);
    t.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`);
  }
});

t.test('--help and --version exit 0 on stdout', async (t) => {
  const help = await runBraid(['--help']);
  t.equal(help.code, 0);
  for (const command of [
    'init',
    'daemon',
    'id',
    'status',
    'peers',
    'sessions',
    'paths',
    'path',
    'ping',
    'cat',
  ])
    t.match(help.stdout, new RegExp(`\\n  ${command}\\b`), `help lists ${command}`);
  const pathsHelp = await runBraid(['paths', '--help']);
  t.equal(pathsHelp.code, 0);
  t.match(pathsHelp.stdout, /--watch/);
  const version = await runBraid(['--version']);
  t.equal(version.code, 0);
  t.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});
