/**
 * The network-namespace lab: two hosts, `a` and `b`, each a network namespace, joined by two
 * veth links on documentation ranges, with the faults Braid must survive made by the kernel:
 * a link set down, a silent nftables blackhole, random nftables loss, a NAT that rebinds, and
 * tbf rate shaping. No netem (this kernel has none).
 *
 * ```
 *            link 1: 198.51.100.0/24, eth1            (nat: a ─ router ─ b, see below)
 *   a (.1) ════════════════════════════════════ (.2) b
 *          ════════════════════════════════════
 *            link 2: 203.0.113.0/24, eth2
 * ```
 *
 * Everything is made inside the lab's namespaces (a veth is created with its peer already in the
 * other namespace), so deleting the namespaces deletes every interface, route, qdisc and nft
 * table the lab made. Each lab is registered until closed: an `exit` handler deletes what is
 * left synchronously, and SIGINT/SIGTERM close every lab (bounded) before the process exits.
 * Only `ip`, `nft`, `tc` and `sysctl` are run, with argv arrays, never a shell.
 */
import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMAND_TIMEOUT_MS, run, runSync, TOOL_ENV } from './command.js';
import { LabArgumentError, LabStateError, LabUnavailableError } from './errors.js';

export type HostName = 'a' | 'b';
export type LinkId = 1 | 2;

/** Lab names: `braid-<pid>-<6 hex digits>`; its namespaces add `-a`, `-b` (and `-r`). */
export const LAB_NAME_PATTERN = /^braid-[0-9]+-[0-9a-f]{6}$/;
/** What `sweepLabs` accepts: a lab name, or a run prefix `braid-<pid>-`. */
const SWEEP_PREFIX_PATTERN = /^braid-[0-9]+-(?:[0-9a-f]{6})?$/;
/** Lab processes get this long to exit after SIGTERM before SIGKILL. */
export const PROCESS_STOP_GRACE_MS = 2_000;
/** On SIGINT/SIGTERM, closing every lab may take this long before the process exits anyway. */
export const SIGNAL_CLEANUP_MS = 8_000;
/** Rebindings per lab: each takes a fresh 1000-port range from 20000 upwards. */
export const REBINDINGS_MAX = 40;

export interface LabOptions {
  /** Shape each link to this rate, each direction, with tbf (default: unshaped). */
  rateMbit?: number;
  /** The tbf queue, in milliseconds at the shaped rate (default 20). */
  queueMs?: number;
  /**
   * Put host a's end of link 1 behind a NAT router (a third namespace, `-r`) that masquerades
   * a's traffic to b's side with a port from a range that `rebind()` changes (default false).
   */
  nat?: boolean;
  /** IPv6 too: 2001:db8:1::/64 on link 1 and 2001:db8:2::/64 on link 2 (default false). */
  ipv6?: boolean;
  /** Configure kernel MPTCP so an MPTCP connection from a to b uses both links (default off). */
  mptcp?: MptcpOptions;
  /** Lab name (the namespaces' prefix); default `braid-<pid>-<random>`. */
  name?: string;
}

export interface MptcpOptions {
  /** Link 2's subflow is a backup, used only when link 1's subflow fails (default false). */
  backupLink2?: boolean;
}

export interface LinkInfo {
  readonly id: LinkId;
  /** Interface name of this link on hosts a and b (the same on both). */
  readonly iface: string;
  /** Host a's IPv4 address on this link (behind the NAT on link 1 of a NAT lab). */
  readonly a: string;
  readonly b: string;
  /** The address b sees a's packets come from: `a`, or the router's with NAT. */
  readonly aSeenByB: string;
  readonly a6?: string;
  readonly b6?: string;
}

export interface LabProcessOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stdio?: SpawnOptions['stdio'];
}

/** Lab creation, faults and processes. Create with {@link createLab}; always `close()`. */
export interface Lab {
  readonly name: string;
  /** Namespace of each host. */
  readonly namespaces: Readonly<Record<HostName, string>>;
  /** The router's namespace of a NAT lab. */
  readonly routerNamespace: string | undefined;
  readonly links: readonly [LinkInfo, LinkInfo];
  link(id: LinkId): LinkInfo;
  /** `ip link set <iface> down|up` on `host`'s end of the link (default host a). */
  setLinkUp(id: LinkId, up: boolean, host?: HostName): Promise<void>;
  /**
   * Silently drops every packet of the link, both directions, where each host receives it (an
   * nftables table of its own, so it can be removed without touching other faults); `false`
   * removes it. Neither sender is told: sends succeed, nothing arrives.
   */
  setBlackhole(id: LinkId, on: boolean): Promise<void>;
  /** Drops `percent` % of the packets arriving on each link at each host; 0 removes the loss. */
  setLoss(percent: number): Promise<void>;
  /**
   * NAT labs: the router forgets its mappings and maps a's traffic from a new port range, so
   * b sees a's link-1 packets arrive from a new source port. Returns the new range.
   */
  rebind(): Promise<{ portMin: number; portMax: number }>;
  /** Runs a command in `host`'s namespace and returns its stdout. */
  exec(host: HostName | 'r', command: string, args: readonly string[]): Promise<string>;
  /**
   * A private directory for this lab's files (daemon configs, keys, control sockets), made on
   * first use under the system's temporary directory and deleted by `close()`.
   */
  workDir(): string;
  /** Starts a process in `host`'s namespace; `close()` stops it if it is still running. */
  spawn(
    host: HostName,
    command: string,
    args: readonly string[],
    options?: LabProcessOptions,
  ): ChildProcess;
  /** Stops the lab's processes and deletes its namespaces. Idempotent. */
  close(): Promise<void>;
  readonly closed: boolean;
  /**
   * Leaves the lab in place when this process exits (for `lab-cli up --detach`): the caller
   * takes over its removal (`lab-cli down NAME`). Processes started in it are not stopped.
   */
  detach(): void;
}

const LINK_IFACES: Record<LinkId, string> = { 1: 'eth1', 2: 'eth2' };
const ROUTER_LAN = 'lan';
const ROUTER_WAN = 'wan';

/** The prefix of every lab this process makes: `sweepLabs(runPrefix())` removes them all. */
export function runPrefix(): string {
  return `braid-${process.pid}-`;
}

/**
 * A lab made earlier (by `lab-cli up --detach`), to apply faults to or to close. It is not
 * removed when this process exits.
 */
export async function attachLab(name: string): Promise<Lab> {
  if (!LAB_NAME_PATTERN.test(name))
    throw new LabArgumentError(`lab name "${name}" is not braid-<pid>-<6 hex digits>`);
  const present = new Set(parseNamespaceList(await run('ip', ['netns', 'list'])));
  if (!present.has(`${name}-a`) || !present.has(`${name}-b`))
    throw new LabStateError(`no lab ${name} here (ip netns list shows no ${name}-a and ${name}-b)`);
  const nat = present.has(`${name}-r`);
  let rebindings = 0;
  if (nat) {
    const table = await run('ip', [
      'netns',
      'exec',
      `${name}-r`,
      'nft',
      'list',
      'table',
      'inet',
      'braid_nat',
    ]);
    rebindings = Number(/ct zone set (\d+)/.exec(table)?.[1] ?? 0);
  }
  const lab = new LabImpl({ name, nat });
  lab.adopt([`${name}-a`, `${name}-b`, ...(nat ? [`${name}-r`] : [])], rebindings);
  return lab;
}

/** Creates a lab. On failure everything made so far is deleted before the error is thrown. */
export async function createLab(options: LabOptions = {}): Promise<Lab> {
  const lab = new LabImpl(options);
  lab.settingUp = lab.setUp();
  try {
    await lab.settingUp;
  } catch (err) {
    await lab.close();
    throw err;
  }
  return lab;
}

class LabImpl implements Lab {
  readonly name: string;
  readonly namespaces: Readonly<Record<HostName, string>>;
  readonly routerNamespace: string | undefined;
  readonly links: readonly [LinkInfo, LinkInfo];
  private readonly options: LabOptions;
  private readonly created: string[] = [];
  private readonly processes = new Set<ChildProcess>();
  private rebindings = 0;
  private dir: string | undefined;
  private closing: Promise<void> | undefined;
  private aborted = false;
  settingUp: Promise<void> | undefined;

  constructor(options: LabOptions) {
    if (options.name !== undefined && !LAB_NAME_PATTERN.test(options.name))
      throw new LabArgumentError(`lab name "${options.name}" is not braid-<pid>-<6 hex digits>`);
    if (options.rateMbit !== undefined && !(options.rateMbit > 0 && options.rateMbit <= 100_000))
      throw new LabArgumentError(`rateMbit ${options.rateMbit} is outside (0, 100000]`);
    if (options.queueMs !== undefined && !(options.queueMs >= 1 && options.queueMs <= 1_000))
      throw new LabArgumentError(`queueMs ${options.queueMs} is outside [1, 1000]`);
    if (options.nat && options.ipv6)
      throw new LabArgumentError('nat and ipv6 together are not supported (the NAT is IPv4)');
    this.options = options;
    this.name = options.name ?? `${runPrefix()}${randomBytes(3).toString('hex')}`;
    this.namespaces = { a: `${this.name}-a`, b: `${this.name}-b` };
    this.routerNamespace = options.nat ? `${this.name}-r` : undefined;
    const v6 = (link: LinkId, host: 1 | 2) =>
      options.ipv6 ? { [host === 1 ? 'a6' : 'b6']: `2001:db8:${link}::${host}` } : {};
    this.links = [
      {
        id: 1,
        iface: LINK_IFACES[1],
        a: options.nat ? '198.51.100.129' : '198.51.100.1',
        b: '198.51.100.2',
        aSeenByB: '198.51.100.1',
        ...v6(1, 1),
        ...v6(1, 2),
      },
      {
        id: 2,
        iface: LINK_IFACES[2],
        a: '203.0.113.1',
        b: '203.0.113.2',
        aSeenByB: '203.0.113.1',
        ...v6(2, 1),
        ...v6(2, 2),
      },
    ];
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  link(id: LinkId): LinkInfo {
    if (id !== 1 && id !== 2) throw new LabArgumentError(`no link ${String(id)}: links are 1, 2`);
    return this.links[id - 1]!;
  }

  adopt(namespaces: readonly string[], rebindings: number): void {
    this.created.push(...namespaces);
    this.rebindings = rebindings;
  }

  detach(): void {
    liveLabs.delete(this);
    uninstallHandlersIfIdle();
  }

  async setUp(): Promise<void> {
    liveLabs.add(this);
    installHandlers();
    const { a, b } = this.namespaces;
    const r = this.routerNamespace;
    for (const ns of r ? [a, b, r] : [a, b]) {
      // Recorded first: a namespace being added when a signal arrives is deleted on exit.
      this.created.push(ns);
      await this.run('ip', ['netns', 'add', ns]);
      await this.ip(ns, 'link', 'set', 'lo', 'up');
    }
    const [l1, l2] = this.links;
    // Link 2, then link 1 (direct, or through the router). Each veth is born with its peer in
    // the other namespace: nothing is ever left in the namespace this process runs in.
    await this.veth(a, l2.iface, b, l2.iface);
    await this.ip(a, 'addr', 'add', `${l2.a}/24`, 'dev', l2.iface);
    await this.ip(b, 'addr', 'add', `${l2.b}/24`, 'dev', l2.iface);
    if (r) {
      await this.veth(a, l1.iface, r, ROUTER_LAN);
      await this.veth(r, ROUTER_WAN, b, l1.iface);
      // a's side 198.51.100.128/25, b's side 198.51.100.0/25: b sees the router's .1.
      await this.ip(a, 'addr', 'add', `${l1.a}/25`, 'dev', l1.iface);
      await this.ip(r, 'addr', 'add', '198.51.100.130/25', 'dev', ROUTER_LAN);
      await this.ip(r, 'addr', 'add', `${l1.aSeenByB}/25`, 'dev', ROUTER_WAN);
      await this.ip(b, 'addr', 'add', `${l1.b}/25`, 'dev', l1.iface);
      for (const dev of [ROUTER_LAN, ROUTER_WAN]) await this.ip(r, 'link', 'set', dev, 'up');
    } else {
      await this.veth(a, l1.iface, b, l1.iface);
      await this.ip(a, 'addr', 'add', `${l1.a}/24`, 'dev', l1.iface);
      await this.ip(b, 'addr', 'add', `${l1.b}/24`, 'dev', l1.iface);
    }
    for (const link of this.links) {
      for (const [ns, addr] of [
        [a, link.a6],
        [b, link.b6],
      ] as const) {
        // nodad: the address is usable at once instead of after duplicate detection (~1 s).
        if (addr) await this.ip(ns, 'addr', 'add', `${addr}/64`, 'dev', link.iface, 'nodad');
      }
      for (const ns of [a, b]) await this.ip(ns, 'link', 'set', link.iface, 'up');
    }
    // Each link is its own network: a host drops what arrives on a link from an address that
    // its routes place on the other link (a strict reverse-path check, as an ISP's ingress
    // filtering does, BCP 38). Without it, a → b from 203.0.113.1 to 198.51.100.2 would work
    // (out on link 1, answered on link 2), and a path would cross both links.
    for (const ns of [a, b])
      await this.nft(
        ns,
        replaceTable('braid_rpf', [
          'chain in { type filter hook prerouting priority raw; fib saddr . iif oif missing drop; }',
        ]),
      );
    if (r) {
      await this.ip(a, 'route', 'add', '198.51.100.0/25', 'via', '198.51.100.130', 'dev', l1.iface);
      await this.run('ip', ['netns', 'exec', r, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      await this.rebind();
    }
    if (this.options.rateMbit !== undefined) await this.shape(this.options.rateMbit);
    if (this.options.mptcp) await this.configureMptcp(this.options.mptcp);
  }

  /** tbf on every interface of every link, each direction shaped at its sender's egress. */
  private async shape(rateMbit: number): Promise<void> {
    const queueMs = this.options.queueMs ?? 20;
    // The bucket holds 1 ms at the rate (at least 2 full-size packets) so tbf does not starve
    // on timer granularity; the queue is `latency` long at the rate.
    const burstBytes = Math.max(3_028, Math.round((rateMbit * 1e6) / 8 / 1000));
    const tbf = (ns: string, dev: string) =>
      this.run('tc', [
        '-n',
        ns,
        'qdisc',
        'replace',
        'dev',
        dev,
        'root',
        'tbf',
        'rate',
        `${rateMbit}mbit`,
        'burst',
        String(burstBytes),
        'latency',
        `${queueMs}ms`,
      ]);
    for (const link of this.links)
      for (const ns of [this.namespaces.a, this.namespaces.b]) await tbf(ns, link.iface);
    if (this.routerNamespace)
      for (const dev of [ROUTER_LAN, ROUTER_WAN]) await tbf(this.routerNamespace, dev);
  }

  /** A veth pair: `name` in namespace `ns`, its peer `peerName` born in `peerNs`. */
  private veth(ns: string, name: string, peerNs: string, peerName: string): Promise<string> {
    return this.ip(
      ns,
      'link',
      'add',
      name,
      'type',
      'veth',
      'peer',
      'name',
      peerName,
      'netns',
      peerNs,
    );
  }

  private async configureMptcp(options: MptcpOptions): Promise<void> {
    const { a, b } = this.namespaces;
    const l2 = this.links[1];
    for (const ns of [a, b]) {
      await this.ip(ns, 'mptcp', 'limits', 'set', 'subflows', '2', 'add_addr_accepted', '2');
      // b's ADD_ADDR rides one pure ACK; if it is lost the kernel repeats it only after
      // add_addr_timeout (120 s by default), and the connection stays on one link that long.
      await this.run('ip', [
        'netns',
        'exec',
        ns,
        'sysctl',
        '-q',
        '-w',
        'net.mptcp.add_addr_timeout=1',
      ]);
    }
    // b (the server) announces its link-2 address; a (the client) opens a subflow to it from
    // its own link-2 address. Flags mark that subflow as a backup on both ends.
    const backup = options.backupLink2 ? ['backup'] : [];
    await this.ip(b, 'mptcp', 'endpoint', 'add', l2.b, 'dev', l2.iface, 'signal', ...backup);
    if (options.backupLink2)
      await this.ip(a, 'mptcp', 'endpoint', 'add', l2.a, 'dev', l2.iface, 'backup');
  }

  async setLinkUp(id: LinkId, up: boolean, host: HostName = 'a'): Promise<void> {
    this.assertOpen();
    const link = this.link(id);
    await ip(this.namespace(host), 'link', 'set', link.iface, up ? 'up' : 'down');
  }

  async setBlackhole(id: LinkId, on: boolean): Promise<void> {
    this.assertOpen();
    const { iface } = this.link(id);
    // Dropped where each host receives, never where it sends: a drop on the output path would
    // fail the sender's sendmsg with EPERM, and a blackhole tells the sender nothing.
    const chains = on
      ? [`chain in { type filter hook prerouting priority raw; iifname "${iface}" drop; }`]
      : undefined;
    for (const ns of [this.namespaces.a, this.namespaces.b])
      await nft(ns, replaceTable(`braid_blackhole_${iface}`, chains));
  }

  async setLoss(percent: number): Promise<void> {
    this.assertOpen();
    if (!Number.isInteger(percent) || percent < 0 || percent > 99)
      throw new LabArgumentError(`loss ${percent}% is not an integer in [0, 99]`);
    const ifaces = this.links.map((l) => `"${l.iface}"`).join(', ');
    const chains =
      percent === 0
        ? undefined
        : [
            'chain in { type filter hook prerouting priority raw; ' +
              `iifname { ${ifaces} } numgen random mod 100 < ${percent} drop; }`,
          ];
    for (const ns of [this.namespaces.a, this.namespaces.b])
      await nft(ns, replaceTable('braid_loss', chains));
  }

  async rebind(): Promise<{ portMin: number; portMax: number }> {
    if (this.closing) throw new LabStateError(`lab ${this.name} is closed`);
    const r = this.routerNamespace;
    if (!r) throw new LabStateError(`lab ${this.name} has no NAT (create it with nat: true)`);
    if (this.rebindings >= REBINDINGS_MAX)
      throw new LabStateError(`lab ${this.name} rebound ${REBINDINGS_MAX} times already`);
    // Masquerade with a port range, and every packet through the router tagged with a conntrack
    // zone. A rebinding switches both in one nft transaction: the next packet of a's flow finds
    // no mapping in the new zone, so it gets a fresh one from the new range, as when a home
    // router reboots or a carrier NAT times a binding out. Replies to the old port find no
    // mapping either and are dropped silently (the router accepts nothing addressed to itself).
    const generation = this.rebindings++;
    const zone = generation + 1;
    const portMin = 20_000 + generation * 1_000;
    const portMax = portMin + 999;
    await nft(
      r,
      replaceTable('braid_nat', [
        `chain zone_in { type filter hook prerouting priority raw; ct zone set ${zone}; }`,
        `chain zone_out { type filter hook output priority raw; ct zone set ${zone}; }`,
        `chain input { type filter hook input priority 0; iifname "${ROUTER_WAN}" drop; }`,
        'chain postrouting { type nat hook postrouting priority srcnat; ' +
          `oifname "${ROUTER_WAN}" meta l4proto { tcp, udp } masquerade to :${portMin}-${portMax}; }`,
      ]),
    );
    return { portMin, portMax };
  }

  exec(host: HostName | 'r', command: string, args: readonly string[]): Promise<string> {
    this.assertOpen();
    return run('ip', ['netns', 'exec', this.namespace(host), command, ...args]);
  }

  spawn(
    host: HostName,
    command: string,
    args: readonly string[],
    options: LabProcessOptions = {},
  ): ChildProcess {
    this.assertOpen();
    // `ip netns exec` enters the namespace and execs the command: the child's PID is the
    // command's own, so stopping it by PID stops the program.
    const child = spawn('ip', ['netns', 'exec', this.namespace(host), command, ...args], {
      stdio: options.stdio ?? ['pipe', 'pipe', 'pipe'],
      env: options.env ?? TOOL_ENV,
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    this.processes.add(child);
    child.once('exit', () => this.processes.delete(child));
    // A spawn failure is reported on the child's `error`; without a listener it would throw.
    child.on('error', () => {});
    return child;
  }

  workDir(): string {
    this.assertOpen();
    this.dir ??= mkdtempSync(join(tmpdir(), `${this.name}-`));
    return this.dir;
  }

  close(): Promise<void> {
    this.closing ??= this.teardown();
    return this.closing;
  }

  private async teardown(): Promise<void> {
    // Setup stops at its next command; wait for that (one command, bounded) before deleting.
    this.aborted = true;
    await this.settingUp?.catch(() => undefined);
    await Promise.all([...this.processes].map((child) => stopProcess(child)));
    for (const ns of [...this.created].reverse()) {
      await killNamespaceProcesses(ns);
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    // Whatever failed above (a namespace that would not go) is retried by the exit handler.
    if (this.leftovers().length === 0) liveLabs.delete(this);
    uninstallHandlersIfIdle();
  }

  /** Synchronous last resort from the `exit` handler. */
  teardownSync(): void {
    for (const child of this.processes) if (child.pid) tryKill(child.pid, 'SIGKILL');
    for (const ns of this.leftovers()) {
      try {
        for (const pid of parsePids(runSync('ip', ['netns', 'pids', ns]))) tryKill(pid, 'SIGKILL');
        runSync('ip', ['netns', 'del', ns]);
      } catch {
        // Nothing more can be done while exiting; `lab-cli sweep` removes it later.
      }
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Setup's and rebind's commands: none starts once the lab is closing. */
  private run(file: string, args: readonly string[]): Promise<string> {
    if (this.aborted) return Promise.reject(new LabStateError(`lab ${this.name} is closing`));
    return run(file, args);
  }

  private ip(ns: string, ...args: string[]): Promise<string> {
    return this.run('ip', ['-n', ns, ...args]);
  }

  private nft(ns: string, ruleset: string): Promise<string> {
    if (this.aborted) return Promise.reject(new LabStateError(`lab ${this.name} is closing`));
    return nft(ns, ruleset);
  }

  private leftovers(): string[] {
    const present = new Set(listNamespacesSync());
    return this.created.filter((ns) => present.has(ns));
  }

  private namespace(host: HostName | 'r'): string {
    if (host === 'r') {
      if (!this.routerNamespace) throw new LabStateError(`lab ${this.name} has no router`);
      return this.routerNamespace;
    }
    if (host !== 'a' && host !== 'b') throw new LabArgumentError(`no host "${String(host)}"`);
    return this.namespaces[host];
  }

  private assertOpen(): void {
    if (this.closing) throw new LabStateError(`lab ${this.name} is closed`);
  }
}

function ip(ns: string, ...args: string[]): Promise<string> {
  return run('ip', ['-n', ns, ...args]);
}

function nft(ns: string, ruleset: string): Promise<string> {
  return run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: ruleset });
}

/**
 * An nft script that replaces `table` atomically: the add-then-delete idiom deletes it whether
 * or not it existed, then (with `chains`) it is created anew, all in one transaction.
 */
function replaceTable(table: string, chains: readonly string[] | undefined): string {
  const lines = [`add table inet ${table}`, `delete table inet ${table}`];
  if (chains) lines.push(`table inet ${table} {`, ...chains.map((c) => `  ${c}`), '}');
  return lines.join('\n') + '\n';
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = once(child, 'exit').catch(() => undefined);
  const within = (ms: number) =>
    Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(resolve, ms, false).unref()),
    ]);
  child.kill('SIGTERM');
  if (await within(PROCESS_STOP_GRACE_MS)) return;
  child.kill('SIGKILL');
  await within(PROCESS_STOP_GRACE_MS);
}

/** Processes still inside a namespace of ours (started there by us) are killed by PID. */
async function killNamespaceProcesses(ns: string): Promise<void> {
  const pids = await run('ip', ['netns', 'pids', ns]).then(parsePids, () => []);
  for (const pid of pids) tryKill(pid, 'SIGKILL');
}

function parsePids(text: string): number[] {
  return text
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 1);
}

function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function listNamespacesSync(): string[] {
  try {
    return parseNamespaceList(runSync('ip', ['netns', 'list']));
  } catch {
    return [];
  }
}

/** `ip netns list` prints `name` or `name (id: N)` per line. */
export function parseNamespaceList(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

/**
 * Deletes every namespace whose name starts with `prefix` (a lab name, or `runPrefix()` for
 * every lab of this process), after killing the processes inside. Returns what it deleted.
 */
export async function sweepLabs(prefix: string): Promise<string[]> {
  if (!SWEEP_PREFIX_PATTERN.test(prefix))
    throw new LabArgumentError(`sweep prefix "${prefix}" is not braid-<pid>- or a lab name`);
  const names = parseNamespaceList(await run('ip', ['netns', 'list'])).filter((n) =>
    n.startsWith(prefix),
  );
  for (const ns of names) {
    await killNamespaceProcesses(ns);
    await run('ip', ['netns', 'del', ns]);
  }
  return names;
}

export type LabSupport = { ok: true } | { ok: false; reason: string };

let support: Promise<LabSupport> | undefined;

/**
 * Whether labs can be made here, and if not, why (for a test's skip message): root, `ip`,
 * `nft`, `tc`, and a namespace in which nftables works. Checked once per process.
 */
export function labSupport(): Promise<LabSupport> {
  support ??= probeSupport();
  return support;
}

async function probeSupport(): Promise<LabSupport> {
  if (process.platform !== 'linux') return { ok: false, reason: 'network namespaces need Linux' };
  const uid = process.getuid?.();
  if (uid !== 0) return { ok: false, reason: `needs root for network namespaces (uid ${uid})` };
  for (const [tool, args, pkg] of [
    ['ip', ['-V'], 'iproute2'],
    ['tc', ['-V'], 'iproute2'],
    ['nft', ['--version'], 'nftables'],
  ] as const) {
    try {
      await run(tool, args, { timeoutMs: COMMAND_TIMEOUT_MS });
    } catch {
      return { ok: false, reason: `\`${tool}\` not found (apt-get install ${pkg})` };
    }
  }
  const probe = `${runPrefix()}${randomBytes(3).toString('hex')}-probe`;
  try {
    await run('ip', ['netns', 'add', probe]);
  } catch (err) {
    return { ok: false, reason: `network namespaces not permitted: ${(err as Error).message}` };
  }
  try {
    await run('ip', ['netns', 'exec', probe, 'nft', 'list', 'tables']);
  } catch (err) {
    return { ok: false, reason: `nftables unusable in a namespace: ${(err as Error).message}` };
  } finally {
    await run('ip', ['netns', 'del', probe]).catch(() => undefined);
  }
  return { ok: true };
}

/** Throws {@link LabUnavailableError} with the reason when labs cannot be made here. */
export async function assertLabSupport(): Promise<void> {
  const s = await labSupport();
  if (!s.ok) throw new LabUnavailableError(s.reason);
}

// ---- cleanup on exit and on signals ----

const liveLabs = new Set<LabImpl>();
let handlersInstalled = false;

function onExit(): void {
  for (const lab of liveLabs) lab.teardownSync();
  liveLabs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  const code = 128 + (signal === 'SIGINT' ? 2 : 15);
  const deadline = new Promise((resolve) => setTimeout(resolve, SIGNAL_CLEANUP_MS).unref());
  void Promise.race([Promise.all([...liveLabs].map((lab) => lab.close())), deadline]).finally(() =>
    process.exit(code),
  );
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', onExit);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function uninstallHandlersIfIdle(): void {
  if (!handlersInstalled || liveLabs.size > 0) return;
  handlersInstalled = false;
  process.off('exit', onExit);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}
