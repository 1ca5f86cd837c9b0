/**
 * Packet protection keys for an established session, with key update (docs/protocol.md §Key
 * update), after RFC 9001 §6 with Noise's REKEY as the one-way step:
 *
 * - Each direction starts with the key from the handshake's Split(). The next key is
 *   REKEY(k) = first 32 bytes of ChaChaPoly(k, nonce 2^64-1, "", 32 zero bytes) (Noise §11.3).
 *   Old keys are erased, so a key stolen later cannot open earlier packets.
 * - The short header's key-phase bit says which key sealed a packet. A side starts an update
 *   when its key has sealed `updateAfterPackets` packets or is `updateAfterMs` old, and only
 *   once a packet sealed with the current key has been acknowledged. It then seals with the
 *   next key and flips its bit.
 * - On a packet with the other bit, the receiver tries the previous key (kept for three probe
 *   timeouts, for packets reordered across the update, then erased) and then the next key. If
 *   the next key opens it, both of its directions move to the next phase (answering a
 *   peer-initiated update). The key phase is one for the whole session, over all its paths.
 *
 * Packet numbers are never reset; nonces stay unique per key because each (path ID, packet
 * number) pair is used once per direction.
 */
import {
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  aeadSealInto,
  type CryptoProvider,
} from './crypto/provider.js';
import { CipherState } from './noise/index.js';
import { writePacketNonce } from './wire/packet.js';

/** Default: a key seals at most this many packets (far below any AEAD limit) before an update. */
export const KEY_UPDATE_AFTER_PACKETS = 2 ** 24;
/** Default: a key is used at most this long (WireGuard's REKEY_AFTER_TIME) before an update. */
export const KEY_UPDATE_AFTER_MS = 120_000;

export interface KeyUpdateConfig {
  updateAfterPackets: number;
  updateAfterMs: number;
}

export function nextKey(crypto: CryptoProvider, key: Uint8Array): Uint8Array {
  const cs = new CipherState(crypto, key);
  cs.rekey();
  return cs.key!;
}

export class PacketKeys {
  sendPhase: 0 | 1 = 0;
  recvPhase: 0 | 1 = 0;
  /** Key updates completed in each direction. */
  sendUpdates = 0;
  recvUpdates = 0;
  private sendKey: Uint8Array;
  private recvKey: Uint8Array;
  private nextRecvKey: Uint8Array | undefined;
  private prevRecvKey: Uint8Array | undefined;
  private prevRecvUntilMs = 0;
  /** The last {@link open} succeeded with the next key. */
  private openedWithNext = false;
  /** Packets sealed with the current send key. */
  private sealedWithKey = 0;
  private sendKeySinceMs: number;
  private currentPhaseAcked = false;
  /** The nonce of the packet being sealed or opened (the providers copy it, never keep it). */
  private readonly nonce = new Uint8Array(AEAD_NONCE_BYTES);

  constructor(
    private readonly crypto: CryptoProvider,
    sendKey: Uint8Array,
    recvKey: Uint8Array,
    now: number,
    private readonly config: KeyUpdateConfig,
  ) {
    this.sendKey = sendKey;
    this.recvKey = recvKey;
    this.sendKeySinceMs = now;
  }

  /**
   * Seals a packet in place: `datagram` holds the header (`headerBytes`, the associated data),
   * the plaintext, and 16 bytes of room for the tag; the ciphertext replaces the plaintext.
   */
  sealInPlace(pathId: number, pn: number, datagram: Uint8Array, headerBytes: number): void {
    this.sealInto(
      pathId,
      pn,
      datagram.subarray(0, headerBytes),
      datagram.subarray(headerBytes, datagram.length - AEAD_TAG_BYTES),
      datagram.subarray(headerBytes),
    );
  }

  /**
   * {@link sealInPlace} with the three views given: the header, the plaintext, and `out`
   * (plaintext and tag), which starts where the plaintext does. A caller that seals many
   * packets in one buffer keeps the views, instead of making three per packet.
   */
  sealInto(
    pathId: number,
    pn: number,
    header: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
  ): void {
    this.sealedWithKey++;
    aeadSealInto(
      this.crypto,
      this.sendKey,
      writePacketNonce(this.nonce, pathId, pn),
      header,
      plaintext,
      out,
    );
  }

  /**
   * Opens a packet; undefined when it does not authenticate under the key its bit selects.
   * A packet with the other phase bit was sealed either before our last update (reordered, and
   * the previous key is still kept) or after the peer's next one: the keys are tried in that
   * order, and {@link commitReceivePhase} moves to the next phase only if that key opened it.
   * Packet numbers cannot tell the two apart: every path has its own number space.
   * `inPlace`: the caller owns `sealed` and will not read it again, so it may be decrypted over
   * itself (when the provider can), sparing an array per packet.
   */
  open(
    now: number,
    pathId: number,
    pn: number,
    phase: 0 | 1,
    header: Uint8Array,
    sealed: Uint8Array,
    inPlace = false,
  ): Uint8Array | undefined {
    this.openedWithNext = false;
    if (this.prevRecvKey && now >= this.prevRecvUntilMs) this.prevRecvKey = undefined;
    const nonce = writePacketNonce(this.nonce, pathId, pn);
    if (phase === this.recvPhase) {
      // One key to try: the packet may be opened over itself. (With the other phase bit, two
      // keys may be tried, and a failed in-place open leaves nothing to try the second with.)
      if (inPlace && this.crypto.aeadOpenInPlace)
        return this.crypto.aeadOpenInPlace(this.recvKey, nonce, header, sealed) ?? undefined;
      return this.crypto.aeadOpen(this.recvKey, nonce, header, sealed) ?? undefined;
    }
    if (this.prevRecvKey) {
      const plain = this.crypto.aeadOpen(this.prevRecvKey, nonce, header, sealed);
      if (plain) return plain;
    }
    this.nextRecvKey ??= nextKey(this.crypto, this.recvKey);
    const plain = this.crypto.aeadOpen(this.nextRecvKey, nonce, header, sealed);
    if (!plain) return undefined;
    this.openedWithNext = true;
    return plain;
  }

  /**
   * Moves the receive side to the next phase after the last {@link open} succeeded with the
   * next key (call after the packet's other checks pass). `keepPreviousMs` is how long the old
   * key stays.
   */
  /** The last {@link open} used the next key: {@link commitReceivePhase} has work to do. */
  get phaseChanged(): boolean {
    return this.openedWithNext;
  }

  commitReceivePhase(now: number, phase: 0 | 1, keepPreviousMs: number): void {
    if (!this.openedWithNext || !this.nextRecvKey) return;
    this.openedWithNext = false;
    this.prevRecvKey = this.recvKey;
    this.prevRecvUntilMs = now + keepPreviousMs;
    this.recvKey = this.nextRecvKey;
    this.nextRecvKey = undefined;
    this.recvPhase = phase;
    this.recvUpdates++;
    // The peer started this update: answer it by moving our sending side too.
    if (this.sendPhase !== phase) this.rotateSend(now);
  }

  /** The key generation that seals the next packet; record it with each sent packet. */
  get sendGeneration(): number {
    return this.sendUpdates;
  }

  /** A packet we sent, sealed under key generation `generation`, was acknowledged. */
  onAcked(generation: number): void {
    if (generation === this.sendUpdates) this.currentPhaseAcked = true;
  }

  /** Whether an update is due and allowed now. */
  updateDue(now: number): boolean {
    if (!this.currentPhaseAcked || this.sendPhase !== this.recvPhase) return false;
    return (
      this.sealedWithKey >= this.config.updateAfterPackets ||
      now - this.sendKeySinceMs >= this.config.updateAfterMs
    );
  }

  /** Starts a key update: the next packet is sealed with the next key. */
  initiateUpdate(now: number): void {
    this.rotateSend(now);
  }

  /** When the time-based update falls due (so the session can wake for it). */
  get updateAtMs(): number {
    return this.sendKeySinceMs + this.config.updateAfterMs;
  }

  private rotateSend(now: number): void {
    this.sendKey = nextKey(this.crypto, this.sendKey);
    this.sendPhase = this.sendPhase === 0 ? 1 : 0;
    this.sendUpdates++;
    this.sealedWithKey = 0;
    this.sendKeySinceMs = now;
    this.currentPhaseAcked = false;
  }
}
