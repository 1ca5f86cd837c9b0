/**
 * The lab itself, as root: its links carry traffic, each fault does what it says and can be
 * undone, and nothing it made is left behind — after close(), after SIGTERM, and (through the
 * sweep) after SIGKILL. UDP datagrams from udp-probe check the links; no timing is asserted.
 */
import { existsSync } from 'node:fs';
import t from 'tap';
import { run } from '../../scripts/netns/command.js';
import {
  createLab,
  type HostName,
  type Lab,
  labSupport,
  parseNamespaceList,
  sweepLabs,
} from '../../scripts/netns/lab.js';
import type { PeerProcess } from '../../scripts/netns/peer-process.js';
import { labScript, mptcpPeer, PYTHON, startPeer } from '../../scripts/netns/programs.js';

const support = await labSupport();
const skip = support.ok ? false : support.reason;
const PEER_WAIT_MS = 20_000;

async function namespaces(): Promise<string[]> {
  return parseNamespaceList(await run('ip', ['netns', 'list']));
}

async function echo(lab: Lab, host: HostName, port = 7000): Promise<PeerProcess> {
  const peer = startPeer(
    lab,
    host,
    labScript('udp-probe', ['echo', '--port', String(port)]),
    `echo@${host}`,
  );
  await peer.ready(PEER_WAIT_MS);
  return peer;
}

/** Pings `to` from `host` (bound to `bind`): how many of `count` came back, and send errors. */
async function ping(
  lab: Lab,
  host: HostName,
  to: string,
  bind: string,
  count = 10,
  waitMs = 1_000,
): Promise<{ received: number; sendErrors: number }> {
  const args = ['ping', '--to', to, '--bind', bind, '--count', String(count)];
  const peer = startPeer(
    lab,
    host,
    labScript('udp-probe', [...args, '--wait-ms', String(waitMs)]),
    `ping@${host}`,
  );
  const done = await peer.done(PEER_WAIT_MS + count * waitMs);
  return { received: done.received as number, sendErrors: done.sendErrors as number };
}

t.test('both links carry traffic, each between its own pair of addresses', { skip }, async (t) => {
  const lab = await createLab({ rateMbit: 100 });
  t.teardown(() => lab.close());
  await echo(lab, 'b');
  for (const link of lab.links) {
    const r = await ping(lab, 'a', `${link.b}:7000`, `${link.a}:7001`);
    t.equal(r.received, 10, `link ${link.id}: every datagram echoed`);
    for (const ns of Object.values(lab.namespaces)) {
      const qdisc = await run('tc', ['-n', ns, 'qdisc', 'show', 'dev', link.iface]);
      t.match(qdisc, /tbf .*rate 100Mbit/, `${ns} ${link.iface} shaped to 100 Mbit/s`);
    }
  }
});

t.test('ip link set down cuts link 1 only; up restores it', { skip }, async (t) => {
  const lab = await createLab();
  t.teardown(() => lab.close());
  await echo(lab, 'b');
  const [l1, l2] = lab.links;
  await lab.setLinkUp(1, false);
  const down = await ping(lab, 'a', `${l1.b}:7000`, `${l1.a}:7001`, 5, 200);
  t.equal(down.received, 0, 'nothing crosses link 1 while it is down');
  t.ok(down.sendErrors > 0, `the host reports the link gone (${down.sendErrors} send errors)`);
  t.equal((await ping(lab, 'a', `${l2.b}:7000`, `${l2.a}:7001`)).received, 10, 'link 2 works');
  await lab.setLinkUp(1, true);
  t.equal((await ping(lab, 'a', `${l1.b}:7000`, `${l1.a}:7001`)).received, 10, 'link 1 is back');
});

t.test(
  'a blackhole drops link 1 silently in both directions and is removable',
  { skip },
  async (t) => {
    const lab = await createLab();
    t.teardown(() => lab.close());
    await echo(lab, 'a');
    await echo(lab, 'b');
    const [l1, l2] = lab.links;
    await lab.setBlackhole(1, true);
    const ab = await ping(lab, 'a', `${l1.b}:7000`, `${l1.a}:7001`, 5, 200);
    t.same(
      ab,
      { received: 0, sendErrors: 0 },
      'a → b: nothing arrives, and the sender is not told',
    );
    const ba = await ping(lab, 'b', `${l1.a}:7000`, `${l1.b}:7001`, 5, 200);
    t.same(ba, { received: 0, sendErrors: 0 }, 'b → a: nothing arrives either');
    t.equal((await ping(lab, 'a', `${l2.b}:7000`, `${l2.a}:7001`)).received, 10, 'link 2 works');
    await lab.setBlackhole(1, false);
    t.equal((await ping(lab, 'a', `${l1.b}:7000`, `${l1.a}:7001`)).received, 10, 'link 1 is back');
  },
);

t.test(
  'random loss drops some datagrams on both links, not all; 0 removes it',
  { skip },
  async (t) => {
    const lab = await createLab();
    t.teardown(() => lab.close());
    await echo(lab, 'b');
    await lab.setLoss(30);
    for (const link of lab.links) {
      // 100 round trips at 30 % each way: all or none coming back has odds below 1e-15.
      const r = await ping(lab, 'a', `${link.b}:7000`, `${link.a}:7001`, 100, 50);
      t.ok(r.received > 0 && r.received < 100, `link ${link.id}: ${r.received}/100 echoed`);
    }
    await lab.setLoss(0);
    for (const link of lab.links) {
      const r = await ping(lab, 'a', `${link.b}:7000`, `${link.a}:7001`);
      t.equal(r.received, 10, `link ${link.id}: no loss once removed`);
    }
    await t.rejects(lab.setLoss(100), { code: 'ERR_BRAID_LAB_ARGUMENT' });
    await t.rejects(lab.setLoss(2.5), { code: 'ERR_BRAID_LAB_ARGUMENT' });
  },
);

t.test(
  'NAT: b sees a from the router; a rebinding gives a new source port',
  { skip },
  async (t) => {
    const lab = await createLab({ nat: true });
    t.teardown(() => lab.close());
    const server = await echo(lab, 'b');
    const l1 = lab.link(1);
    t.not(l1.aSeenByB, l1.a, 'a is behind the router on link 1');
    const first = await ping(lab, 'a', `${l1.b}:7000`, `${l1.a}:7001`, 5);
    t.equal(first.received, 5, 'replies come back through the NAT');
    const range = await lab.rebind();
    const second = await ping(lab, 'a', `${l1.b}:7000`, `${l1.a}:7001`, 5);
    t.equal(second.received, 5, 'and after the rebinding too');
    // The echo server reports a new source on its stdout, which may reach us after the ping's
    // replies did (CI saw one source of two under load): wait for both reports, or time out.
    const events = await server.eventsAtLeast(2, PEER_WAIT_MS).catch(() => server.events);
    const sources = events.map((e) => String(e.from));
    t.equal(sources.length, 2, `b saw two sources: ${sources.join(', ')}`);
    const ports = sources.map((s) => Number(s.split(':')[1]));
    t.ok(
      sources.every((s) => s.startsWith(`${l1.aSeenByB}:`)),
      'both from the router address',
    );
    t.ok(ports[0]! >= 20_000 && ports[0]! < 21_000, `first mapping from 20000-20999 (${ports[0]})`);
    t.ok(
      ports[1]! >= range.portMin && ports[1]! <= range.portMax,
      `second from ${range.portMin}-${range.portMax} (${ports[1]})`,
    );
    await t.rejects(createLab({ nat: true, ipv6: true }), { code: 'ERR_BRAID_LAB_ARGUMENT' });
  },
);

t.test('IPv6 addresses on both links when asked', { skip }, async (t) => {
  const lab = await createLab({ ipv6: true });
  t.teardown(() => lab.close());
  await echo(lab, 'b');
  for (const link of lab.links) {
    // One unmeasured round first: the reply to the very first packet can be dropped while
    // neighbour discovery resolves the other host (seen once in CI: 9 of 10).
    await ping(lab, 'a', `[${link.b6}]:7000`, `[${link.a6}]:7001`, 1);
    const r = await ping(lab, 'a', `[${link.b6}]:7000`, `[${link.a6}]:7001`);
    t.equal(r.received, 10, `link ${link.id} over ${link.a6} → ${link.b6}`);
  }
});

t.test('close() stops the lab processes and deletes every namespace', { skip }, async (t) => {
  const lab = await createLab({ nat: true });
  const server = await echo(lab, 'b');
  const names = [...Object.values(lab.namespaces), lab.routerNamespace!];
  t.ok(
    names.every((n) => n.startsWith(lab.name)),
    'namespaces carry the lab name',
  );
  await lab.close();
  t.ok(server.hasExited, 'the echo process was stopped');
  const left = await namespaces();
  t.same(
    left.filter((n) => n.startsWith(lab.name)),
    [],
    'no namespace left',
  );
  await lab.close();
  t.pass('close() twice is harmless');
  t.throws(() => lab.spawn('a', 'true', []), { code: 'ERR_BRAID_LAB_STATE' });
});

t.test(
  'a process stopped by SIGTERM deletes its lab; the sweep removes what SIGKILL left',
  { skip },
  async (t) => {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      const cli = labScript('lab-cli', ['up', '--nat']);
      const { spawn } = await import('node:child_process');
      const child = spawn(cli.command, cli.args, { stdio: ['ignore', 'pipe', 'pipe'] });
      t.teardown(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      const name = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /^lab (braid-\S+)$/m.exec(out);
          if (m && out.includes('Ctrl-C')) resolve(m[1]!);
        });
        child.once('exit', (code) =>
          reject(new Error(`lab-cli exited (${code}) before the lab was up: ${out}`)),
        );
      });
      t.teardown(() => sweepLabs(name).then(() => undefined));
      t.equal((await namespaces()).filter((n) => n.startsWith(name)).length, 3, `${name} is up`);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
      const left = (await namespaces()).filter((n) => n.startsWith(name));
      if (signal === 'SIGTERM') {
        t.same(left, [], 'SIGTERM: the process deleted its lab before exiting');
      } else {
        t.equal(left.length, 3, 'SIGKILL: nothing could run, the lab is left');
        const removed = await sweepLabs(`braid-${child.pid}-`);
        t.equal(removed.length, 3, 'the sweep of that process prefix removed it');
        t.same(
          (await namespaces()).filter((n) => n.startsWith(name)),
          [],
          'nothing left',
        );
      }
    }
    await t.rejects(
      sweepLabs('braid-'),
      { code: 'ERR_BRAID_LAB_ARGUMENT' },
      'no sweeping of every lab',
    );
    await t.rejects(sweepLabs('other-1-'), { code: 'ERR_BRAID_LAB_ARGUMENT' });
  },
);

t.test(
  'kernel MPTCP in the lab opens a second subflow over link 2 (the baseline works)',
  { skip: skip || (existsSync(PYTHON) ? false : `${PYTHON} not found (apt-get install python3)`) },
  async (t) => {
    const lab = await createLab({ rateMbit: 100, mptcp: {} });
    t.teardown(() => lab.close());
    const server = startPeer(lab, 'b', mptcpPeer(['server', '--port', '5201']), 'mptcp server');
    await server.ready(PEER_WAIT_MS);
    const client = startPeer(
      lab,
      'a',
      // The client sends only once the second subflow joined (within 10 s, or it fails with the
      // MPTcpExt counters): a transfer that ran before the path manager's join would measure
      // plain TCP on one link (seen in CI: MPJoinSynAckRx 0 after 32 MB).
      mptcpPeer([
        'client',
        '--connect',
        lab.link(1).b,
        '--port',
        '5201',
        '--bytes',
        '8000000',
        '--wait-subflows',
        '1',
      ]),
      'mptcp client',
    );
    const [sent, received] = await Promise.all([client.done(60_000), server.done(60_000)]);
    t.equal(received.bytes, 8_000_000, 'every byte arrived');
    t.equal(received.sha256, sent.sha256, 'byte for byte');
    t.equal(sent.subflows, 1, 'the second subflow was still there at the end');
    // /proc/net/netstat as seen from a's namespace: a header line and a value line per group.
    const netstat = (await lab.exec('a', 'cat', ['/proc/net/netstat'])).split('\n');
    const header = netstat.findIndex((l) => l.startsWith('MPTcpExt:'));
    const names = netstat[header]?.split(/\s+/) ?? [];
    const values = netstat[header + 1]?.split(/\s+/) ?? [];
    const n = Number(values[names.indexOf('MPJoinSynAckRx')] ?? 0);
    t.ok(n >= 1, `a joined a second subflow (MPJoinSynAckRx ${n})`);
  },
);
