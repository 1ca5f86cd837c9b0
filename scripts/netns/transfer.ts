/**
 * One bulk transfer from host a to host b of a lab — Braid (braid-peer, on an endpoint of its
 * own or through a braidd in each host) or kernel MPTCP (bench/mptcp/mptcp-peer.py) — with an
 * optional fault applied mid-transfer, when the receiver has reported a number of bytes or a
 * fixed time after its first mebibyte. The tests and the netns benchmarks share it.
 */
import type { Lab, LinkId } from './lab.js';
import { LabPeerError } from './errors.js';
import type { PeerMessage, PeerProcess } from './peer-process.js';
import { labScript, mptcpPeer, startPeer } from './programs.js';
import { toTimeline, type Timeline } from './delivery.js';
import { startBraidd, type LabDaemon } from './forward.js';

/** Events of each peer a failed transfer's error quotes, the latest. */
const TRANSFER_EVENTS_REPORTED = 12;

export const BRAID_PORT = 4433;
export const MPTCP_PORT = 5201;
/**
 * Braid's datagram size in the netns benchmarks. The lab's veth links have a 1500-byte MTU, and
 * kernel TCP (the MPTCP baseline) sizes its segments from it (1448 bytes); Braid has no path MTU
 * discovery yet and starts from 1200 bytes, so it is configured (`maxDatagramBytes`, as an
 * operator of such a network would) with the 1400 bytes goodput-loopback uses: 14 % fewer
 * packets, so less CPU per byte, and 1400 + 48 bytes of IPv6 and UDP headers still fit.
 */
export const LAB_DATAGRAM_BYTES = 1400;
/** Receivers must be listening within this long of starting. */
export const READY_TIMEOUT_MS = 20_000;

export interface Fault {
  /** Apply once the receiver has reported at least this many bytes… */
  atBytes?: number;
  /** …or this long after it reported its first mebibyte. */
  afterMs?: number;
  apply(): Promise<unknown>;
}

export interface TransferSpec {
  lab: Lab;
  system: 'braid' | 'mptcp';
  bytes: number;
  /** Braid: the links whose addresses both sides use (default both). */
  links?: readonly LinkId[];
  /** Braid's scheduler (default aggregate). */
  scheduler?: 'aggregate' | 'active-backup';
  /** Braid, embedded only: the endpoints' `maxDatagramBytes` (default the protocol's, 1200). */
  maxDatagramBytes?: number;
  /**
   * Braid: `daemon` runs a braidd in each host and the peers use it through `@braid/sdk`;
   * `embedded` (default) gives each peer an endpoint of its own (`openEndpoint`).
   */
  via?: 'embedded' | 'daemon';
  fault?: Fault;
  /** The whole transfer must be done within this long. */
  timeoutMs: number;
}

export interface TransferResult {
  sent: { bytes: number; sha256: string };
  received: { bytes: number; sha256: string; timeline: Timeline };
  /** CLOCK_MONOTONIC ms when the fault's command was started (timeline buckets use it too). */
  faultAtMs: number | undefined;
  sender: PeerMessage;
  receiver: PeerMessage;
  senderEvents: readonly PeerMessage[];
  receiverEvents: readonly PeerMessage[];
}

const MIB = 1 << 20;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

export async function runTransfer(spec: TransferSpec): Promise<TransferResult> {
  const { lab } = spec;
  const links = (spec.links ?? [1, 2]).map((id) => lab.link(id));
  let receiver: PeerProcess;
  let sender: PeerProcess;
  const daemons: LabDaemon[] = [];
  if (spec.system === 'braid') {
    const peerOptions = [
      '--scheduler',
      spec.scheduler ?? 'aggregate',
      ...(spec.maxDatagramBytes !== undefined
        ? ['--max-datagram-bytes', String(spec.maxDatagramBytes)]
        : []),
    ];
    const bindB = links.map((l) => `${l.b}:${BRAID_PORT}`);
    const bindA = links.map((l) => `${l.a}:0`);
    let via: { a: string[]; b: string[] } = {
      b: ['--bind', bindB.join(','), ...peerOptions],
      a: ['--bind', bindA.join(','), ...peerOptions],
    };
    if (spec.via === 'daemon') {
      if (spec.maxDatagramBytes !== undefined)
        throw new LabPeerError('maxDatagramBytes applies to embedded peers only');
      const scheduler = spec.scheduler ?? 'aggregate';
      const b = await startBraidd(lab, 'b', bindB, 'open', scheduler);
      const a = await startBraidd(lab, 'a', bindA, 'configured', scheduler);
      daemons.push(b, a);
      via = { b: ['--daemon', b.socketPath], a: ['--daemon', a.socketPath] };
    }
    receiver = startPeer(
      lab,
      'b',
      labScript('braid-peer', ['receive', ...via.b]),
      `braid receiver (b${spec.via === 'daemon' ? ', braidd' : ''})`,
    );
    const ready = await receiver.ready(READY_TIMEOUT_MS);
    sender = startPeer(
      lab,
      'a',
      labScript('braid-peer', [
        'send',
        ...via.a,
        '--peer',
        String(ready.eid),
        '--locators',
        bindB.join(','),
        '--bytes',
        String(spec.bytes),
      ]),
      `braid sender (a${spec.via === 'daemon' ? ', braidd' : ''})`,
    );
  } else {
    receiver = startPeer(
      lab,
      'b',
      mptcpPeer(['server', '--port', String(MPTCP_PORT)]),
      'mptcp server (b)',
    );
    await receiver.ready(READY_TIMEOUT_MS);
    sender = startPeer(
      lab,
      'a',
      mptcpPeer([
        'client',
        '--connect',
        lab.link(1).b,
        '--port',
        String(MPTCP_PORT),
        '--bytes',
        String(spec.bytes),
        // Measure MPTCP with both subflows, not plain TCP before the path manager's join.
        '--wait-subflows',
        '1',
      ]),
      'mptcp client (a)',
    );
  }

  let faultAtMs: number | undefined;
  let faultError: unknown;
  const faultDone = spec.fault ? applyFault(spec.fault) : Promise.resolve();
  async function applyFault(fault: Fault): Promise<void> {
    try {
      if (fault.atBytes !== undefined) {
        await receiver.progressAtLeast(fault.atBytes, spec.timeoutMs);
      } else {
        await receiver.progressAtLeast(MIB, spec.timeoutMs);
        await new Promise((resolve) => setTimeout(resolve, fault.afterMs ?? 0));
      }
      if (receiver.progressBytes >= spec.bytes)
        throw new LabPeerError(
          `the transfer ended before the fault (make it longer than ${spec.bytes} bytes)`,
        );
      faultAtMs = nowMs();
      await fault.apply();
    } catch (err) {
      faultError = err;
    }
  }

  let sent: PeerMessage;
  let received: PeerMessage;
  try {
    [sent, received] = await Promise.all([
      sender.done(spec.timeoutMs),
      receiver.done(spec.timeoutMs),
    ]);
  } catch (err) {
    // A daemon that failed is the likelier story: say what it printed. Then the peers' last
    // path events (a stall after a fault is told by what the paths did).
    const notes = daemons.map((d) => d.describe()).filter((n) => n.length > 0);
    for (const peer of [sender, receiver]) {
      const recent = peer.events.slice(-TRANSFER_EVENTS_REPORTED);
      if (recent.length > 0) notes.push(`${peer.label}'s last events: ${JSON.stringify(recent)}`);
    }
    if (notes.length === 0) throw err;
    throw new LabPeerError(`${(err as Error).message}; ${notes.join('; ')}`, { cause: err });
  }
  await faultDone;
  if (faultError) throw faultError;
  return {
    sent: { bytes: Number(sent.bytes), sha256: String(sent.sha256) },
    received: {
      bytes: Number(received.bytes),
      sha256: String(received.sha256),
      timeline: toTimeline(received.buckets),
    },
    faultAtMs,
    sender: sent,
    receiver: received,
    senderEvents: sender.events,
    receiverEvents: receiver.events,
  };
}
