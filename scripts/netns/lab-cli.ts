/**
 * `lab-cli`: bring a network-namespace lab up and down by hand, and apply its faults.
 *
 *   tsx scripts/netns/lab-cli.ts up [--rate-mbit 100] [--nat] [--ipv6] [--mptcp] [--detach]
 *   tsx scripts/netns/lab-cli.ts link NAME 1 down        # ip link set eth1 down on host a
 *   tsx scripts/netns/lab-cli.ts blackhole NAME 1 on     # silent nftables drop on link 1
 *   tsx scripts/netns/lab-cli.ts loss NAME 5             # 5 % random loss on both links
 *   tsx scripts/netns/lab-cli.ts rebind NAME             # NAT labs: a new source port range
 *   tsx scripts/netns/lab-cli.ts down NAME               # delete the lab
 *   tsx scripts/netns/lab-cli.ts sweep                   # labs left by processes that died
 *
 * `up` keeps the lab until Ctrl-C (then deletes it) unless `--detach` is given. Exit codes:
 * 0 done, 1 a command failed, 2 bad arguments or the lab cannot run here.
 */
import { Command, InvalidArgumentError } from 'commander';
import {
  assertLabSupport,
  attachLab,
  createLab,
  type HostName,
  type Lab,
  type LinkId,
  parseNamespaceList,
  sweepLabs,
} from './lab.js';
import { run } from './command.js';

function parseLink(value: string): LinkId {
  if (value !== '1' && value !== '2') throw new InvalidArgumentError('links are 1 and 2');
  return Number(value) as LinkId;
}

function parseOnOff(value: string, on: string, off: string): boolean {
  if (value !== on && value !== off) throw new InvalidArgumentError(`expected ${on} or ${off}`);
  return value === on;
}

function parseNumber(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected a number in [${min}, ${max}]`);
    return n;
  };
}

function describe(lab: Lab): string {
  const lines = [`lab ${lab.name}`];
  for (const [host, ns] of Object.entries(lab.namespaces))
    lines.push(`  host ${host}: ip netns exec ${ns} …`);
  if (lab.routerNamespace) lines.push(`  router: ip netns exec ${lab.routerNamespace} …`);
  for (const l of lab.links)
    lines.push(
      `  link ${l.id} (${l.iface}): a ${l.a}${l.a6 ? ` ${l.a6}` : ''} — b ${l.b}${l.b6 ? ` ${l.b6}` : ''}` +
        (l.aSeenByB !== l.a ? ` (b sees a as ${l.aSeenByB}, NAT)` : ''),
    );
  return lines.join('\n');
}

async function withLab(name: string, action: (lab: Lab) => Promise<unknown>): Promise<void> {
  await assertLabSupport();
  await action(await attachLab(name));
}

const program = new Command('lab-cli')
  .description('Braid network-namespace lab: two hosts joined by two veth links')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command('up')
  .description('create a lab; keep it until Ctrl-C unless --detach')
  .option('--rate-mbit <n>', 'shape each link to this rate (tbf)', parseNumber(1, 100_000))
  .option('--queue-ms <n>', 'tbf queue in ms at that rate', parseNumber(1, 1_000))
  .option('--nat', "put a's end of link 1 behind a NAT router")
  .option('--ipv6', 'add 2001:db8:1::/64 and 2001:db8:2::/64')
  .option('--mptcp', 'configure kernel MPTCP endpoints on both links')
  .option('--detach', 'leave the lab in place and exit (remove it with `down NAME`)')
  .action(
    async (o: {
      rateMbit?: number;
      queueMs?: number;
      nat?: boolean;
      ipv6?: boolean;
      mptcp?: boolean;
      detach?: boolean;
    }) => {
      await assertLabSupport();
      const lab = await createLab({
        ...(o.rateMbit !== undefined ? { rateMbit: o.rateMbit } : {}),
        ...(o.queueMs !== undefined ? { queueMs: o.queueMs } : {}),
        nat: o.nat ?? false,
        ipv6: o.ipv6 ?? false,
        ...(o.mptcp ? { mptcp: {} } : {}),
      });
      console.log(describe(lab));
      if (o.detach) {
        lab.detach();
        console.log(`detached: remove with \`lab-cli down ${lab.name}\``);
        return;
      }
      console.log('Ctrl-C deletes the lab');
      // The lab module's SIGINT/SIGTERM handler closes the lab and exits; until then, wait.
      await new Promise(() => setInterval(() => {}, 1 << 30));
    },
  );

program
  .command('down')
  .argument('<name>', 'lab name (braid-<pid>-<hex>)')
  .description('delete a lab: its processes and namespaces')
  .action(async (name: string) => {
    await assertLabSupport();
    const removed = await sweepLabs(name);
    console.log(removed.length > 0 ? `deleted ${removed.join(', ')}` : `no lab ${name}`);
  });

program
  .command('link')
  .argument('<name>')
  .argument('<link>', '1 or 2', parseLink)
  .argument('<state>', 'up or down', (v) => parseOnOff(v, 'up', 'down'))
  .option('--host <host>', 'a or b', 'a')
  .description('ip link set ethN up|down on one host')
  .action(async (name: string, link: LinkId, up: boolean, o: { host: string }) => {
    if (o.host !== 'a' && o.host !== 'b') throw new InvalidArgumentError('hosts are a and b');
    await withLab(name, (lab) => lab.setLinkUp(link, up, o.host as HostName));
  });

program
  .command('blackhole')
  .argument('<name>')
  .argument('<link>', '1 or 2', parseLink)
  .argument('<state>', 'on or off', (v) => parseOnOff(v, 'on', 'off'))
  .description('silently drop every packet of a link, both directions (nftables)')
  .action(async (name: string, link: LinkId, on: boolean) => {
    await withLab(name, (lab) => lab.setBlackhole(link, on));
  });

program
  .command('loss')
  .argument('<name>')
  .argument('<percent>', '0 (off) to 99', parseNumber(0, 99))
  .description('random loss on both links, each direction (nftables numgen)')
  .action(async (name: string, percent: number) => {
    await withLab(name, (lab) => lab.setLoss(percent));
  });

program
  .command('rebind')
  .argument('<name>')
  .description('NAT labs: forget the mappings and use a new source port range')
  .action(async (name: string) => {
    await withLab(name, async (lab) => {
      const r = await lab.rebind();
      console.log(`a's link-1 traffic now leaves from ports ${r.portMin}-${r.portMax}`);
    });
  });

program
  .command('sweep')
  .argument('[prefix]', 'braid-<pid>- or a lab name (default: labs of processes that exited)')
  .description('delete leftover labs')
  .action(async (prefix?: string) => {
    await assertLabSupport();
    const prefixes =
      prefix !== undefined
        ? [prefix]
        : [...new Set(parseNamespaceList(await run('ip', ['netns', 'list'])))]
            .map((ns) => /^braid-([0-9]+)-/.exec(ns))
            .filter((m): m is RegExpExecArray => m !== null && !processAlive(Number(m[1])))
            .map((m) => m[0]);
    const removed: string[] = [];
    for (const p of new Set(prefixes)) removed.push(...(await sweepLabs(p)));
    console.log(removed.length > 0 ? `deleted ${removed.join(', ')}` : 'nothing to sweep');
  });

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

try {
  await program.parseAsync(
    process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--')),
    {
      from: 'user',
    },
  );
} catch (err) {
  const e = err as { code?: string; message: string };
  console.error(`lab-cli: ${e.message}`);
  process.exit(
    e.code === 'ERR_BRAID_LAB_UNAVAILABLE' || e.code === 'ERR_BRAID_LAB_ARGUMENT' ? 2 : 1,
  );
}
