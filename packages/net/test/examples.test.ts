/**
 * The examples of `docs/sdk.md` run: each script of `packages/net/examples/` type-checks, runs
 * to completion (through tsx, as a reader would run it) and prints what the docs say; every
 * example block of the docs is the file it names, byte for byte; the README's example runs.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

t.setTimeout(300_000); // a bound on a hang; nothing here is timed

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const EXAMPLES = join(ROOT, 'packages', 'net', 'examples');
const DOC = join(ROOT, 'docs', 'sdk.md');
/** A child that runs longer than this is killed and the test fails (a hang, not a timing). */
const CHILD_TIMEOUT_MS = 60_000;

function run(
  command: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** What each example must print (every line matched, in order). */
const EXPECTED: Record<string, (string | RegExp)[]> = {
  'sdk-streams.ts': ['reply: HELLO, BRAID'],
  'sdk-datagrams-events.ts': [
    'datagram echoed: ping',
    /^paths: (\d+ 127\.0\.0\.[34]:\d+ → 127\.0\.0\.[12]:\d+ \w+(; )?){2,}$/,
    /^ping path \d+: answered$/,
    /^ping path \d+: answered$/,
    /^path \d+ down: taken down administratively$/,
    /^paths up after taking one down: \d+ of \d+$/,
    'openSession to a silent peer: ERR_BRAID_ABORTED',
  ],
  'sdk-daemon.ts': [
    "mode: daemon, B's daemon knows 1 peer",
    'reply: through two daemons',
    "B's daemon has a session to A: true",
  ],
  'net-echo.ts': [
    'server: listening on echo',
    'server: connection from B',
    'client: connected',
    'client: hello over braid',
    'client: closed (16 bytes out, 16 in)',
    'error: ECONNREFUSED (ERR_BRAID_SERVICE_UNKNOWN)',
  ],
  'net-http.ts': ['200 GET /one from B', '200 GET /two from B', '200 GET /three from B'],
  'net-ws.ts': ['echo: hello', 'closed with 1000'],
  'net-undici.ts': ['200 undici asked for /hello'],
};

const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.ts'));

t.test('every example has its expected output listed', async (t) => {
  t.same(files.sort(), Object.keys(EXPECTED).sort());
});

t.test('the examples type-check', async (t) => {
  const r = await run(process.execPath, [
    join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    join(EXAMPLES, 'tsconfig.json'),
  ]);
  t.equal(r.code, 0, r.stdout + r.stderr);
});

for (const file of Object.keys(EXPECTED)) {
  t.test(`examples/${file} runs and prints what the docs say`, async (t) => {
    const r = await run(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(EXAMPLES, file)]);
    t.equal(r.code, 0, `exit status 0 (stderr: ${r.stderr})`);
    const lines = r.stdout.split('\n').filter((l) => l.length > 0);
    let at = 0;
    for (const want of EXPECTED[file]!) {
      const i = lines.findIndex(
        (l, n) => n >= at && (typeof want === 'string' ? l === want : want.test(l)),
      );
      t.ok(i >= 0, `prints ${String(want)} (output:\n${r.stdout})`);
      if (i >= 0) at = i + 1;
    }
  });
}

t.test("the README's example runs", async (t) => {
  const readme = readFileSync(join(ROOT, 'packages', 'net', 'README.md'), 'utf8');
  const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  t.ok(code, 'the README starts with a TypeScript example');
  // Beside the package (so `@braid/net` and `@braid/sdk` resolve), in the build output.
  const file = join(ROOT, 'packages', 'net', 'dist-test', `readme-example-${process.pid}.ts`);
  writeFileSync(file, code!);
  t.teardown(() => rmSync(file, { force: true }));
  const r = await run(join(ROOT, 'node_modules', '.bin', 'tsx'), [file]);
  t.equal(r.code, 0, `exit status 0 (stderr: ${r.stderr})`);
  t.equal(r.stdout, 'hi\n');
});

t.test('docs/sdk.md shows each example exactly as it runs', async (t) => {
  const doc = readFileSync(DOC, 'utf8');
  const blocks = [
    ...doc.matchAll(
      /<!-- example: packages\/net\/examples\/([\w-]+\.ts) -->\n\n?```ts\n([\s\S]*?)```\n/g,
    ),
  ];
  t.same(blocks.map((m) => m[1]).sort(), [...files].sort(), 'every example is in the docs, once');
  for (const [, file, code] of blocks)
    t.equal(code, readFileSync(join(EXAMPLES, file!), 'utf8'), `docs block = examples/${file}`);
});
