/**
 * The multipath scenarios (`pnpm sim -- --scenario NAME`): two hosts with two paths between
 * them (`multipath-topology.ts`), one bulk or paced transfer checked byte for byte as it is
 * read, and a scripted fault — a silent blackhole, an address going away, a flapping link, NAT
 * rebinding, a long outage — with the figures that say how the session lived through it.
 *
 * Every scenario fails (`verified: false`) unless every stream arrives byte-exact, in order and
 * once, both hashes agree, and there was exactly one session (no new handshake) — the fault
 * must be survived by the session, not by redialling — and neither host sent stream data to an
 * address no validated path leads to, nor B (which never opens paths) more than 3× what it
 * received from there (RFC 9000 §8).
 *
 * Figures (virtual time, deterministic per seed; `null` where the scenario has no such event):
 * - `stallMs`: the longest gap in application delivery (reads that returned bytes) from the
 *   first fault to the end of the transfer, the gap from the fault to the first read after it
 *   included.
 * - `failoverMs`: from the fault to the first datagram carrying stream bytes on a path of
 *   another link that the sender sent once it had seen the faulted link fail (its first
 *   `suspect` or `down` event for a path there): when the stranded data started to move. (In
 *   `aggregate` scheduling the other path carried data all along; what changes is that the
 *   faulted path's data goes there too.)
 * - `recoveredMs`: from the moment the scenario restores the faulted link (or gives A its new
 *   address) to the first datagram carrying stream bytes on a path of that link.
 */
import {
  createSeededRandom,
  generateIdentity,
  type CryptoProvider,
  type EndpointOptions,
  type PathStats,
  type SchedulerName,
} from '@braid/protocol';
import type { LinkOptions } from '../link.js';
import { NatNode, type NatStats } from '../nat.js';
import { Simulator } from '../simulator.js';
import { runToCompletion, scenarioResult, type ScenarioResult } from './common.js';
import {
  MultipathNode,
  RunLog,
  type AddressLedger,
  type LoggedEvent,
  type Side,
  type StreamPlan,
} from './multipath-node.js';
import { MP_SWEEP_MAX_VIRTUAL_MS, randomMultipath } from './multipath-random.js';
import { MP_A, MP_A_INSIDE, MP_B, TwoPathTopology, type LinkIndex } from './multipath-topology.js';

export const MULTIPATH_SCENARIOS = [
  'failover-blackhole',
  'failover-down',
  'redundant',
  'aggregate',
  'flap',
  'flap-alternate',
  'rebind',
  'outage-resume',
  'random',
] as const;
export type MultipathScenario = (typeof MULTIPATH_SCENARIOS)[number];

/** One line per scenario, for `pnpm sim -- --help` and the docs. */
export const MULTIPATH_SCENARIO_SUMMARY: Record<MultipathScenario, string> = {
  'failover-blackhole':
    'bulk A→B; midway the link carrying it goes silent both ways, restored 2 s later',
  'failover-down':
    "bulk A→B; midway A's runtime removes that link's address (and the link drops everything), back 2 s later",
  redundant:
    'a redundant stream of 1 KB messages every 10 ms; midway one link goes silent, restored 2 s later',
  aggregate: 'bulk A→B over two paths of rtt/2 and 2×rtt, against one path alone in the same run',
  flap: 'bulk A→B; link 0 is up 5 s, down 2 s, over and over',
  'flap-alternate': 'bulk A→B; each link is up 5 s, down 2 s, in turn (never both down)',
  rebind: "bulk B→A to A behind a NAT that rebinds A's port, then its address and port, every 5 s",
  'outage-resume':
    'bulk A→B; midway both links go silent for 60 s, then A comes back on a new address',
  random:
    'everything from the seed: per-link delay, jitter, loss, rate, queue, flaps and NAT rebindings of A (healed at 20 s), scheduler, direction, size',
};

export interface MultipathOptions {
  scenario: MultipathScenario;
  seed: number;
  crypto: CryptoProvider;
  /** Round-trip time of each link (its one-way delay is half). Default 20 ms. */
  rttMs?: number;
  /** Bytes of the transfer. Default: the scenario's (see {@link scenarioDefaults}). */
  bytes?: number;
  /** Rate of each link, each way, bits/s. Default: the scenario's. */
  rateBps?: number;
  /**
   * Drop-tail queue of each link with `rateBps`, packets. Default: one bandwidth-delay product
   * of the link (1,200-byte packets), at least 8.
   */
  queuePackets?: number;
  /** Independent loss of each link, each way. Default 0. */
  loss?: number;
  /** Extra uniform delay of each link, each way (never reorders). Default 1 ms. */
  jitterMs?: number;
  /** How the hosts spread bulk data over paths. Default `aggregate` (the endpoint's default). */
  scheduler?: SchedulerName;
  /** `ik` when A knows B's static key. Default `xx`. */
  pattern?: 'xx' | 'ik';
  /** Options passed to both endpoints (besides the addresses and path filter set here). */
  endpoint?: Partial<EndpointOptions>;
  /** The run fails if not done after this much virtual time. Default 600 000 ms. */
  maxVirtualMs?: number;
  /** Width of a timeline bucket. Default 100 ms. */
  bucketMs?: number;
  /** For `failover-*`, `redundant`: how long the link stays faulted. Default 2 000 ms. */
  restoreAfterMs?: number;
  /** For `outage-resume`: how long both links stay silent. Default 60 000 ms. */
  outageMs?: number;
  /** For `flap*`: up and down times of a link. Default 5 000 and 2 000 ms. */
  flapUpMs?: number;
  flapDownMs?: number;
  /** For `rebind`: time between NAT rebindings. Default 5 000 ms. */
  rebindEveryMs?: number;
  /** `aggregate`: also run the one-path baseline. Default true. */
  onePathBaseline?: boolean;
  /**
   * Called with the run's pieces before it starts, to add nodes, links, actions or hooks (an
   * attacker, a capture). Not called for the one-path baseline of `aggregate`.
   */
  attach?: (run: MultipathRun) => void;
}

export interface ScenarioDefaults {
  bytes: number;
  rateBps: number;
  /** Who sends the bulk data. */
  sender: Side;
}

/** The defaults of a scenario, chosen so the transfer outlasts its faults at 20 ms RTT. */
export function scenarioDefaults(scenario: MultipathScenario): ScenarioDefaults {
  switch (scenario) {
    case 'failover-blackhole':
    case 'failover-down':
      return { bytes: 10_000_000, rateBps: 10e6, sender: 'a' };
    case 'redundant':
      return { bytes: 1 << 20, rateBps: 10e6, sender: 'a' };
    case 'aggregate':
      return { bytes: 8_000_000, rateBps: 10e6, sender: 'a' };
    case 'flap':
    case 'flap-alternate':
      return { bytes: 10_000_000, rateBps: 4e6, sender: 'a' };
    case 'rebind':
      return { bytes: 10_000_000, rateBps: 4e6, sender: 'b' };
    case 'outage-resume':
      return { bytes: 4_000_000, rateBps: 10e6, sender: 'a' };
    case 'random':
      return { bytes: 0, rateBps: Infinity, sender: 'a' };
  }
}

/** A scripted fault or repair, as the result lists them. */
export interface ScriptedAction {
  atMs: number;
  what: string;
}

/** Stream bytes per path in one bucket of the timeline (at the sender), and bytes read. */
export interface TimelineRow {
  atMs: number;
  /** Path ID → stream bytes the sender put on it. */
  sent: Record<number, number>;
  /** Stream bytes the receiver read. */
  delivered: number;
}

export interface TimelinePath {
  id: number;
  /** The link its addresses are on at the end (or when it was last seen). */
  link: number | null;
  local: string;
  remote: string;
}

export interface MultipathResult extends ScenarioResult {
  scenario: MultipathScenario;
  scheduler: SchedulerName;
  /** Each link's RTT, ms. */
  rttMs: [number, number];
  /** The slower link's rate, bits/s (`null`: unlimited). */
  rateBps: number | null;
  /** Each link's options at the start (both directions alike). */
  linkOptions: [LinkOptions, LinkOptions];
  /** Who sent the bulk data. */
  sender: Side;
  /** Stream bytes the receiver read. */
  bytes: number;
  /** Bits per second of virtual time, from the sender's session being established to the last byte read. */
  goodputBps: number;
  hash: { sent: string; received: string };
  sessions: { establishedAtA: number; establishedAtB: number; closes: string[] };
  /** The first fault and the first repair the script made (virtual ms), and the link faulted. */
  faultAtMs: number | null;
  faultLink: number | 'both' | null;
  restoredAtMs: number | null;
  stallMs: number | null;
  failoverMs: number | null;
  recoveredMs: number | null;
  /** `aggregate`: the same transfer over one path alone (link 0), and the ratio of goodputs. */
  onePath?: { verified: boolean; failure?: string; goodputBps: number };
  aggregateRatio?: number;
  /** `redundant`: smoothed RTT of the sender's path on the link that was not faulted. */
  survivingRttMs?: number;
  script: ScriptedAction[];
  timeline: { bucketMs: number; paths: TimelinePath[]; rows: TimelineRow[] };
  paths: { a: PathStats[]; b: PathStats[] };
  events: LoggedEvent[];
  /**
   * Each host's ledger per remote address (see {@link AddressLedger}). B never opens paths, so
   * what it sends to an address no validated path has must keep within 3× what it received
   * from there (RFC 9000 §8); and neither host may send stream data to such an address. A breach
   * of either fails the run.
   */
  addresses: { a: AddressLedger[]; b: AddressLedger[] };
  nat?: NatStats;
}

/** The pieces of a run: the simulator, the topology, the two hosts (and A's NAT). */
export interface MultipathRun {
  sim: Simulator;
  topo: TwoPathTopology;
  a: MultipathNode;
  b: MultipathNode;
  /** What the simulator holds as node `a`: A's NAT when there is one, else A. */
  nat: NatNode | undefined;
  sender: MultipathNode;
  receiver: MultipathNode;
}

/** What the script of a scenario can do. */
interface ScriptContext extends MultipathRun {
  /** Runs `fn` (as a simulator action) once the receiver has read `fraction` of the bytes. */
  whenDelivered(fraction: number, fn: (now: number) => void): void;
  /** The link whose paths carried the most stream bytes in the last 200 ms (link 0 on a tie). */
  carryingLink(now: number): LinkIndex;
  fault(now: number, link: LinkIndex | 'both', what: string): void;
  restore(now: number, link: LinkIndex, what: string): void;
  note(now: number, what: string): void;
}

interface Setup {
  options: MultipathOptions;
  rttMs: [number, number];
  rateBps: number;
  bytes: number;
  scheduler: SchedulerName;
  sender: Side;
  nat: boolean;
  /** Only link 0's addresses are given to the endpoints (the one-path baseline). */
  onePath: boolean;
  pattern: 'xx' | 'ik';
  maxVirtualMs: number;
  /** Each link's options, when not built from `rttMs`, `rateBps` and the options. */
  links?: [LinkOptions, LinkOptions];
  plan: StreamPlan;
  script: (ctx: ScriptContext) => void;
}

/** Runs one multipath scenario. Never throws for a protocol failure: it reports it in `failure`. */
export function runMultipath(options: MultipathOptions): MultipathResult {
  const setup = buildSetup(options);
  const result = runSetup(setup);
  if (options.scenario === 'aggregate' && options.onePathBaseline !== false) {
    const alone = runSetup({ ...setup, onePath: true, script: () => {} });
    result.onePath = {
      verified: alone.verified,
      ...(alone.failure ? { failure: alone.failure } : {}),
      goodputBps: alone.goodputBps,
    };
    if (alone.goodputBps > 0)
      result.aggregateRatio = Math.round((result.goodputBps / alone.goodputBps) * 1000) / 1000;
    if (!alone.verified && result.verified) {
      result.verified = false;
      result.failure = `one-path baseline: ${alone.failure}`;
    }
  }
  return result;
}

function buildSetup(options: MultipathOptions): Setup {
  const d = scenarioDefaults(options.scenario);
  const rtt = options.rttMs ?? 20;
  const bytes = options.bytes ?? d.bytes;
  const restoreAfterMs = options.restoreAfterMs ?? 2_000;
  const base = {
    options,
    rttMs: [rtt, rtt] as [number, number],
    rateBps: options.rateBps ?? d.rateBps,
    bytes,
    scheduler: options.scheduler ?? 'aggregate',
    sender: d.sender,
    nat: false,
    onePath: false,
    pattern: options.pattern ?? 'xx',
    maxVirtualMs: options.maxVirtualMs ?? 600_000,
    plan: { sizes: [bytes] } as StreamPlan,
  };
  switch (options.scenario) {
    case 'failover-blackhole':
      return {
        ...base,
        script(ctx) {
          ctx.whenDelivered(0.5, (now) => {
            const link = ctx.carryingLink(now);
            ctx.topo.setBlackhole(link, true);
            ctx.fault(now, link, `link ${link} silently drops everything, both ways`);
            ctx.sim.at(now + restoreAfterMs, (sim) => {
              ctx.topo.setBlackhole(link, false);
              ctx.restore(sim.now, link, `link ${link} restored`);
            });
          });
        },
      };
    case 'failover-down':
      return {
        ...base,
        script(ctx) {
          ctx.whenDelivered(0.5, (now) => {
            const link = ctx.carryingLink(now);
            const address = MP_A[link];
            ctx.fault(
              now,
              link,
              `A's address ${address} is gone (removeLocalAddress); link ${link} drops everything`,
            );
            ctx.topo.setBlackhole(link, true);
            ctx.sim.removeLocator(address);
            ctx.a.command(now, (e) => e.removeLocalAddress(now, address));
            ctx.sim.at(now + restoreAfterMs, (sim) => {
              ctx.restore(sim.now, link, `A's address ${address} is back (addLocalAddress)`);
              ctx.topo.setBlackhole(link, false);
              sim.addLocator('a', address);
              ctx.a.command(sim.now, (e) => e.addLocalAddress(sim.now, address));
            });
          });
        },
      };
    case 'redundant': {
      const chunkBytes = 1024;
      return {
        ...base,
        plan: {
          sizes: [bytes],
          policy: { mode: 'redundant', fec: 'off' },
          pace: { chunkBytes, intervalMs: 10 },
        },
        script(ctx) {
          ctx.whenDelivered(0.5, (now) => {
            ctx.topo.setBlackhole(0, true);
            ctx.fault(now, 0, 'link 0 silently drops everything, both ways');
            ctx.sim.at(now + restoreAfterMs, (sim) => {
              ctx.topo.setBlackhole(0, false);
              ctx.restore(sim.now, 0, 'link 0 restored');
            });
          });
        },
      };
    }
    case 'aggregate':
      return { ...base, rttMs: [rtt / 2, rtt * 2], script: () => {} };
    case 'flap':
    case 'flap-alternate': {
      const upMs = options.flapUpMs ?? 5_000;
      const downMs = options.flapDownMs ?? 2_000;
      const links: LinkIndex[] = options.scenario === 'flap' ? [0] : [0, 1];
      return {
        ...base,
        script(ctx) {
          links.forEach((link, i) => {
            // Link 1 is half a period behind link 0, so the two are never down together.
            const offsetMs = (i * (upMs + downMs)) / 2;
            const down = (atMs: number): void =>
              ctx.sim.at(atMs, (sim) => {
                if (ctx.receiver.done) return;
                ctx.topo.setBlackhole(link, true);
                ctx.fault(sim.now, link, `link ${link} down (flap)`);
                sim.at(sim.now + downMs, (sim) => {
                  ctx.topo.setBlackhole(link, false);
                  ctx.restore(sim.now, link, `link ${link} up (flap)`);
                  down(sim.now + upMs);
                });
              });
            down(upMs + offsetMs);
          });
        },
      };
    }
    case 'rebind': {
      const everyMs = options.rebindEveryMs ?? 5_000;
      return {
        ...base,
        nat: true,
        script(ctx) {
          const rebind = (k: number): void =>
            ctx.sim.at(k * everyMs, () => {
              if (ctx.receiver.done) return;
              rebindAll(ctx, k);
              rebind(k + 1);
            });
          rebind(1);
        },
      };
    }
    case 'outage-resume': {
      const outageMs = options.outageMs ?? 60_000;
      const newAddress = '198.51.100.3:4433';
      return {
        ...base,
        script(ctx) {
          ctx.whenDelivered(0.5, (now) => {
            ctx.topo.setBlackhole(0, true);
            ctx.topo.setBlackhole(1, true);
            ctx.fault(now, 'both', 'both links silently drop everything, both ways');
            ctx.sim.at(now + outageMs, (sim) => {
              const t = sim.now;
              ctx.restore(
                t,
                0,
                `A's address ${MP_A[0]} is gone; A comes back on link 0 as ${newAddress}`,
              );
              sim.removeLocator(MP_A[0]);
              ctx.a.command(t, (e) => e.removeLocalAddress(t, MP_A[0]));
              ctx.topo.attach(0, newAddress);
              ctx.topo.setBlackhole(0, false);
              sim.addLocator('a', newAddress);
              ctx.a.command(t, (e) => e.addLocalAddress(t, newAddress));
            });
          });
        },
      };
    }
    case 'random': {
      const c = randomMultipath(options.seed);
      const size = options.bytes ?? c.bytes;
      return {
        ...base,
        links: c.links,
        rttMs: [2 * (c.links[0].delayMs ?? 0), 2 * (c.links[1].delayMs ?? 0)],
        rateBps: Math.min(c.links[0].rateBps ?? Infinity, c.links[1].rateBps ?? Infinity),
        bytes: size,
        scheduler: options.scheduler ?? c.scheduler,
        sender: c.sender,
        pattern: options.pattern ?? c.pattern,
        maxVirtualMs: options.maxVirtualMs ?? MP_SWEEP_MAX_VIRTUAL_MS,
        nat: c.rebindAtMs.length > 0,
        plan: {
          sizes: [size],
          ...(c.redundant ? { policy: { mode: 'redundant', fec: 'off' } } : {}),
        },
        script(ctx) {
          let healed = false;
          c.flaps.forEach((flap, i) => {
            if (!flap) return;
            const link = i as LinkIndex;
            for (let t = flap.offsetMs; t < c.healAtMs; t += flap.periodMs) {
              ctx.sim.at(t, (sim) => {
                if (healed) return;
                ctx.topo.setBlackhole(link, true);
                ctx.fault(sim.now, link, `link ${link} down (flap)`);
              });
              ctx.sim.at(Math.min(t + flap.downMs, c.healAtMs), (sim) => {
                if (healed) return;
                ctx.topo.setBlackhole(link, false);
                ctx.restore(sim.now, link, `link ${link} up (flap)`);
              });
            }
          });
          c.rebindAtMs.forEach((atMs, i) =>
            ctx.sim.at(atMs, (sim) => {
              // A rebinding before B has validated A's address leaves B answering the old one
              // (a known gap of the handshake, not of multipath): not part of this sweep.
              if (ctx.b.establishedCount === 0)
                ctx.note(sim.now, 'NAT rebinding skipped: the handshake is not over');
              else rebindAll(ctx, i + 1);
            }),
          );
          ctx.sim.at(c.healAtMs, (sim) => {
            healed = true;
            for (const link of [0, 1] as const) {
              ctx.topo.setBlackhole(link, false);
              ctx.topo.update(link, {
                loss: 0,
                duplicate: 0,
                reorder: 0,
                jitterMs: 0,
                gilbertElliott: undefined,
              });
            }
            ctx.note(sim.now, 'every fault stops (healed)');
          });
        },
      };
    }
  }
}

/**
 * The NAT changes both of A's mappings: on odd ticks `k` the port only, on even ones the
 * address and the port (each tick's outside locators are new, wrapping only after hundreds).
 */
function rebindAll(ctx: ScriptContext, k: number): void {
  const nat = ctx.nat!;
  const portOnly = k % 2 === 1;
  ctx.fault(ctx.sim.now, 'both', `NAT rebinding (${portOnly ? 'port' : 'address and port'})`);
  for (const link of [0, 1] as const) {
    const before = nat.outsideOf(MP_A_INSIDE[link])!;
    const host = portOnly
      ? before.slice(0, before.lastIndexOf(':'))
      : `198.51.100.${10 + ((2 * k + link) % 240)}`;
    const outside = `${host}:${40_000 + ((10 * k + link) % 25_000)}`;
    if (ctx.topo.linkOf(outside) === undefined) {
      ctx.topo.attach(link, outside);
      ctx.sim.addLocator('a', outside);
    }
    nat.rebind(MP_A_INSIDE[link], outside);
    ctx.note(ctx.sim.now, `NAT maps ${MP_A_INSIDE[link]} to ${outside} (was ${before})`);
  }
}

function runSetup(setup: Setup): MultipathResult {
  const options = setup.options;
  const seed = options.seed >>> 0;
  const pattern = setup.pattern;
  const maxVirtualMs = setup.maxVirtualMs;
  const bucketMs = options.bucketMs ?? 100;
  const sim = new Simulator({ seed });
  const rate = setup.rateBps;
  const linkOptions =
    setup.links ??
    (setup.rttMs.map((rtt): LinkOptions => ({
      delayMs: rtt / 2,
      jitterMs: options.jitterMs ?? 1,
      ...(Number.isFinite(rate)
        ? {
            rateBps: rate,
            queuePackets:
              options.queuePackets ?? Math.max(8, Math.ceil((rate * rtt) / 1000 / 8 / 1200)),
          }
        : {}),
      ...(options.loss ? { loss: options.loss } : {}),
    })) as [LinkOptions, LinkOptions]);
  const topo = new TwoPathTopology(sim, linkOptions);

  const keys = createSeededRandom(seed ^ 0x5eed_0004);
  const idA = generateIdentity(options.crypto, keys);
  const idB = generateIdentity(options.crypto, keys);
  const log = new RunLog();
  const aLocals = setup.nat ? MP_A_INSIDE : MP_A;
  const count = setup.onePath ? 1 : 2;
  const base = {
    crypto: options.crypto,
    scheduler: setup.scheduler,
    ...options.endpoint,
    // Only locators on the same link are paired: cross pairs have no route in this topology.
    // Without the filter they would be opened all the same, fail validation and be dropped.
    pathFilter: topo.reachable,
  };
  const sizes = setup.plan.sizes;
  const b = new MultipathNode({
    side: 'b',
    endpoint: {
      ...base,
      identity: idB,
      random: createSeededRandom(seed ^ 0xb0b),
      localAddresses: MP_B.slice(0, count),
    },
    local: MP_B[0],
    send: setup.sender === 'b' ? setup.plan : { sizes: [] },
    peerSizes: setup.sender === 'a' ? sizes : [],
    log,
  });
  const a = new MultipathNode({
    side: 'a',
    endpoint: {
      ...base,
      identity: idA,
      random: createSeededRandom(seed ^ 0xa11ce),
      localAddresses: aLocals.slice(0, count),
    },
    local: aLocals[0],
    dial: {
      eid: idB.eid,
      ...(pattern === 'ik' ? { staticKey: idB.publicKey } : {}),
      remote: MP_B[0],
    },
    send: setup.sender === 'a' ? setup.plan : { sizes: [] },
    peerSizes: setup.sender === 'b' ? sizes : [],
    log,
  });
  const nat = setup.nat
    ? new NatNode(
        a,
        [0, 1].map((i) => [MP_A_INSIDE[i]!, MP_A[i]!]),
      )
    : undefined;
  sim.addNode('a', nat ?? a, [...MP_A]);
  sim.addNode('b', b, [...MP_B]);

  const sender = setup.sender === 'a' ? a : b;
  const receiver = setup.sender === 'a' ? b : a;
  const script: ScriptedAction[] = [];
  let faultAtMs: number | null = null;
  let faultSeq = -1;
  let faultLink: LinkIndex | 'both' | null = null;
  let restoredAtMs: number | null = null;
  let restoreSeq = -1;
  let restoredLink: LinkIndex | null = null;
  const triggers: { bytes: number; fn: (now: number) => void }[] = [];
  const total = sizes.reduce((n, s) => n + s, 0);
  const linkOfSend = (to: string): LinkIndex | undefined => topo.linkOf(to);
  const ctx: ScriptContext = {
    sim,
    topo,
    a,
    b,
    nat,
    sender,
    receiver,
    whenDelivered(fraction, fn) {
      triggers.push({ bytes: Math.ceil(total * fraction), fn });
    },
    carryingLink(now) {
      const perLink = [0, 0];
      for (let i = sender.streamSends.length - 1; i >= 0; i--) {
        const s = sender.streamSends[i]!;
        if (s.atMs < now - 200) break;
        const link = linkOfSend(s.to);
        if (link !== undefined) perLink[link]! += s.bytes;
      }
      return perLink[1]! > perLink[0]! ? 1 : 0;
    },
    fault(now, link, what) {
      script.push({ atMs: now, what });
      if (faultAtMs !== null) return;
      faultAtMs = now;
      faultSeq = log.next();
      faultLink = link;
    },
    restore(now, link, what) {
      script.push({ atMs: now, what });
      if (restoredAtMs !== null) return;
      restoredAtMs = now;
      restoreSeq = log.next();
      restoredLink = link;
    },
    note(now, what) {
      script.push({ atMs: now, what });
    },
  };
  setup.script(ctx);
  if (!setup.onePath) options.attach?.(ctx);

  const until = (): boolean => {
    while (triggers.length > 0 && receiver.bytesIn >= triggers[0]!.bytes) {
      const t = triggers.shift()!;
      sim.at(sim.now, (s) => t.fn(s.now));
    }
    return receiver.done;
  };
  const run = runToCompletion(
    sim,
    until,
    maxVirtualMs,
    () =>
      `${receiver.side.toUpperCase()} read ${receiver.bytesIn} of ${total} bytes; closes: ${[...a.closes, ...b.closes].join('; ') || 'none'}`,
  );
  let failure = run.failure;
  const hashSent = sender.hashOut.join(',');
  const hashReceived = receiver.hashIn.join(',');
  if (!failure && hashSent !== hashReceived)
    failure = `hash mismatch: sent ${hashSent}, received ${hashReceived}`;
  if (!failure && (a.establishedCount !== 1 || b.establishedCount !== 1))
    failure = `expected one session, A established ${a.establishedCount}, B ${b.establishedCount}`;
  if (!failure && a.endpoint.stats().handshakesStarted !== 1)
    failure = `A started ${a.endpoint.stats().handshakesStarted} handshakes`;
  const addresses = { a: [...a.ledger.values()], b: [...b.ledger.values()] };
  for (const l of addresses.b)
    if (!failure && l.worstRatio > 3)
      failure = `B sent ${l.sentUnvalidated} bytes to unvalidated ${l.address} after receiving ${l.received} (more than 3x)`;
  for (const [side, ledger] of Object.entries(addresses))
    for (const l of ledger)
      if (!failure && l.streamBytesUnvalidated > 0)
        failure = `${side.toUpperCase()} sent ${l.streamBytesUnvalidated} stream bytes to unvalidated ${l.address}`;

  // Figures.
  const end = receiver.finishedAtMs ?? sim.now;
  let stallMs: number | null = null;
  if (faultAtMs !== null) {
    let prev: number = faultAtMs;
    let gap = 0;
    for (const d of receiver.deliveries) {
      if (d.atMs < faultAtMs) continue;
      gap = Math.max(gap, d.atMs - prev);
      prev = d.atMs;
    }
    stallMs = Math.max(gap, end - prev);
  }
  let failoverMs: number | null = null;
  if (faultAtMs !== null && faultLink !== 'both') {
    // The sender saw the faulted link fail: its first suspect or down path there.
    const seen = log.events.find(
      (e) =>
        e.seq > faultSeq &&
        e.side === sender.side &&
        e.type === 'path' &&
        (e.change === 'suspect' || e.change === 'down') &&
        (topo.linkOf(e.local!) ?? topo.linkOf(e.remote!)) === faultLink,
    );
    const first =
      seen &&
      sender.streamSends.find((s) => {
        if (s.seq < seen.seq) return false;
        const link = linkOfSend(s.to);
        return link !== undefined && link !== faultLink;
      });
    if (first) failoverMs = first.atMs - faultAtMs;
  }
  let recoveredMs: number | null = null;
  if (restoredAtMs !== null) {
    const first = sender.streamSends.find(
      (s) => s.seq > restoreSeq && linkOfSend(s.to) === restoredLink,
    );
    if (first) recoveredMs = first.atMs - restoredAtMs;
  }

  const start = sender.establishedAtMs ?? 0;
  const pathsA = a.paths();
  const pathsB = b.paths();
  const result: MultipathResult = {
    ...scenarioResult(
      seed,
      failure,
      sim,
      pattern,
      a.handshakeMs,
      { a: a.endpoint, b: b.endpoint },
      run.steps,
    ),
    scenario: options.scenario,
    scheduler: setup.scheduler,
    rttMs: [round3(setup.rttMs[0])!, round3(setup.rttMs[1])!],
    rateBps: Number.isFinite(rate) ? rate : null,
    linkOptions,
    sender: setup.sender,
    bytes: receiver.bytesIn,
    goodputBps:
      receiver.finishedAtMs !== undefined && receiver.finishedAtMs > start
        ? Math.round((receiver.bytesIn * 8 * 1000) / (receiver.finishedAtMs - start))
        : 0,
    hash: { sent: hashSent, received: hashReceived },
    sessions: {
      establishedAtA: a.establishedCount,
      establishedAtB: b.establishedCount,
      closes: [...a.closes.map((c) => `a: ${c}`), ...b.closes.map((c) => `b: ${c}`)],
    },
    faultAtMs,
    faultLink,
    restoredAtMs,
    stallMs: round3(stallMs),
    failoverMs: round3(failoverMs),
    recoveredMs: round3(recoveredMs),
    script,
    timeline: timeline(sender, receiver, bucketMs, linkOfSend, log.events),
    paths: { a: pathsA.map(roundPath), b: pathsB.map(roundPath) },
    events: log.events,
    addresses,
    ...(nat ? { nat: nat.stats() } : {}),
  };
  if (options.scenario === 'redundant' && faultLink !== null && faultLink !== 'both') {
    const surviving = (setup.sender === 'a' ? pathsA : pathsB).find(
      (p) => topo.linkOf(setup.sender === 'a' ? p.remote : p.local) !== faultLink,
    );
    if (surviving) result.survivingRttMs = round3(surviving.rttMs)!;
  }
  return result;
}

function timeline(
  sender: MultipathNode,
  receiver: MultipathNode,
  bucketMs: number,
  linkOf: (locator: string) => LinkIndex | undefined,
  events: readonly LoggedEvent[],
): MultipathResult['timeline'] {
  const rows = new Map<number, TimelineRow>();
  const row = (atMs: number): TimelineRow => {
    const k = Math.floor(atMs / bucketMs);
    let r = rows.get(k);
    if (!r) {
      r = { atMs: k * bucketMs, sent: {}, delivered: 0 };
      rows.set(k, r);
    }
    return r;
  };
  const paths = new Map<number, TimelinePath>();
  for (const e of events)
    if (e.side === sender.side && e.type === 'path' && e.pathId !== undefined)
      paths.set(e.pathId, {
        id: e.pathId,
        link: linkOf(e.remote!) ?? linkOf(e.local!) ?? null,
        local: e.local!,
        remote: e.remote!,
      });
  for (const p of sender.paths())
    paths.set(p.id, {
      id: p.id,
      link: linkOf(p.remote) ?? linkOf(p.local) ?? null,
      local: p.local,
      remote: p.remote,
    });
  for (const s of sender.streamSends) {
    const r = row(s.atMs);
    r.sent[s.pathId] = (r.sent[s.pathId] ?? 0) + s.bytes;
  }
  for (const d of receiver.deliveries) row(d.atMs).delivered += d.bytes;
  // Every bucket from the first to the last, quiet ones included (an outage shows as zeros).
  const keys = [...rows.keys()];
  const out: TimelineRow[] = [];
  if (keys.length > 0) {
    let first = keys[0]!;
    let last = keys[0]!;
    for (const k of keys) {
      first = Math.min(first, k);
      last = Math.max(last, k);
    }
    for (let k = first; k <= last; k++)
      out.push(rows.get(k) ?? { atMs: k * bucketMs, sent: {}, delivered: 0 });
  }
  return { bucketMs, paths: [...paths.values()].sort((x, y) => x.id - y.id), rows: out };
}

function round3(v: number | null): number | null {
  return v === null ? null : Math.round(v * 1000) / 1000;
}

function roundPath(p: PathStats): PathStats {
  return {
    ...p,
    rttMs: round3(p.rttMs)!,
    minRttMs: round3(p.minRttMs)!,
    rttVarMs: round3(p.rttVarMs)!,
    cwndBytes: Math.round(p.cwndBytes),
    lossRate: round3(p.lossRate)!,
  };
}
