/**
 * The low-latency message workload of FEC (docs/fec.md): host A writes a message of
 * `messageBytes` every `intervalMs` on one low-latency stream over a lossy link; host B reads
 * them, checks each byte, and records each message's latency (read time − write time, virtual
 * ms). Reports the latency percentiles, bytes on the wire against payload, and how many packets
 * FEC rebuilt against how many loss recovery declared lost (and so sent again).
 *
 * Figures cover the messages written after `warmupMs`, when the loss estimate has had time to
 * form; every message is checked all the same.
 */
import type { EndpointEvent, FecSetting, SessionId, SessionStats } from '@braid/protocol';
import { SafetyViolation } from './app-node.js';
import {
  EndpointNode,
  runToCompletion,
  scenarioResult,
  setUpTwoHosts,
  type Dial,
  type ScenarioResult,
  type TwoHostOptions,
} from './common.js';
import type { EndpointOptions, Locator } from '@braid/protocol';

export interface FecMessagesOptions extends TwoHostOptions {
  /** FEC policy of the stream. Default `auto`. */
  fec?: FecSetting;
  /** Bytes per message (≥ 16). Default 1024. */
  messageBytes?: number;
  /** Time between messages. Default 1 ms (1,000 messages a second). */
  intervalMs?: number;
  /** Messages sent in all. Default 12,000. */
  messages?: number;
  /** Messages written before this are not counted in the figures. Default 2,000 ms. */
  warmupMs?: number;
}

export interface FecMessagesResult extends ScenarioResult {
  fec: FecSetting;
  messages: number;
  /** Messages in the figures (written after the warm-up). */
  measuredMessages: number;
  latencyMsP50: number;
  latencyMsP99: number;
  latencyMsMax: number;
  /** A→B datagram bytes while the measured messages were sent, and their payload bytes. */
  wireBytes: number;
  payloadBytes: number;
  wireToPayload: number;
  /** A's packets B rebuilt from repairs, and A's packets declared lost (their data re-sent). */
  recoveredPackets: number;
  retransmittedPackets: number;
  retransmittedBytes: number;
  /** REPAIR packets A sent from the first measured message on. */
  repairPackets: number;
  /** A's loss estimate and `auto`'s choice at the end, for the path. */
  lossEstimate: number;
  chosen: { k: number; m: number };
  session: { a: Partial<SessionStats>; b: Partial<SessionStats> };
}

const HEADER_BYTES = 12; // u32 sequence number, f64 send time

function fill(seq: number, out: Uint8Array): void {
  let x = Math.imul(seq + 1, 0x9e3779b1) >>> 0 || 1;
  for (let i = HEADER_BYTES; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
}

class MessageNode extends EndpointNode {
  session: SessionId | undefined;
  streamId: number | undefined;
  handshakeMs: number | null = null;
  establishedAtMs: number | undefined;
  /** Receiver: latency of each message by sequence number. */
  readonly latencies: number[] = [];
  private buffer = new Uint8Array(0);
  private readonly expected: Uint8Array;
  pendingWrite: Uint8Array | undefined;
  private queued: Uint8Array[] = [];

  constructor(
    endpoint: EndpointOptions,
    private readonly local: Locator,
    private readonly messageBytes: number,
    private readonly fec: FecSetting,
    dial?: Dial,
  ) {
    super(endpoint);
    this.expected = new Uint8Array(messageBytes);
    if (dial)
      this.session = this.endpoint.connect(0, {
        remoteEid: dial.eid,
        ...(dial.staticKey ? { remoteStaticKey: dial.staticKey } : {}),
        local,
        remote: dial.remote,
      });
  }

  /** Writes one message now (queued behind any the stream did not take yet). */
  send(now: number, seq: number): void {
    const m = new Uint8Array(this.messageBytes);
    const view = new DataView(m.buffer);
    view.setUint32(0, seq);
    view.setFloat64(4, now);
    fill(seq, m);
    this.queued.push(m);
    this.flush(now);
  }

  private flush(now: number): void {
    if (this.session === undefined || this.streamId === undefined) return;
    while (this.queued.length > 0) {
      const m = this.queued[0]!;
      const n = this.endpoint.streamWrite(now, this.session, this.streamId, m);
      if (n < m.length) {
        this.queued[0] = m.subarray(n);
        return;
      }
      this.queued.shift();
    }
  }

  protected onEvent(now: number, e: EndpointEvent): void {
    switch (e.type) {
      case 'established':
        this.session = e.session;
        this.establishedAtMs = now;
        this.handshakeMs = e.handshakeMs;
        if (this.local !== undefined && e.role === 'initiator')
          this.streamId = this.endpoint.openStream(now, e.session, {
            mode: 'low-latency',
            fec: this.fec,
          });
        return;
      case 'stream_writable':
        this.flush(now);
        return;
      case 'stream_opened':
        this.streamId = e.streamId;
        return;
      case 'stream_readable':
        this.read(now, e.streamId);
        return;
      case 'stream_reset':
      case 'stream_stopped':
        throw new SafetyViolation(`stream ${e.streamId} ${e.type} (${e.code})`);
      default:
        return;
    }
  }

  private read(now: number, streamId: number): void {
    for (;;) {
      const r = this.endpoint.streamRead(now, this.session!, streamId);
      if (!r) return;
      if (r.data.length > 0) {
        const joined = new Uint8Array(this.buffer.length + r.data.length);
        joined.set(this.buffer);
        joined.set(r.data, this.buffer.length);
        this.buffer = joined;
        let at = 0;
        while (this.buffer.length - at >= this.messageBytes) {
          this.take(now, this.buffer.subarray(at, at + this.messageBytes));
          at += this.messageBytes;
        }
        this.buffer = this.buffer.slice(at);
      }
      if (r.fin) return;
    }
  }

  private take(now: number, m: Uint8Array): void {
    const view = new DataView(m.buffer, m.byteOffset, m.length);
    const seq = view.getUint32(0);
    if (seq !== this.latencies.length)
      throw new SafetyViolation(`message ${seq} arrived where ${this.latencies.length} was due`);
    fill(seq, this.expected);
    for (let i = HEADER_BYTES; i < m.length; i++)
      if (m[i] !== this.expected[i])
        throw new SafetyViolation(`message ${seq} altered at byte ${i}`);
    this.latencies.push(now - view.getFloat64(4));
  }
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

export function runFecMessages(options: FecMessagesOptions): FecMessagesResult {
  const fec = options.fec ?? 'auto';
  const messageBytes = options.messageBytes ?? 1024;
  const intervalMs = options.intervalMs ?? 1;
  const messages = options.messages ?? 12_000;
  const warmupMs = options.warmupMs ?? 2_000;
  if (messageBytes < HEADER_BYTES) throw new RangeError(`messages need ≥ ${HEADER_BYTES} bytes`);
  const maxVirtualMs = options.maxVirtualMs ?? 600_000;
  const { sim, a, b } = setUpTwoHosts(
    options,
    0xfec,
    maxVirtualMs,
    (side, endpoint, local, dial) =>
      side === 'a'
        ? new MessageNode(endpoint, local, messageBytes, fec, dial)
        : new MessageNode(endpoint, local, messageBytes, fec),
  );
  // Messages start once the session is up; the schedule is set when it is.
  let startMs: number | undefined;
  let wireAtStart = 0;
  let repairsAtStart = 0;
  let wireAtEnd: number | undefined;
  const firstMeasured = Math.ceil(warmupMs / intervalMs);
  const schedule = (): void => {
    if (startMs !== undefined || a.streamId === undefined) return;
    startMs = sim.now;
    for (let seq = 0; seq < messages; seq++)
      sim.at(startMs + seq * intervalMs, (s) => {
        if (seq === firstMeasured) {
          wireAtStart = a.endpoint.stats().bytesSent;
          repairsAtStart =
            a.session !== undefined ? a.endpoint.sessionInfo(a.session).stats.fecRepairPackets : 0;
        }
        a.send(s.now, seq);
      });
  };
  const done = () => {
    schedule();
    if (b.latencies.length < messages) return false;
    wireAtEnd ??= a.endpoint.stats().bytesSent;
    return true;
  };
  const { failure, steps } = runToCompletion(
    sim,
    done,
    maxVirtualMs,
    () => `B read ${b.latencies.length}/${messages} messages`,
  );
  const measured = b.latencies.slice(firstMeasured).sort((x, y) => x - y);
  const sa = a.session !== undefined ? a.endpoint.sessionInfo(a.session).stats : undefined;
  const sb = b.session !== undefined ? b.endpoint.sessionInfo(b.session).stats : undefined;
  const pathA = a.session !== undefined ? a.endpoint.paths(a.session)[0] : undefined;
  const measuredCount = Math.max(0, messages - firstMeasured);
  const wireBytes = (wireAtEnd ?? a.endpoint.stats().bytesSent) - wireAtStart;
  const payloadBytes = measuredCount * messageBytes;
  return {
    ...scenarioResult(
      options.seed,
      failure,
      sim,
      options.pattern ?? 'xx',
      a.handshakeMs,
      { a: a.endpoint, b: b.endpoint },
      steps,
    ),
    fec,
    messages,
    measuredMessages: measured.length,
    latencyMsP50: percentile(measured, 0.5),
    latencyMsP99: percentile(measured, 0.99),
    latencyMsMax: measured.length > 0 ? measured[measured.length - 1]! : 0,
    wireBytes,
    payloadBytes,
    wireToPayload: payloadBytes > 0 ? wireBytes / payloadBytes : 0,
    recoveredPackets: sb?.fecRecoveredPackets ?? 0,
    retransmittedPackets: sa?.packetsLost ?? 0,
    retransmittedBytes: sa?.retransmittedBytes ?? 0,
    repairPackets: (sa?.fecRepairPackets ?? 0) - repairsAtStart,
    lossEstimate: pathA?.fecLossRate ?? 0,
    chosen: { k: pathA?.fecK ?? 0, m: pathA?.fecM ?? 0 },
    session: {
      a: sa
        ? {
            packetsSent: sa.packetsSent,
            packetsLost: sa.packetsLost,
            fecProtectedPackets: sa.fecProtectedPackets,
            fecRepairPackets: sa.fecRepairPackets,
            fecPeerRecoveredPackets: sa.fecPeerRecoveredPackets,
            cwndBytes: sa.cwndBytes,
            congestionEvents: sa.congestionEvents,
            bytesInFlight: sa.bytesInFlight,
            rttMs: sa.rttMs,
          }
        : {},
      b: sb
        ? {
            fecRecoveredPackets: sb.fecRecoveredPackets,
            fecRebuiltRejected: sb.fecRebuiltRejected,
            fecUnrecoveredRepairs: sb.fecUnrecoveredRepairs,
          }
        : {},
    },
  };
}
