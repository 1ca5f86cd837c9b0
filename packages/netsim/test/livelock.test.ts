import t from 'tap';
import {
  EchoNode,
  NodeContractError,
  type LivelockError,
  Simulator,
  type SimNode,
} from '@braid/netsim';

const A = '198.51.100.1:4433';
const B = '203.0.113.7:4433';

/** A node whose deadline is `deadline(now)` forever, whatever it is told. */
function stuckNode(deadline: (now: number) => number): SimNode & { timeouts: number } {
  let nowMs = 0;
  return {
    timeouts: 0,
    handleDatagram: () => {},
    handleTimeout(now) {
      nowMs = now;
      this.timeouts++;
    },
    pollTransmit: () => undefined,
    pollTimeout: () => deadline(nowMs),
  };
}

t.test('a node that always wants a timeout now is a livelock naming the seed', (t) => {
  const sim = new Simulator({ seed: 0xbeef, startMs: 5 });
  const node = stuckNode((now) => now);
  sim.addNode('stuck', node, [A]);
  const err = t.throws(() => sim.run({ maxVirtualMs: 1000 })) as LivelockError;
  t.equal(err.code, 'ERR_BRAID_SIM_LIVELOCK');
  t.equal(err.name, 'LivelockError');
  t.equal(err.seed, 0xbeef);
  t.equal(err.nowMs, 5);
  t.match(err.message, /BRAID_SEED=48879/);
  t.match(err.message, /"stuck"/);
  t.match(err.message, /at 5 ms/);
  t.equal(node.timeouts, 250_000, 'stopped at maxStepsPerInstant (default 250,000)');
  t.end();
});

t.test('maxSteps stops a node that advances time but never settles', (t) => {
  const sim = new Simulator({ seed: 17, maxSteps: 1000 });
  sim.addNode(
    'ticker',
    stuckNode((now) => now + 0.001),
    [A],
  );
  t.throws(() => sim.run({ maxVirtualMs: 1e9 }), {
    code: 'ERR_BRAID_SIM_LIVELOCK',
    message: /maxSteps \(1000\).*BRAID_SEED=17/,
  });
  t.end();
});

t.test('a deadline too small to move a large clock is caught as time not advancing', (t) => {
  const sim = new Simulator({ seed: 18, startMs: 2 ** 53, maxStepsPerInstant: 100 });
  sim.addNode(
    'float',
    stuckNode((now) => now + 0.5),
    [A],
  );
  t.throws(() => sim.run({ maxVirtualMs: 100 }), { code: 'ERR_BRAID_SIM_LIVELOCK' });
  t.end();
});

t.test('two echo nodes on zero-delay links ping-pong forever in one instant', (t) => {
  const sim = new Simulator({ seed: 19, maxStepsPerInstant: 10_000 });
  const a = new EchoNode();
  sim.addNode('a', a, [A]);
  sim.addNode('b', new EchoNode(), [B]);
  sim.addDuplexLink(A, B);
  a.handleDatagram(0, { local: A, remote: B }, new Uint8Array(1));
  t.throws(() => sim.run({ maxVirtualMs: 10 }), {
    code: 'ERR_BRAID_SIM_LIVELOCK',
    message: /did not advance/,
  });
  t.end();
});

t.test('a node emitting without end in one instant fails loudly', (t) => {
  const sim = new Simulator({ seed: 20, maxDatagramsPerInstant: 500 });
  let emitted = 0;
  sim.addNode(
    'flood',
    {
      handleDatagram: () => {},
      handleTimeout: () => {},
      pollTransmit: () => {
        emitted++;
        return { from: A, to: B, bytes: new Uint8Array(1) };
      },
      pollTimeout: () => undefined,
    },
    [A],
  );
  t.throws(() => sim.run({ maxVirtualMs: 10 }), {
    code: 'ERR_BRAID_SIM_LIVELOCK',
    message: /"flood" emitted more than 500 datagrams/,
  });
  t.equal(emitted, 501);
  t.end();
});

t.test('a NaN deadline breaks the SimNode contract', (t) => {
  const sim = new Simulator({ seed: 21 });
  t.throws(
    () =>
      sim.addNode(
        'nan',
        stuckNode(() => NaN),
        [A],
      ),
    {
      code: 'ERR_BRAID_SIM_NODE_CONTRACT',
      message: /BRAID_SEED=21/,
    },
  );
  t.ok(new NodeContractError(1, 'x', 'y') instanceof Error);
  t.end();
});

t.test('a busy but progressing instant is not a livelock', (t) => {
  // 50,000 datagrams delivered at the same instant stay under the default bounds.
  const sim = new Simulator({ seed: 22 });
  let sent = 0;
  let received = 0;
  sim.addNode(
    'burst',
    {
      handleDatagram: () => {},
      handleTimeout: () => {},
      pollTransmit: () =>
        sent < 50_000 ? (sent++, { from: A, to: B, bytes: new Uint8Array(1) }) : undefined,
      pollTimeout: () => undefined,
    },
    [A],
  );
  sim.addNode(
    'sink',
    {
      handleDatagram: () => void received++,
      handleTimeout: () => {},
      pollTransmit: () => undefined,
      pollTimeout: () => undefined,
    },
    [B],
  );
  sim.addLink(A, B, { delayMs: 1 });
  const result = sim.run({ maxVirtualMs: 10 });
  t.equal(received, 50_000);
  t.equal(result.steps, 50_000);
  t.end();
});
