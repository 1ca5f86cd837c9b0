/**
 * What every netns transfer test checks: every byte arrived once and in order (the hashes of
 * what a wrote and b read match, and a heard the same from b), the fault happened while data
 * was still flowing, and data kept arriving after it.
 */
import type { Test } from 'tap';
import { createLab, type Lab, type LabOptions, type LinkId } from '../../../scripts/netns/lab.js';
import type { PeerMessage } from '../../../scripts/netns/peer-process.js';
import { runTransfer, type TransferResult } from '../../../scripts/netns/transfer.js';
import { BUCKET_MS } from '../../../scripts/netns/delivery.js';

/** 32 MiB: a few seconds at the lab's rates, long enough for a fault at a quarter of it. */
export const TRANSFER_BYTES = 32 << 20;
export const FAULT_AT_BYTES = 8 << 20;
/** A bound for the whole transfer, far above what it takes (it is not a timing assertion). */
export const TRANSFER_TIMEOUT_MS = 90_000;

export function byteExact(t: Test, r: TransferResult, bytes = TRANSFER_BYTES): void {
  t.equal(r.sent.bytes, bytes, 'a wrote every byte');
  t.equal(r.received.bytes, bytes, 'b read every byte');
  t.equal(r.received.sha256, r.sent.sha256, 'b read exactly what a wrote (SHA-256)');
  t.equal(r.sender.receiverSha256, r.sent.sha256, "a got b's matching hash back on the stream");
}

export function faultMidTransfer(t: Test, r: TransferResult): void {
  t.not(r.faultAtMs, undefined, 'the fault was applied');
  const faultBucket = Math.floor(r.faultAtMs! / BUCKET_MS);
  const after = r.received.timeline
    .filter(([bucket]) => bucket > faultBucket)
    .reduce((sum, [, b]) => sum + b, 0);
  t.ok(after > 0, `${after} bytes arrived after the fault`);
}

/** The sender's path whose local address is on `link`. */
export function senderPathsOn(lab: Lab, r: TransferResult, link: LinkId): PeerMessage[] {
  const host = lab.link(link).a;
  return (r.sender.paths as PeerMessage[]).filter((p) => String(p.local).startsWith(`${host}:`));
}

/** Path events of the sender after the fault, on `link`'s local address. */
export function senderEventsOn(lab: Lab, r: TransferResult, link: LinkId): PeerMessage[] {
  const host = lab.link(link).a;
  return r.senderEvents.filter(
    (e) =>
      e.event === 'path' &&
      Number(e.atMs) >= r.faultAtMs! &&
      String(e.local).startsWith(`${host}:`),
  );
}

/**
 * A Braid transfer of {@link TRANSFER_BYTES} in a new lab (closed at the test's end), with
 * `fault` applied once {@link FAULT_AT_BYTES} have arrived; checks it arrived byte-exact and
 * kept arriving after the fault, and returns the lab and the result for the test's own checks.
 */
export async function faultedTransfer(
  t: Test,
  fault: (lab: Lab) => Promise<unknown>,
  options: { lab?: LabOptions; via?: 'daemon' | 'embedded'; maxDatagramBytes?: number } = {},
): Promise<{ lab: Lab; r: TransferResult }> {
  const lab = await createLab({ rateMbit: 100, ...options.lab });
  t.teardown(() => lab.close());
  const r = await runTransfer({
    lab,
    system: 'braid',
    via: options.via ?? 'daemon',
    ...(options.maxDatagramBytes !== undefined && { maxDatagramBytes: options.maxDatagramBytes }),
    bytes: TRANSFER_BYTES,
    timeoutMs: TRANSFER_TIMEOUT_MS,
    fault: { atBytes: FAULT_AT_BYTES, apply: () => fault(lab) },
  });
  byteExact(t, r);
  faultMidTransfer(t, r);
  return { lab, r };
}
