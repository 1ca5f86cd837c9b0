/**
 * The sending side of loss recovery for one packet-number space (RFC 9002 §6, Appendix A):
 * sent-packet records, ACK processing with RTT samples, packet- and time-threshold loss
 * detection, the probe timeout, and the congestion controller and pacer that gate sending.
 *
 * It knows nothing of frames beyond the opaque records it hands back: the session decides what
 * an acknowledged or lost packet means (frames are retransmitted, never packets).
 */
import { RangeSet } from '../range-set.js';
import type { AckRange } from '../wire/frames.js';
import {
  createCongestionController,
  type CongestionAlgorithm,
  type CongestionController,
  type SentPacketInfo,
} from './congestion.js';
import { Pacer } from './pacer.js';
import { RttEstimator } from './rtt.js';

/** RFC 9002 §6.1.1 kPacketThreshold. */
export const PACKET_THRESHOLD = 3;
/** Probe-timeout backoff stops doubling after this many consecutive timeouts. */
export const PTO_BACKOFF_MAX = 10;
/**
 * A backed-off probe timeout never exceeds this (unless one un-backed-off PTO does): after an
 * outage the path is probed at least every 4 s, so service resumes within seconds of the link
 * coming back, and an idle timer (30 s by default) never fires while the sender still probes.
 * RFC 9002 §6.2.1 leaves the backoff's ceiling to the implementation.
 */
export const PTO_MAX_MS = 4_000;
/** Sent-packet records kept at most; beyond, the oldest are declared lost. */
export const SENT_PACKETS_MAX = 1 << 16;

export interface SentPacket<F> extends SentPacketInfo {
  ackEliciting: boolean;
  /** Counted in bytes in flight (ack-eliciting or padding). */
  inFlight: boolean;
  frames: F[];
  /** The packet-protection key generation that sealed it (key update waits for its ACK). */
  keyGeneration?: number;
  /**
   * Not declared lost before this time: an FEC source packet whose group's repair may still
   * rebuild it at the receiver, which then acknowledges it (docs/fec.md). Declaring it lost
   * first would retransmit what FEC repairs, and cut the window for a loss that was repaired.
   */
  holdUntilMs?: number;
  /**
   * Its loss is no congestion signal: a REPAIR packet, sent only because the path's measured
   * loss (beyond congestion) called for repair. It still counts in bytes in flight.
   */
  lossNotCongestion?: boolean;
}

export interface AckOutcome<F> {
  acked: SentPacket<F>[];
  lost: SentPacket<F>[];
  /** An RTT sample was taken from this ACK. */
  rttSampled: boolean;
}

export interface LossDetectionConfig {
  initialRttMs: number;
  maxDatagramBytes: number;
  algorithm: CongestionAlgorithm;
}

/** An ACK named a packet number this side never sent. */
export class AckOfUnsentPacket {
  constructor(readonly packetNumber: number) {}
}

export class LossDetection<F> {
  readonly rtt: RttEstimator;
  readonly cc: CongestionController;
  readonly pacer: Pacer;
  bytesInFlight = 0;
  largestSent = -1;
  largestAcked = -1;
  ptoCount = 0;
  /** Counters for the stats snapshot. */
  packetsLost = 0;
  bytesLost = 0;
  bytesAcked = 0;
  ptoFired = 0;
  persistentCongestionEvents = 0;

  /** Records of packets [base, base + sent.length); undefined once acknowledged or lost. */
  private sent: (SentPacket<F> | undefined)[] = [];
  private head = 0;
  private base = 0;
  /** Packet numbers acknowledged or declared lost at or above `base`. */
  private readonly settled = new RangeSet();
  private ackElicitingInFlight = 0;
  private lastAckElicitingSentMs = 0;
  private lossTimeMs: number | undefined;
  private firstRttSampleMs: number | undefined;

  constructor(config: LossDetectionConfig) {
    this.rtt = new RttEstimator(config.initialRttMs);
    this.cc = createCongestionController(config.algorithm, {
      maxDatagramBytes: config.maxDatagramBytes,
    });
    this.pacer = new Pacer(config.maxDatagramBytes);
  }

  /** Room the congestion window leaves for new ack-eliciting packets. */
  get window(): number {
    return Math.max(0, this.cc.windowBytes - this.bytesInFlight);
  }

  /** Earliest time a packet of `bytes` may leave according to the pacer, or undefined (now). */
  pacingDelay(now: number, bytes: number): number | undefined {
    return this.pacer.delayUntil(
      now,
      bytes,
      this.cc.pacingRateBytesPerMs(this.rtt),
      this.cc.windowBytes,
    );
  }

  onPacketSent(now: number, packet: SentPacket<F>): void {
    const pn = packet.packetNumber;
    if (pn !== this.largestSent + 1) throw new Error(`packet ${pn} sent out of sequence`);
    this.largestSent = pn;
    if (this.sent.length - this.head === 0) {
      this.sent = [];
      this.head = 0;
      this.base = pn;
    }
    if (!packet.ackEliciting && !packet.inFlight) {
      this.sent.push(undefined);
      this.trim();
      return;
    }
    this.sent.push(packet);
    if (packet.inFlight) {
      this.bytesInFlight += packet.bytes;
      this.cc.onPacketSent(now, packet, this.bytesInFlight);
      this.pacer.onSent(now, packet.bytes);
    }
    if (packet.ackEliciting) {
      this.ackElicitingInFlight++;
      this.lastAckElicitingSentMs = now;
    }
  }

  /** The next packet sent will be `next`: the numbers in between are never used. */
  skipPacketNumbers(next: number): void {
    if (this.sent.length - this.head > 0)
      throw new RangeError('packet numbers can be skipped only with nothing outstanding');
    this.sent = [];
    this.head = 0;
    this.base = next;
    this.largestSent = next - 1;
  }

  /** RFC 9002 A.7 OnAckReceived. `appLimited`: the sender was not filling the window. */
  onAck(
    now: number,
    ranges: readonly AckRange[],
    ackDelayMs: number,
    maxAckDelayMs: number,
    handshakeConfirmed: boolean,
    appLimited: boolean,
  ): AckOutcome<F> | AckOfUnsentPacket {
    const largest = ranges[0]?.largest ?? -1;
    if (largest > this.largestSent) return new AckOfUnsentPacket(largest);
    const acked: SentPacket<F>[] = [];
    const top = this.base + this.sent.length;
    for (const r of ranges) {
      const end = Math.min(r.largest + 1, top);
      let at = Math.max(r.smallest, this.base + this.head);
      while (at < end) {
        const gap = this.settled.firstGap(at, end);
        if (!gap) break;
        for (let pn = gap.start; pn < gap.end; pn++) {
          const p = this.take(pn);
          if (p) acked.push(p);
        }
        // From the oldest outstanding packet on, the records go at the next trim, and with
        // them any need to remember the numbers (nothing below them is outstanding).
        if (gap.start !== this.base + this.head) this.settled.add(gap.start, gap.end);
        at = gap.end;
      }
    }
    if (largest > this.largestAcked) this.largestAcked = largest;
    if (acked.length === 0) return { acked, lost: [], rttSampled: false };
    acked.sort((a, b) => a.packetNumber - b.packetNumber);
    const newest = acked[acked.length - 1]!;
    let rttSampled = false;
    if (newest.packetNumber === largest && acked.some((p) => p.ackEliciting)) {
      this.rtt.update(now - newest.sentTimeMs, ackDelayMs, maxAckDelayMs, handshakeConfirmed);
      this.firstRttSampleMs ??= now;
      rttSampled = true;
    }
    const inFlight: SentPacket<F>[] = [];
    for (const p of acked) {
      if (p.inFlight) {
        this.bytesInFlight -= p.bytes;
        this.bytesAcked += p.bytes;
        inFlight.push(p);
      }
      if (p.ackEliciting) this.ackElicitingInFlight--;
    }
    const lost = this.detectLost(now, maxAckDelayMs);
    if (inFlight.length > 0) this.cc.onPacketsAcked(now, inFlight, this.rtt, appLimited);
    this.ptoCount = 0;
    this.trim();
    return { acked, lost, rttSampled };
  }

  /** The loss or probe timer: when {@link onTimeout} should next run, if at all. */
  timeout(maxAckDelayMs: number): number | undefined {
    if (this.lossTimeMs !== undefined) return this.lossTimeMs;
    if (this.ackElicitingInFlight === 0) return undefined;
    return this.lastAckElicitingSentMs + this.ptoMs(maxAckDelayMs);
  }

  /** The current probe timeout, backoff included. */
  ptoMs(maxAckDelayMs: number): number {
    const base = this.rtt.ptoMs(maxAckDelayMs);
    const backedOff = base * 2 ** Math.min(this.ptoCount, PTO_BACKOFF_MAX);
    return Math.min(backedOff, Math.max(base, PTO_MAX_MS));
  }

  /**
   * RFC 9002 A.9 OnLossDetectionTimeout. Returns the packets declared lost, and how many probe
   * packets to send now (0 when the timer was a loss timer).
   */
  onTimeout(now: number, maxAckDelayMs: number): { lost: SentPacket<F>[]; probes: number } {
    if (this.lossTimeMs !== undefined && now >= this.lossTimeMs) {
      return { lost: this.detectLost(now, maxAckDelayMs), probes: 0 };
    }
    const at = this.timeout(maxAckDelayMs);
    if (at === undefined || now < at) return { lost: [], probes: 0 };
    this.ptoCount++;
    this.ptoFired++;
    return { lost: [], probes: 2 };
  }

  /** The oldest unacknowledged ack-eliciting packet, for a probe to carry its frames again. */
  oldestUnacked(): SentPacket<F> | undefined {
    for (let i = this.head; i < this.sent.length; i++) {
      const p = this.sent[i];
      if (p?.ackEliciting) return p;
    }
    return undefined;
  }

  /** Every record still outstanding (e.g. to requeue frames when keys change). */
  *outstanding(): IterableIterator<SentPacket<F>> {
    for (let i = this.head; i < this.sent.length; i++) {
      const p = this.sent[i];
      if (p) yield p;
    }
  }

  /** RFC 9002 A.10 DetectAndRemoveLostPackets, plus §7.6 persistent congestion. */
  private detectLost(now: number, maxAckDelayMs: number): SentPacket<F>[] {
    this.lossTimeMs = undefined;
    const lost: SentPacket<F>[] = [];
    const lossDelay = this.rtt.lossDelayMs();
    const limit = Math.min(this.largestAcked, this.base + this.sent.length - 1);
    for (let pn = this.base + this.head; pn <= limit; pn++) {
      const p = this.sent[pn - this.base];
      if (!p) continue;
      // The same sum decides loss and arms the timer, so a timer that fires always finds its
      // packet lost (comparing `now - delay` with the send time can differ by rounding).
      const t = p.sentTimeMs + lossDelay;
      if (p.holdUntilMs !== undefined && now < p.holdUntilMs) {
        if (this.lossTimeMs === undefined || p.holdUntilMs < this.lossTimeMs)
          this.lossTimeMs = p.holdUntilMs;
        continue;
      }
      if (t <= now || this.largestAcked >= pn + PACKET_THRESHOLD) {
        lost.push(p);
      } else {
        if (this.lossTimeMs === undefined || t < this.lossTimeMs) this.lossTimeMs = t;
      }
    }
    // Bound the records: a peer that never acknowledges cannot grow them without limit.
    const overflow = this.sent.length - this.head - SENT_PACKETS_MAX;
    for (let i = 0; i < overflow; i++) {
      const p = this.sent[this.head + i];
      if (p && p.packetNumber > limit) lost.push(p);
    }
    if (lost.length === 0) return lost;
    for (const p of lost) {
      this.take(p.packetNumber);
      this.settled.add(p.packetNumber, p.packetNumber + 1);
      if (p.inFlight) this.bytesInFlight -= p.bytes;
      if (p.ackEliciting) this.ackElicitingInFlight--;
      this.packetsLost++;
      this.bytesLost += p.bytes;
    }
    const inFlightLost = lost.filter((p) => p.inFlight && !p.lossNotCongestion);
    if (inFlightLost.length > 0) {
      const persistent = this.persistentCongestion(inFlightLost, maxAckDelayMs);
      if (persistent) {
        this.persistentCongestionEvents++;
        this.rtt.onPersistentCongestion();
      }
      this.cc.onPacketsLost(now, inFlightLost, persistent);
    }
    this.trim();
    return lost;
  }

  /**
   * RFC 9002 §7.6.2: two ack-eliciting packets lost, sent further apart than the persistent
   * congestion duration, with nothing acknowledged between them, after the first RTT sample.
   */
  private persistentCongestion(lost: SentPacket<F>[], maxAckDelayMs: number): boolean {
    if (this.firstRttSampleMs === undefined) return false;
    const eliciting = lost.filter(
      (p) => p.ackEliciting && p.sentTimeMs > (this.firstRttSampleMs ?? Infinity),
    );
    if (eliciting.length < 2) return false;
    const first = eliciting[0]!;
    const last = eliciting[eliciting.length - 1]!;
    const duration = this.rtt.persistentCongestionDurationMs(maxAckDelayMs);
    if (last.sentTimeMs - first.sentTimeMs <= duration) return false;
    // Nothing in between may have been acknowledged: every settled number there must be lost.
    const lostSet = new Set(lost.map((p) => p.packetNumber));
    for (const r of this.settled.all) {
      for (
        let pn = Math.max(r.start, first.packetNumber);
        pn < Math.min(r.end, last.packetNumber);
        pn++
      )
        if (!lostSet.has(pn)) return false;
    }
    return true;
  }

  private take(pn: number): SentPacket<F> | undefined {
    const i = pn - this.base;
    if (i < this.head || i >= this.sent.length) return undefined;
    const p = this.sent[i];
    this.sent[i] = undefined;
    return p;
  }

  private trim(): void {
    while (this.head < this.sent.length && this.sent[this.head] === undefined) this.head++;
    if (this.head > 1024 && this.head * 2 > this.sent.length) {
      this.sent = this.sent.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
    this.settled.removeBelow(this.base + this.head);
  }
}
