/**
 * fec-codec: Reed–Solomon encode and decode throughput of @braid/fec (pure TypeScript) against
 * the native addon @ronomon/reed-solomon, at the shape of a Braid FEC group: k = 10 data and
 * m = 4 parity shards of 1,400 bytes.
 *
 * Throughput counts the data bytes of a group (k × 1,400) per group coded, in MB/s (10^6 bytes),
 * as @ronomon/reed-solomon's own benchmark does. Decode rebuilds m lost shards (three data, one
 * parity). The ratio with a target compares one group per call on both sides: ours
 * synchronously, the addon through its asynchronous API (it runs in libuv's thread pool), each
 * call awaited before the next — the way a session codes a group, and the way the addon's own
 * benchmark.js measures. An informational line keeps 8 groups in flight in the addon, which
 * hides the thread hand-off and shows the C code's own speed.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { ReedSolomon } from '@braid/fec';
import { interleavedCallsPerSecond } from './measure.js';
import type { Benchmark, BenchRunResult, Measurement } from './types.js';

const K = 10;
const M = 4;
const SHARD_BYTES = 1400;
/** Shards lost before each decode: data shards 1, 4 and 7 and the second parity shard. */
const LOST = [1, 4, 7, 11];
const TIMING = { warmupMs: 100, slices: 4, sliceMs: 100 };
/** Groups in flight at once in the addon's informational pipelined measurement. */
const PIPELINED_GROUPS = 8;
/** The project's aim for ours / native, one group per call (issue 7). */
const TARGET_RATIO = 0.5;
const OURS = '@braid/fec';
const NATIVE = 'native';
const NATIVE_PIPELINED = `native, ${PIPELINED_GROUPS} in flight`;

/** The part of @ronomon/reed-solomon 6.0.0's API used here (it ships no types). */
interface NativeAddon {
  create(dataShards: number, parityShards: number): unknown;
  encode(
    context: unknown,
    sources: number,
    targets: number,
    buffer: Uint8Array,
    bufferOffset: number,
    bufferSize: number,
    parity: Uint8Array,
    parityOffset: number,
    paritySize: number,
    callback: (error?: Error) => void,
  ): void;
}

/** The addon, or why it cannot be loaded (optional dependency; its build may have failed). */
function loadNative(): NativeAddon | string {
  try {
    return createRequire(import.meta.url)('@ronomon/reed-solomon') as NativeAddon;
  } catch (err) {
    return err instanceof Error ? err.message.split('\n')[0]! : String(err);
  }
}

function bitmask(indexes: Iterable<number>): number {
  let mask = 0;
  for (const i of indexes) mask |= 1 << i;
  return mask;
}

function mbPerSecond(groupsPerS: number): Measurement {
  return { value: (groupsPerS * K * SHARD_BYTES) / 1e6, unit: 'MB/s' };
}

/** One codec under test: its shards (k data then m parity, in two contiguous buffers). */
interface Subject {
  readonly label: string;
  readonly shards: readonly Uint8Array[];
  /** Groups coded by one call of `encode` or `decode`. */
  readonly groupsPerCall: number;
  encode(): unknown;
  decode(): unknown;
}

function groupBuffers(data: Uint8Array): {
  shards: Uint8Array[];
  dataBuffer: Uint8Array;
  parityBuffer: Uint8Array;
} {
  const dataBuffer = Uint8Array.from(data);
  const parityBuffer = new Uint8Array(M * SHARD_BYTES);
  const shards = Array.from({ length: K + M }, (_, i) =>
    i < K
      ? dataBuffer.subarray(i * SHARD_BYTES, (i + 1) * SHARD_BYTES)
      : parityBuffer.subarray((i - K) * SHARD_BYTES, (i - K + 1) * SHARD_BYTES),
  );
  return { shards, dataBuffer, parityBuffer };
}

function braidSubject(data: Uint8Array): Subject {
  const { shards } = groupBuffers(data);
  const rs = new ReedSolomon(K, M);
  const present = shards.map((_, i) => !LOST.includes(i));
  return {
    label: OURS,
    shards,
    groupsPerCall: 1,
    encode: () => rs.encode(shards),
    decode: () => rs.reconstruct(shards, { present }),
  };
}

/**
 * The addon coding `groups` groups per call, all in flight at once (each in its own buffers):
 * with one group, each call pays the hand-off to a pool thread and back; with several, the
 * pool's threads work back to back, which shows what the C code itself can do.
 */
function nativeSubject(addon: NativeAddon, data: Uint8Array, groups: number): Subject {
  const context = addon.create(K, M);
  const buffers = Array.from({ length: groups }, () => groupBuffers(data));
  const all = Array.from({ length: K + M }, (_, i) => i);
  const call = (sources: number, targets: number) =>
    Promise.all(
      buffers.map(
        ({ dataBuffer, parityBuffer }) =>
          new Promise<void>((resolve, reject) =>
            addon.encode(
              context,
              sources,
              targets,
              dataBuffer,
              0,
              dataBuffer.length,
              parityBuffer,
              0,
              parityBuffer.length,
              (error) => (error ? reject(error) : resolve()),
            ),
          ),
      ),
    );
  const dataMask = bitmask(all.slice(0, K));
  const parityMask = bitmask(all.slice(K));
  const lostMask = bitmask(LOST);
  const keptMask = bitmask(all.filter((i) => !LOST.includes(i)));
  return {
    label: groups === 1 ? NATIVE : `${NATIVE}, ${groups} in flight`,
    shards: buffers[0]!.shards,
    groupsPerCall: groups,
    encode: () => call(dataMask, parityMask),
    decode: () => call(keptMask, lostMask),
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Throws unless every shard of `subject` equals `expected`. */
function assertShards(subject: Subject, expected: readonly Uint8Array[], when: string): void {
  subject.shards.forEach((shard, i) => {
    if (!equalBytes(shard, expected[i]!))
      throw new Error(`${subject.label}: shard ${i} is wrong ${when}`);
  });
}

/**
 * Encodes, then wipes the lost shards and decodes: throws unless every shard comes back as it
 * was. Returns the shards, which the timed calls (rewriting the same bytes) must leave as they are.
 */
async function crossCheck(subject: Subject): Promise<Uint8Array[]> {
  await subject.encode();
  const expected = subject.shards.map((s) => s.slice());
  for (const i of LOST) subject.shards[i]!.fill(0);
  await subject.decode();
  assertShards(subject, expected, `after rebuilding shards [${LOST}]`);
  return expected;
}

export const fecCodec: Benchmark = {
  name: 'fec-codec',
  description: `Reed–Solomon encode/decode, k=${K} m=${M}, ${SHARD_BYTES}-byte shards: @braid/fec vs native @ronomon/reed-solomon`,
  ratios: (['encode', 'decode'] as const).flatMap((op) => [
    {
      name: `${op} ${OURS} / ${NATIVE}`,
      numerator: `${op} ${OURS}`,
      denominator: `${op} ${NATIVE}`,
      targetMin: TARGET_RATIO,
    },
    {
      name: `${op} ${OURS} / ${NATIVE_PIPELINED}`,
      numerator: `${op} ${OURS}`,
      denominator: `${op} ${NATIVE_PIPELINED}`,
    },
  ]),
  async run(): Promise<BenchRunResult> {
    const data = randomBytes(K * SHARD_BYTES);
    const subjects = [braidSubject(data)];
    const notes: string[] = [];
    const addon = loadNative();
    if (typeof addon === 'string')
      notes.push(
        `native baseline unavailable: ${addon} (pnpm install builds it with python3, make and a C compiler; on Debian: apt-get install -y python3 make g++ && pnpm rebuild @ronomon/reed-solomon)`,
      );
    else subjects.push(nativeSubject(addon, data, 1), nativeSubject(addon, data, PIPELINED_GROUPS));

    const expected = new Map<Subject, Uint8Array[]>();
    for (const subject of subjects) expected.set(subject, await crossCheck(subject));
    if (subjects.length > 1) {
      const [ours, native] = subjects as [Subject, Subject];
      const same = ours.shards.slice(K).every((p, i) => equalBytes(p, native.shards[K + i]!));
      notes.push(
        same
          ? 'parity: byte-identical to @ronomon/reed-solomon'
          : 'parity: differs from @ronomon/reed-solomon, as expected (it codes with a Cauchy bit-matrix, not the Backblaze/klauspost Vandermonde matrix); speed compared only, both decoders checked to rebuild the lost shards exactly',
      );
    }

    const metrics: Record<string, Measurement> = {};
    for (const operation of ['encode', 'decode'] as const) {
      const rates = await interleavedCallsPerSecond(
        TIMING,
        subjects.map((subject) => () => subject[operation]()),
      );
      subjects.forEach((subject, i) => {
        metrics[`${operation} ${subject.label}`] = mbPerSecond(rates[i]! * subject.groupsPerCall);
      });
    }
    for (const subject of subjects) assertShards(subject, expected.get(subject)!, 'after timing');
    return { metrics, notes };
  },
};
