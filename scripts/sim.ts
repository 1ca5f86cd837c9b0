/**
 * The simulated transfer: `pnpm sim -- [options]`. Two Braid endpoints in the deterministic
 * simulator complete a handshake over a faulty link, then either
 * - (default, `--workload streams`) A sends `--bytes` over `--streams` reliable streams and B
 *   checks every byte as it reads and the hash of the whole, or
 * - (`--workload datagrams`) both exchange numbered, authenticated datagrams until every one is
 *   acknowledged by the application.
 * Then a summary (or, with --json, one JSON object). Exit code 0 when verified, 1 when a safety
 * or liveness check failed, 2 on bad options.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  gilbertElliottFromMeanLoss,
  runDatagramExchange,
  runStreamTransfer,
  seedFromEnv,
  type ExchangeResult,
  type LinkOptions,
  type TransferResult,
} from '@braid/netsim';
import { createSodiumCrypto } from '@braid/protocol';

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
  .option('--json', 'print one JSON object instead of the summary')
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
  json?: boolean;
}>();

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
if (o.workload === 'streams') {
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

function tail(r: ExchangeResult | TransferResult, lines: string[]): void {
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
