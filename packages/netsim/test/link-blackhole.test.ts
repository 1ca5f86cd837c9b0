import t from 'tap';
import { ConstantRateSender, EchoNode, readSequence, Simulator, SinkNode } from '@braid/netsim';

const A = '198.51.100.1:4433';
const B = '203.0.113.7:4433';

t.test(
  'a blackhole switched on and off at scripted times drops exactly what was sent meanwhile',
  (t) => {
    const sim = new Simulator({ seed: 1 });
    const sink = new SinkNode();
    sim.addNode('a', new ConstantRateSender({ from: A, to: B, count: 1000, intervalMs: 1 }), [A]);
    sim.addNode('b', sink, [B]);
    const link = sim.addLink(A, B, { delayMs: 50 });
    // Scripted actions run before node deadlines at the same instant.
    sim.at(200, () => link.setBlackhole(true));
    sim.at(400, () => link.setBlackhole(false));
    sim.run({ maxVirtualMs: 2000 });
    const received = new Set(sink.arrivals.map((a) => readSequence(a.bytes)));
    const missing = [];
    for (let seq = 0; seq < 1000; seq++) if (!received.has(seq)) missing.push(seq);
    t.equal(missing.length, 200);
    t.equal(missing[0], 200);
    t.equal(missing[missing.length - 1], 399);
    t.equal(link.stats().dropped.blackhole, 200);
    t.equal(link.options.blackhole, false);
    // Datagram 199 was already on the wire when the blackhole started: it still arrives at 249.
    t.equal(sink.arrivals.find((a) => readSequence(a.bytes) === 199)?.atMs, 249);
    t.end();
  },
);

t.test('a duplex flap cuts both directions of an echo', (t) => {
  const sim = new Simulator({ seed: 2 });
  const sender = new ConstantRateSender({ from: A, to: B, count: 100, intervalMs: 10 });
  const echo = new EchoNode();
  sim.addNode('a', sender, [A]);
  sim.addNode('b', echo, [B]);
  const duplex = sim.addDuplexLink(A, B, { delayMs: 4 });
  sim.at(300, () => duplex.setBlackhole(true));
  sim.at(600, () => duplex.setBlackhole(false));
  sim.run({ maxVirtualMs: 2000 });
  // Sends at 300..590 fall in the outage (30 of them); the echo of 290 is back at 298, before it.
  t.equal(duplex.forward.stats().dropped.blackhole, 30);
  t.equal(echo.received, 70);
  t.equal(sender.received.length, 70);
  t.equal(duplex.reverse.stats().dropped.blackhole, 0, 'nothing reached b during the outage');
  t.end();
});

t.test('update() changes options at run time and undefined restores the default', (t) => {
  const sim = new Simulator({ seed: 3 });
  const sink = new SinkNode();
  sim.addNode('a', new ConstantRateSender({ from: A, to: B, count: 3, intervalMs: 100 }), [A]);
  sim.addNode('b', sink, [B]);
  const link = sim.addLink(A, B, { delayMs: 10 });
  sim.at(50, () => link.update({ delayMs: 30, mtu: 50 }));
  sim.at(150, () => link.update({ mtu: undefined }));
  sim.run({ maxVirtualMs: 1000 });
  t.same(
    sink.arrivals.map((a) => [readSequence(a.bytes), a.atMs]),
    [
      [0, 10],
      [2, 230],
    ],
  );
  t.equal(link.stats().dropped.mtu, 1);
  t.equal(link.options.mtu, Infinity);
  t.throws(() => link.update({ loss: 2 }), { code: 'ERR_BRAID_INVALID_OPTION' });
  t.throws(() => link.update({ delayMs: -1 }), { code: 'ERR_BRAID_INVALID_OPTION' });
  t.throws(() => link.update({ queuePackets: 1.5 }), { code: 'ERR_BRAID_INVALID_OPTION' });
  t.throws(() => link.update({ bogus: 1 } as never), { code: 'ERR_BRAID_INVALID_OPTION' });
  t.equal(link.options.delayMs, 30, 'a rejected update changes nothing');
  t.end();
});
