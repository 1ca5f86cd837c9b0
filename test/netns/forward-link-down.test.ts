/**
 * Real programs through `braid forward` / `braid expose` across the lab, with the link carrying
 * the data taken down (`ip link set down` in a) mid-transfer: curl downloads a 32 MiB file from
 * Python's http.server and its SHA-256 matches; an iperf3 client sends a fixed byte count to an
 * iperf3 server and the run completes without an error. braidd runs in each host with the
 * active-backup scheduler, so one link carries the data and the other takes over.
 */
import t, { type Test } from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLab, labSupport, type Lab } from '../../scripts/netns/lab.js';
import { PYTHON } from '../../scripts/netns/programs.js';
import {
  busyLink,
  sessionBytesAtLeast,
  startForwarding,
  startProgram,
  toolPresent,
} from '../../scripts/netns/forward.js';

/** 32 MiB: about 2.7 s on one 100 Mbit/s link, long enough to cut it at a quarter. */
const FILE_BYTES = 32 << 20;
const CUT_AT_BYTES = 8 << 20;
/** iperf3 `-n`: a multiple of its 128 KiB block, about 4 s at 100 Mbit/s. */
const IPERF_BYTES = 48 << 20;
/** A bound on each program's run, far above what it takes (not a timing assertion). */
const RUN_TIMEOUT_MS = 120_000;
/** iperf3's JSON report is a few tens of KiB; more than this is kept out. */
const REPORT_BYTES_MAX = 4 << 20;
const HTTP_PORT = 8080;
const IPERF_PORT = 5201;

t.setTimeout(600_000); // a bound on a hang; nothing here is timed

const lab = await labSupport();
const skip = async (tools: readonly string[]): Promise<string | false> => {
  if (!lab.ok) return lab.reason;
  for (const tool of tools) {
    const present = tool === PYTHON ? existsSync(PYTHON) : await toolPresent(tool);
    if (!present) return `\`${tool}\` not found (apt-get install ${tool.split('/').pop()})`;
  }
  return false;
};

async function newLab(t: Test): Promise<Lab> {
  const l = await createLab({ rateMbit: 100 });
  t.teardown(() => l.close());
  return l;
}

t.test(
  'curl through braid forward: 32 MiB from http.server, the active link cut mid-download, SHA-256 matches',
  { skip: await skip(['curl', PYTHON]) },
  async (t) => {
    const l = await newLab(t);
    const www = join(l.workDir(), 'www');
    await mkdir(www);
    const blob = randomBytes(FILE_BYTES);
    await writeFile(join(www, 'blob.bin'), blob);
    const web = startProgram(
      l,
      'b',
      PYTHON,
      ['-u', '-m', 'http.server', String(HTTP_PORT), '--bind', '127.0.0.1', '--directory', www],
      'http.server (b)',
    );
    await web.waitForOutput(/Serving HTTP/);
    const fwd = await startForwarding({ lab: l, service: 'web', targetPort: HTTP_PORT });
    t.teardown(() => fwd.close());
    const control = await fwd.clientA();

    const curl = l.spawn('a', 'curl', [
      '--silent',
      '--show-error',
      '--fail',
      '--max-time',
      String(RUN_TIMEOUT_MS / 1000),
      `http://127.0.0.1:${fwd.port}/blob.bin`,
    ]);
    const hash = createHash('sha256');
    let received = 0;
    let stderr = '';
    let reached!: () => void;
    const atCut = new Promise<void>((resolve) => (reached = resolve));
    curl.stdout!.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      received += chunk.length;
      if (received >= CUT_AT_BYTES) reached();
    });
    curl.stderr!.on(
      'data',
      (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_096)),
    );
    const exited = new Promise<number | null>((resolve) => curl.on('close', resolve));

    await Promise.race([atCut, exited]);
    t.ok(received >= CUT_AT_BYTES && received < FILE_BYTES, 'the download is under way');
    const link = await busyLink(l, control, 'a-receives');
    const receivedAtCut = received;
    await l.setLinkUp(link, false);
    t.comment(`link ${link} (carrying the data) set down at ${receivedAtCut} bytes`);

    t.equal(await exited, 0, `curl succeeded ${stderr}`);
    t.equal(received, FILE_BYTES, 'curl wrote the whole file');
    t.equal(hash.digest('hex'), createHash('sha256').update(blob).digest('hex'), 'SHA-256 matches');
    t.ok(received > receivedAtCut, `${received - receivedAtCut} bytes arrived after the cut`);
    const closed = await fwd.forward.waitForEvent('close');
    t.equal(closed.code, undefined, 'the forward saw the connection end cleanly');
    t.ok(Number(closed.bytesFromStream) > FILE_BYTES, 'and counted the download');
  },
);

t.test(
  'iperf3 through braid forward: a fixed byte count, the active link cut mid-run, no error',
  { skip: await skip(['iperf3']) },
  async (t) => {
    const l = await newLab(t);
    const server = startProgram(
      l,
      'b',
      'iperf3',
      [
        '--server',
        '--one-off',
        '--bind',
        '127.0.0.1',
        '--port',
        String(IPERF_PORT),
        '--forceflush',
      ],
      'iperf3 server (b)',
    );
    await server.waitForOutput(/Server listening on/);
    const fwd = await startForwarding({ lab: l, service: 'iperf3', targetPort: IPERF_PORT });
    t.teardown(() => fwd.close());
    const control = await fwd.clientA();

    const client = l.spawn('a', 'iperf3', [
      '--client',
      '127.0.0.1',
      '--port',
      String(fwd.port),
      '--bytes',
      String(IPERF_BYTES),
      '--json',
    ]);
    let report = '';
    client.stdout!.on('data', (chunk: Buffer) => {
      if (report.length < REPORT_BYTES_MAX) report += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => client.on('close', resolve));

    await sessionBytesAtLeast(control, 'a-sends', CUT_AT_BYTES, RUN_TIMEOUT_MS);
    const link = await busyLink(l, control, 'a-sends');
    t.equal(client.exitCode, null, 'iperf3 is still running at the cut');
    await l.setLinkUp(link, false);
    t.comment(`link ${link} (carrying the data) set down`);

    const code = await exited;
    const r = JSON.parse(report) as {
      error?: string;
      end: { sum_sent: { bytes: number }; sum_received: { bytes: number } };
    };
    t.equal(code, 0, 'iperf3 succeeded');
    t.equal(r.error, undefined, `no error in iperf3's report`);
    t.ok(r.end.sum_sent.bytes >= IPERF_BYTES, `the client sent ${r.end.sum_sent.bytes} bytes`);
    t.ok(r.end.sum_received.bytes > 0, `the server received ${r.end.sum_received.bytes} bytes`);
    // The server stops counting at the client's TEST_END (on the control connection) and closes
    // the data connection: bytes still on their way through the forward then are not counted.
    t.comment(`sent ${r.end.sum_sent.bytes}, counted by the server ${r.end.sum_received.bytes}`);
    t.equal((await server.exited).code, 0, 'the iperf3 server ended its one test normally');
  },
);
