/**
 * The simulated transfer: `pnpm sim -- [options]`. Two Braid endpoints in the deterministic
 * simulator complete a handshake over a faulty link, then either
 * - (default, `--workload streams`) A sends `--bytes` over `--streams` reliable streams and B
 *   checks every byte as it reads and the hash of the whole, or
 * - (`--workload datagrams`) both exchange numbered, authenticated datagrams until every one is
 *   acknowledged by the application.
 * - (`--scenario NAME`) a multipath scenario: two hosts with two paths, a scripted fault
 *   (blackhole, address gone, flaps, NAT rebinding, a long outage) and how the session lived
 *   through it, with a per-path timeline.
 * Then a summary (or, with --json, one JSON object). Exit code 0 when verified, 1 when a safety
 * or liveness check failed, 2 on bad options.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  gilbertElliottFromMeanLoss,
  MP_A,
  MP_A_INSIDE,
  MP_B,
  MULTIPATH_SCENARIO_SUMMARY,
  MULTIPATH_SCENARIOS,
  runDatagramExchange,
  runFecMessages,
  runMultipath,
  runStreamTransfer,
  seedFromEnv,
  type ExchangeResult,
  type LinkOptions,
  type MultipathResult,
  type MultipathScenario,
  type TransferResult,
} from '@braid/netsim';
import { createSodiumCrypto } from '@braid/protocol';

/** Most timeline lines printed: the bucket widens (100, 250, 500 ms…) until the run fits. */
const TIMELINE_LINES_MAX = 60;
const BAR_CHARS = 16;

function num(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected a number in [${min}, ${max}], got "${value}"`);
    return n;
  };
}

function int(min: number, max: number) {
  return (value: string): number => {
    const n = num(min, max)(value);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
    return n;
  };
}

const program = new Command('pnpm sim --')
  .description('Run two Braid endpoints over a simulated faulty link and verify the transfer.')
  .option('--seed <n>', 'simulation seed (default: $BRAID_SEED, else 7)', int(0, 0xffff_ffff))
  .option('--loss <p>', 'independent loss probability, each way', num(0, 0.95), 0)
  .option(
    '--burst <packets>',
    'make loss bursty: mean burst length (Gilbert-Elliott)',
    num(1, 1000),
  )
  .option('--delay <ms>', 'one-way delay', num(0, 60_000), 20)
  .option('--jitter <ms>', 'extra uniform delay (never reorders)', num(0, 60_000), 0)
  .option('--duplicate <p>', 'duplication probability', num(0, 1), 0)
  .option(
    '--reorder <p>',
    'probability a packet is held back so later ones overtake it',
    num(0, 1),
    0,
  )
  .option('--corrupt <p>', 'probability one byte of a packet is altered', num(0, 1), 0)
  .option('--rate <mbps>', 'link rate in Mbit/s (default: unlimited)', num(0.01, 100_000))
  .option('--queue <packets>', 'drop-tail queue limit with --rate', int(1, 1_000_000), 64)
  .option('--flap <period:down>', 'blackhole both ways for DOWN ms out of every PERIOD ms')
  .option('--heal <ms>', 'stop every fault at this virtual time', num(0, 1e9))
  .addOption(
    new Option('--workload <w>', 'what the session carries')
      .choices(['streams', 'datagrams'])
      .default('streams'),
  )
  .option('--bytes <n>', 'streams: bytes A sends to B in all', int(0, 2 ** 40), 1 << 20)
  .option('--streams <n>', 'streams: split the bytes over this many streams', int(1, 100_000), 1)
  .addOption(
    new Option('--congestion <cc>', 'congestion controller')
      .choices(['cubic', 'newreno'])
      .default('cubic'),
  )
  .option('--messages <n>', 'datagrams: messages each side sends', int(0, 1_000_000), 100)
  .option('--size <bytes>', 'datagrams: payload bytes per message', int(1, 1159), 1000)
  .addOption(new Option('--pattern <p>', 'handshake pattern').choices(['xx', 'ik']).default('xx'))
  .option('--max-virtual-ms <ms>', 'give up after this much virtual time', num(1, 1e9), 600_000)
  .addOption(
    new Option(
      '--scenario <name>',
      'run a multipath scenario (two paths), or fec-messages (1 KB messages at 1,000/s on a low-latency stream)',
    ).choices([...MULTIPATH_SCENARIOS, 'fec-messages']),
  )
  .option('--fec <policy>', 'fec-messages: auto, off, or K,M', 'auto')
  .option('--interval-ms <ms>', 'fec-messages: time between messages', num(0.01, 60_000), 1)
  .option('--rtt-ms <ms>', 'scenario: round-trip time of each path', num(0, 60_000), 20)
  .addOption(
    new Option('--scheduler <s>', 'scenario: how bulk data is spread over the paths')
      .choices(['aggregate', 'active-backup'])
      .default('aggregate'),
  )
  .option('--json', 'print one JSON object instead of the summary')
  .addHelpText(
    'after',
    `\nMultipath scenarios (--scenario):\n${MULTIPATH_SCENARIOS.map((s) => `  ${s.padEnd(20)} ${MULTIPATH_SCENARIO_SUMMARY[s]}`).join('\n')}`,
  )
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

// pnpm passes the `--` of `pnpm sim -- --loss 0.05` through; it is not an operand here.
const argv = process.argv.slice(2);
if (argv[0] === '--') argv.shift();
program.parse(argv, { from: 'user' });
const o = program.opts<{
  seed?: number;
  loss: number;
  burst?: number;
  delay: number;
  jitter: number;
  duplicate: number;
  reorder: number;
  corrupt: number;
  rate?: number;
  queue: number;
  flap?: string;
  heal?: number;
  workload: 'streams' | 'datagrams';
  bytes: number;
  streams: number;
  congestion: 'cubic' | 'newreno';
  messages: number;
  size: number;
  pattern: 'xx' | 'ik';
  maxVirtualMs: number;
  scenario?: MultipathScenario | 'fec-messages';
  fec: string;
  rttMs: number;
  intervalMs: number;
  scheduler: 'aggregate' | 'active-backup';
  json?: boolean;
}>();

// Options that mean something only with --scenario, or only without it.
const given = (name: string): boolean => program.getOptionValueSource(name) === 'cli';
const notWithScenario = [
  'burst',
  'delay',
  'duplicate',
  'reorder',
  'corrupt',
  'flap',
  'heal',
  'workload',
  'streams',
  'messages',
  'size',
];
const fecMessages = o.scenario === 'fec-messages';
const misplaced = o.scenario
  ? notWithScenario.filter((n) => given(n) && !(fecMessages && n === 'burst'))
  : ['rttMs', 'scheduler', 'fec'].filter(given);
if (misplaced.length > 0) {
  const flag = (n: string) => `--${n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  console.error(
    o.scenario
      ? `${misplaced.map(flag).join(', ')} cannot be used with --scenario (its links are set by the scenario; see --rtt-ms, --rate, --queue, --loss, --jitter)`
      : `${misplaced.map(flag).join(', ')} can only be used with --scenario`,
  );
  process.exit(2);
}

let seed: number;
try {
  seed = o.seed ?? seedFromEnv(process.env, 7);
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}

const link: LinkOptions = {
  delayMs: o.delay,
  jitterMs: o.jitter,
  duplicate: o.duplicate,
  reorder: o.reorder,
  corrupt: o.corrupt,
  ...(o.burst
    ? { gilbertElliott: gilbertElliottFromMeanLoss({ lossRate: o.loss, meanBurstLength: o.burst }) }
    : { loss: o.loss }),
  ...(o.rate ? { rateBps: o.rate * 1e6, queuePackets: o.queue } : {}),
};
let flap: { periodMs: number; downMs: number } | undefined;
if (o.flap) {
  const m = /^(\d+):(\d+)$/.exec(o.flap);
  if (!m || Number(m[2]) >= Number(m[1])) {
    console.error(`--flap expects PERIOD:DOWN in ms with DOWN < PERIOD, got "${o.flap}"`);
    process.exit(2);
  }
  flap = { periodMs: Number(m[1]), downMs: Number(m[2]) };
}

const crypto = await createSodiumCrypto();
const common = {
  seed,
  crypto,
  pattern: o.pattern,
  link,
  ...(flap ? { flap } : {}),
  ...(o.heal !== undefined ? { healAtMs: o.heal } : {}),
  maxVirtualMs: o.maxVirtualMs,
  endpoint: { congestion: o.congestion },
};
if (o.scenario === 'fec-messages') {
  runFecMessagesCommand();
} else if (o.scenario) {
  runScenarioCommand(o.scenario);
} else if (o.workload === 'streams') {
  const per = Math.floor(o.bytes / o.streams);
  const sizes = Array.from({ length: o.streams }, (_, i) =>
    i === 0 ? o.bytes - per * (o.streams - 1) : per,
  );
  const result = runStreamTransfer({ ...common, sizes });
  console.log(o.json ? JSON.stringify(result) : transferSummary(result));
  process.exitCode = result.verified ? 0 : 1;
} else {
  const result = runDatagramExchange({ ...common, messages: o.messages, messageBytes: o.size });
  console.log(o.json ? JSON.stringify(result) : summary(result));
  process.exitCode = result.verified ? 0 : 1;
}

function reasons(rej: Record<string, number | undefined>): string {
  return (
    Object.entries(rej)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none'
  );
}

function linkLine(): string {
  return `  link        ${o.delay} ms one-way, loss ${o.loss}${o.burst ? ` (bursts of ~${o.burst})` : ''}, duplicate ${o.duplicate}, reorder ${o.reorder}, corrupt ${o.corrupt}${o.rate ? `, ${o.rate} Mbit/s, queue ${o.queue}` : ''}${flap ? `, flapping ${o.flap}` : ''}`;
}

function tail(r: ExchangeResult | TransferResult | MultipathResult, lines: string[]): void {
  for (const [name, e] of Object.entries(r.endpoints))
    lines.push(
      `  endpoint ${name.toUpperCase()}  sent ${e.sent}, received ${e.received}, rejected: ${reasons(e.rejected)}`,
    );
  for (const l of r.links)
    lines.push(
      `  link ${l.from} → ${l.to}  sent ${l.sent}, delivered ${l.delivered}, dropped: ${reasons(l.dropped)}, corrupted ${l.corrupted}, duplicated ${l.duplicated}`,
    );
  lines.push(`  virtual time ${(r.virtualMs / 1000).toFixed(3)} s`);
}

function transferSummary(r: TransferResult): string {
  const lines: string[] = [];
  lines.push(`Braid simulated transfer — seed ${r.seed} (replay: BRAID_SEED=${r.seed} pnpm sim)`);
  lines.push(linkLine());
  lines.push(
    `  handshake   ${r.pattern.toUpperCase()}, ${r.handshakeMs === null ? 'never completed' : `${r.handshakeMs.toFixed(1)} ms`}`,
  );
  const a = r.session.a;
  lines.push(
    `  streams     ${r.bytes}/${o.bytes} bytes over ${r.streams} stream(s), goodput ${(r.goodputBps / 1e6).toFixed(2)} Mbit/s, hash ${r.hash.received || '—'} (sent ${r.hash.sent})`,
  );
  lines.push(
    `  recovery    ${o.congestion}: rtt ${r.rttMs} ms (min ${r.minRttMs}), ${a.packetsLost ?? 0} packets lost, ${r.retransmittedBytes} bytes retransmitted, ${a.ptoCount ?? 0} probe timeouts, cwnd ${a.cwndBytes ?? 0} bytes`,
  );
  tail(r, lines);
  lines.push(
    r.verified
      ? '  VERIFIED: every byte arrived intact, in order, once; hashes agree'
      : `  FAILED: ${r.failure}`,
  );
  return lines.join('\n');
}

function summary(r: ExchangeResult): string {
  const lines: string[] = [];
  lines.push(
    `Braid simulated datagram exchange — seed ${r.seed} (replay: BRAID_SEED=${r.seed} pnpm sim)`,
  );
  lines.push(linkLine());
  lines.push(
    `  handshake   ${r.pattern.toUpperCase()}, ${r.handshakeMs === null ? 'never completed' : `${r.handshakeMs.toFixed(1)} ms`} (dials ${r.sessions.dials}, sessions at responder ${r.sessions.establishedAtB})`,
  );
  lines.push(
    `  messages    ${r.messages.deliveredAtB}/${r.messages.perSide} A→B, ${r.messages.deliveredAtA}/${r.messages.perSide} B→A, ${r.messages.bytesEach} bytes each; ${r.messages.appRetransmits} re-sent by the application`,
  );
  tail(r, lines);
  lines.push(
    r.verified ? '  VERIFIED: every message arrived intact, none twice' : `  FAILED: ${r.failure}`,
  );
  return lines.join('\n');
}

// ---- multipath scenarios -----------------------------------------------------------------

function runScenarioCommand(scenario: MultipathScenario): void {
  const result = runMultipath({
    scenario,
    seed,
    crypto,
    rttMs: o.rttMs,
    scheduler: o.scheduler,
    pattern: o.pattern,
    maxVirtualMs: o.maxVirtualMs,
    endpoint: { congestion: o.congestion },
    ...(given('bytes') ? { bytes: o.bytes } : {}),
    ...(o.rate ? { rateBps: o.rate * 1e6 } : {}),
    ...(given('queue') ? { queuePackets: o.queue } : {}),
    ...(o.loss > 0 ? { loss: o.loss } : {}),
    ...(given('jitter') ? { jitterMs: o.jitter } : {}),
  });
  console.log(o.json ? JSON.stringify(result) : scenarioSummary(result));
  process.exitCode = result.verified ? 0 : 1;
}

function ms(v: number | null): string {
  return v === null ? '—' : `${v.toFixed(v < 10 ? 1 : 0)} ms`;
}

function mbps(bytes: number, bucketMs: number): number {
  return (bytes * 8) / bucketMs / 1000;
}

function bar(value: number, max: number): string {
  const eighths = max > 0 ? Math.round((value / max) * BAR_CHARS * 8) : 0;
  const full = Math.floor(eighths / 8);
  const part = eighths % 8;
  return ('█'.repeat(full) + (part > 0 ? ' ▏▎▍▌▋▊▉'[part]! : '')).padEnd(BAR_CHARS);
}

function scenarioSummary(r: MultipathResult): string {
  const lines: string[] = [];
  // The same command line, with the seed made explicit.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seed') i++;
    else if (!argv[i]!.startsWith('--seed=') && argv[i] !== '--json') args.push(argv[i]!);
  }
  const replay = `pnpm sim -- ${args.join(' ')} --seed ${r.seed}`;
  lines.push(`Braid multipath scenario ${r.scenario} — seed ${r.seed} (replay: ${replay})`);
  r.linkOptions.forEach((l, i) => {
    const parts = [`${(2 * (l.delayMs ?? 0)).toFixed(1)} ms RTT`];
    if (l.jitterMs) parts.push(`jitter ${l.jitterMs.toFixed(1)} ms`);
    parts.push(
      l.rateBps
        ? `${(l.rateBps / 1e6).toFixed(1)} Mbit/s, queue ${l.queuePackets}`
        : 'unlimited rate',
    );
    if (l.loss) parts.push(`loss ${(100 * l.loss).toFixed(1)}%`);
    if (l.gilbertElliott) parts.push('bursty loss');
    if (l.duplicate) parts.push(`duplicate ${(100 * l.duplicate).toFixed(1)}%`);
    if (l.reorder) parts.push(`reorder ${(100 * l.reorder).toFixed(1)}%`);
    const a = r.nat ? `A's NAT ${MP_A[i]} (A is ${MP_A_INSIDE[i]})` : `A ${MP_A[i]}`;
    lines.push(`  link ${i}      ${a} ↔ B ${MP_B[i]}: ${parts.join(', ')}`);
  });
  lines.push(`  scheduler   ${r.scheduler}`);
  const from = r.sender.toUpperCase();
  const to = r.sender === 'a' ? 'B' : 'A';
  lines.push(
    `  transfer    ${r.bytes} bytes ${from}→${to}, goodput ${(r.goodputBps / 1e6).toFixed(2)} Mbit/s, hash ${r.hash.received || '—'} (sent ${r.hash.sent})`,
  );
  lines.push(...timelineLines(r));
  const figures = [
    `stall ${ms(r.stallMs)}`,
    `failover ${ms(r.failoverMs)}`,
    `recovered ${ms(r.recoveredMs)}`,
  ];
  if (r.survivingRttMs !== undefined) figures.push(`surviving path RTT ${ms(r.survivingRttMs)}`);
  if (r.aggregateRatio !== undefined && r.onePath)
    figures.push(
      `one path alone ${(r.onePath.goodputBps / 1e6).toFixed(2)} Mbit/s, aggregate / one path ${r.aggregateRatio.toFixed(2)}`,
    );
  lines.push(`  figures     ${figures.join(', ')}`);
  for (const [side, paths] of Object.entries(r.paths))
    for (const p of paths)
      lines.push(
        `  path ${side.toUpperCase()}.${p.id}    ${p.status.padEnd(10)} ${p.local} → ${p.remote}  rtt ${p.rttMs.toFixed(1)} ms, cwnd ${p.cwndBytes}, sent ${p.packetsSent} pkts (${p.streamBytesSent} stream bytes), lost ${p.packetsLost}, suspect ${p.suspected}×, down ${p.downs}×, recovered ${p.recoveries}×, reinjected ${p.reinjectedBytes} bytes`,
      );
  if (r.nat)
    lines.push(
      `  nat         ${r.nat.rebinds} rebindings, ${r.nat.unmapped} datagrams to a stale binding dropped`,
    );
  tail(r, lines);
  lines.push(
    r.verified
      ? '  VERIFIED: every byte arrived intact, in order, once; hashes agree; one session, no new handshake'
      : `  FAILED: ${r.failure}`,
  );
  return lines.join('\n');
}

/**
 * The per-path timeline: one line per bucket with the sender's stream throughput on each path
 * (bar and Mbit/s) and what the receiver read; the script's actions and the protocol's events
 * between the lines at their times; quiet stretches folded into one line.
 */
function timelineLines(r: MultipathResult): string[] {
  const { rows, paths } = r.timeline;
  if (rows.length === 0) return ['  timeline    (no stream data sent)'];
  const first = rows[0]!.atMs;
  const last = rows[rows.length - 1]!.atMs + r.timeline.bucketMs;
  let bucketMs = r.timeline.bucketMs;
  for (const w of [100, 250, 500, 1000, 2000, 5000, 10_000])
    if (w >= bucketMs) {
      bucketMs = w;
      const busy = new Set(
        rows
          .filter((x) => x.delivered > 0 || Object.keys(x.sent).length > 0)
          .map((x) => Math.floor(x.atMs / w)),
      );
      if (busy.size <= TIMELINE_LINES_MAX) break;
    }
  const buckets = new Map<number, { sent: Map<number, number>; delivered: number }>();
  for (const x of rows) {
    const k = Math.floor(x.atMs / bucketMs);
    let b = buckets.get(k);
    if (!b) buckets.set(k, (b = { sent: new Map(), delivered: 0 }));
    for (const [id, n] of Object.entries(x.sent))
      b.sent.set(Number(id), (b.sent.get(Number(id)) ?? 0) + n);
    b.delivered += x.delivered;
  }
  let max = 0;
  for (const b of buckets.values()) for (const n of b.sent.values()) max = Math.max(max, n);
  const maxMbps = mbps(max, bucketMs);
  const notes = [
    ...r.script.map((s) => ({ atMs: s.atMs, text: `── ${s.what}` })),
    ...r.events
      .filter((e) => e.type !== 'established')
      .map((e) => ({ atMs: e.atMs, text: `   ${e.side.toUpperCase()}: ${eventText(e)}` })),
  ].sort((x, y) => x.atMs - y.atMs);
  const out: string[] = [
    `  timeline    stream data sent per path (Mbit/s, per ${bucketMs} ms), bytes read, script (──) and events`,
    `      time  ${paths.map((p) => `path ${p.id} (link ${p.link ?? '?'})`.padEnd(BAR_CHARS + 7)).join(' ')}  read`,
  ];
  let n = 0;
  let quietFrom: number | undefined;
  const flushQuiet = (until: number) => {
    if (quietFrom === undefined) return;
    out.push(
      `  ${(quietFrom / 1000).toFixed(2).padStart(8)}s ·· ${((until - quietFrom) / 1000).toFixed(2)} s without stream data ··`,
    );
    quietFrom = undefined;
  };
  for (let k = Math.floor(first / bucketMs); k * bucketMs < last; k++) {
    const t = k * bucketMs;
    while (n < notes.length && notes[n]!.atMs < t + bucketMs) {
      if (notes[n]!.atMs >= t) flushQuiet(notes[n]!.atMs);
      out.push(`  ${(notes[n]!.atMs / 1000).toFixed(3).padStart(9)}  ${notes[n]!.text}`);
      n++;
    }
    const b = buckets.get(k);
    if (!b || (b.sent.size === 0 && b.delivered === 0)) {
      quietFrom ??= t;
      continue;
    }
    flushQuiet(t);
    const cells = paths.map((p) => {
      const v = mbps(b.sent.get(p.id) ?? 0, bucketMs);
      return `${bar(v, maxMbps)}${v > 0 ? v.toFixed(1).padStart(6) : '      '}`;
    });
    out.push(
      `  ${(t / 1000).toFixed(2).padStart(8)}s ${cells.join(' ')}  ${mbps(b.delivered, bucketMs).toFixed(1).padStart(5)}`,
    );
  }
  flushQuiet(last);
  for (; n < notes.length; n++)
    out.push(`  ${(notes[n]!.atMs / 1000).toFixed(3).padStart(9)}  ${notes[n]!.text}`);
  return out;
}

function eventText(e: MultipathResult['events'][number]): string {
  // Reasons carry the protocol's own figures, to the microsecond: milliseconds are enough here.
  const reason = e.reason?.replace(/(\d+)\.\d+ ms/g, '$1 ms');
  switch (e.type) {
    case 'path':
      return `path ${e.pathId} ${e.change}${e.change === 'rebound' || e.change === 'added' ? ` ${e.local} → ${e.remote}` : ''}${reason ? ` (${reason})` : ''}`;
    case 'failover':
      return `failover path ${e.from} → path ${e.to} (${reason}, ${Math.round(e.detectMs ?? 0)} ms since last ACK)`;
    case 'suspended':
      return 'session suspended (every path down)';
    case 'resumed':
      return `session resumed after ${Math.round(e.suspendedMs ?? 0)} ms`;
    default:
      return `${e.type}${reason ? ` ${reason}` : ''}`;
  }
}

// ---- FEC message workload ----------------------------------------------------------------

function runFecMessagesCommand(): void {
  const fec = /^(\d+),(\d+)$/.exec(o.fec);
  if (o.fec !== 'auto' && o.fec !== 'off' && !fec) {
    console.error(`--fec expects auto, off or K,M, got "${o.fec}"`);
    process.exit(2);
  }
  const messageLink: LinkOptions = {
    delayMs: o.rttMs / 2,
    jitterMs: o.jitter,
    ...(o.burst
      ? {
          gilbertElliott: gilbertElliottFromMeanLoss({
            lossRate: o.loss,
            meanBurstLength: o.burst,
          }),
        }
      : { loss: o.loss }),
    ...(o.rate ? { rateBps: o.rate * 1e6, queuePackets: o.queue } : {}),
  };
  const r = runFecMessages({
    ...common,
    link: messageLink,
    intervalMs: o.intervalMs,
    fec: fec ? { k: Number(fec[1]), m: Number(fec[2]) } : (o.fec as 'auto' | 'off'),
  });
  if (o.json) console.log(JSON.stringify(r));
  else {
    const f = (x: number) => x.toFixed(1);
    console.log(
      [
        `Braid FEC messages — seed ${r.seed}, loss ${o.loss}${o.burst ? ` in bursts of ${o.burst}` : ''}, RTT ${o.rttMs} ms, a message every ${o.intervalMs} ms, FEC ${o.fec}`,
        `  ${r.measuredMessages} messages of 1 KB measured (after ${r.messages - r.measuredMessages} warm-up)`,
        `  latency p50 ${f(r.latencyMsP50)} ms, p99 ${f(r.latencyMsP99)} ms, max ${f(r.latencyMsMax)} ms`,
        `  wire ${r.wireBytes} bytes for ${r.payloadBytes} of payload (${r.wireToPayload.toFixed(3)}x)`,
        `  rebuilt by FEC ${r.recoveredPackets} packets, declared lost ${r.retransmittedPackets}, repairs ${r.repairPackets}`,
        `  loss estimate ${(r.lossEstimate * 100).toFixed(2)}%, auto would choose (${r.chosen.k}, ${r.chosen.m})`,
        r.verified ? 'VERIFIED' : `FAILED: ${r.failure}`,
      ].join('\n'),
    );
  }
  process.exit(r.verified ? 0 : 1);
}
