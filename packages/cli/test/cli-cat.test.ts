/**
 * `braid cat`: stdin to a peer's service over a stream and the reply to stdout, against
 * `braid cat --listen` on the other daemon — both directions byte-exact — and the refusal a
 * client sees for a service nobody serves.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { runBraid, twoDaemons } from './support/run.js';

t.setTimeout(300_000); // a bound on a hang; nothing here is timed

t.test('cat and cat --listen carry both directions byte-exact', async (t) => {
  const [a, b] = await twoDaemons(t);
  const toServer = randomBytes(1_500_000);
  const toClient = randomBytes(700_001);

  let listening!: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  const server = runBraid(['--socket', b.socketPath, 'cat', '--listen', 'echo'], {
    input: toClient,
    onStderr: (text) => {
      if (text.includes('listening on service echo')) listening();
    },
  });
  await ready;
  const client = await runBraid(['--socket', a.socketPath, 'cat', b.eid, 'echo'], {
    input: toServer,
  });
  const served = await server;

  t.equal(client.code, 0, client.stderr);
  t.equal(served.code, 0, served.stderr);
  t.ok(client.stdoutBytes.equals(toClient), 'the client got the server’s stdin, byte for byte');
  t.ok(served.stdoutBytes.equals(toServer), 'the server got the client’s stdin, byte for byte');
  t.match(served.stderr, `listening on service echo as ${b.eid}`);
  t.match(served.stderr, `stream from ${a.eid}`);
});

t.test('cat to a service nobody serves: the refusal, exit 1', async (t) => {
  const [a, b] = await twoDaemons(t);
  const r = await runBraid(['--socket', a.socketPath, 'cat', b.eid, 'nobody-here'], {
    input: Buffer.from('hello'),
  });
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, /ERR_BRAID_SERVICE_UNKNOWN/);
});
