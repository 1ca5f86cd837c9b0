// Short packets are built and sealed in place in one buffer, through the AEAD's views of it, and
// copied to a slab (session.ts sealPacket; oversized ones are sealed in an array of their own
// with PacketKeys.sealInPlace). These tests hold both to the path they replaced: header bytes,
// then aeadSeal(key, packetNonce(path, pn), header, plaintext) in a new array, byte for byte.
import fc from 'fast-check';
import t from 'tap';
import {
  AEAD_TAG_BYTES,
  aeadSealInto,
  ByteSlab,
  ByteWriter,
  concatBytes,
  createSodiumCrypto,
  encodeShortHeader,
  packetNonce,
  PacketKeys,
  parsePacket,
  SHORT_HEADER_BYTES,
  toHex,
  writeShortHeader,
  type CryptoProvider,
} from '@braid/protocol';

const crypto = await createSodiumCrypto();
const KEY_UPDATE = { updateAfterPackets: 2 ** 24, updateAfterMs: 120_000 };
const keyA = new Uint8Array(32).map((_, i) => i + 1);
const keyB = new Uint8Array(32).map((_, i) => 200 - i);

/** The header as the writer-based encoder built it before (kept here as the reference). */
function referenceHeader(dcid: Uint8Array, pn: number, phase: 0 | 1, fec: boolean): Uint8Array {
  const w = new ByteWriter(SHORT_HEADER_BYTES);
  w.u8(0x40 | (phase ? 0x04 : 0) | (fec ? 0x08 : 0));
  w.bytes(dcid);
  w.u32(pn % 2 ** 32);
  return w.finish();
}

/**
 * What sealPacket does, on `provider`: header and plaintext in a scratch buffer, sealed there
 * through views of it (`sealInto`), copied to a slab; or, `whole`, sealed in an array of its
 * own (`sealInPlace`, the oversized packets' path).
 */
function sealedInPlace(
  provider: CryptoProvider,
  slab: ByteSlab,
  pathId: number,
  dcid: Uint8Array,
  pn: number,
  fec: boolean,
  plaintext: Uint8Array,
  whole = false,
): Uint8Array {
  const keys = new PacketKeys(provider, keyA, keyB, 0, KEY_UPDATE);
  const length = SHORT_HEADER_BYTES + plaintext.length + AEAD_TAG_BYTES;
  const scratch = new Uint8Array(length + 7).fill(0xee);
  writeShortHeader(scratch, dcid, pn, keys.sendPhase, fec);
  ByteWriter.over(scratch, SHORT_HEADER_BYTES).bytes(plaintext);
  if (whole) {
    const datagram = scratch.slice(0, length);
    keys.sealInPlace(pathId, pn, datagram, SHORT_HEADER_BYTES);
    return datagram;
  }
  keys.sealInto(
    pathId,
    pn,
    scratch.subarray(0, SHORT_HEADER_BYTES),
    scratch.subarray(SHORT_HEADER_BYTES, length - AEAD_TAG_BYTES),
    scratch.subarray(SHORT_HEADER_BYTES, length),
  );
  if (scratch[length] !== 0xee) throw new Error('sealed past the packet');
  return slab.copy(scratch.subarray(0, length));
}

const packetArb = fc.record({
  pathId: fc.integer({ min: 0, max: 63 }),
  dcid: fc.uint8Array({ minLength: 8, maxLength: 8 }),
  pn: fc.integer({ min: 0, max: 2 ** 48 }),
  fec: fc.boolean(),
  plaintext: fc.uint8Array({ minLength: 1, maxLength: 1400 }),
});

t.test('writeShortHeader writes what the writer-based encoder wrote', async (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.integer({ min: 0, max: 2 ** 50 }),
      fc.constantFrom<0 | 1>(0, 1),
      fc.boolean(),
      (dcid, pn, phase, fec) => {
        const out = new Uint8Array(SHORT_HEADER_BYTES + 3).fill(0xee);
        writeShortHeader(out, dcid, pn, phase, fec);
        const want = toHex(referenceHeader(dcid, pn, phase, fec));
        return (
          toHex(out.subarray(0, SHORT_HEADER_BYTES)) === want &&
          toHex(encodeShortHeader(dcid, pn, phase, fec)) === want &&
          out[SHORT_HEADER_BYTES] === 0xee
        );
      },
    ),
    { seed: 11, numRuns: 2_000 },
  );
  t.equal(
    toHex(encodeShortHeader(new Uint8Array(8).fill(0xab), 2 ** 32 + 0x01020304, 1, true)),
    '4c' + 'ab'.repeat(8) + '01020304',
  );
  t.throws(() => writeShortHeader(new Uint8Array(12), new Uint8Array(8), 0, 0), RangeError);
  t.throws(() => writeShortHeader(new Uint8Array(13), new Uint8Array(7), 0, 0), RangeError);
});

t.test('a packet sealed in place is the header and the old seal, byte for byte', async () => {
  const slab = new ByteSlab(4096);
  fc.assert(
    fc.property(packetArb, fc.boolean(), ({ pathId, dcid, pn, fec, plaintext }, whole) => {
      const got = sealedInPlace(crypto, slab, pathId, dcid, pn, fec, plaintext, whole);
      const header = referenceHeader(dcid, pn, 0, fec);
      const want = concatBytes(
        header,
        crypto.aeadSeal(keyA, packetNonce(pathId, pn), header, plaintext),
      );
      return toHex(got) === toHex(want);
    }),
    { seed: 12, numRuns: 300 },
  );
});

t.test('a packet sealed in place opens on the peer, and a flipped bit does not', async (t) => {
  const slab = new ByteSlab();
  const peer = new PacketKeys(crypto, keyB, keyA, 0, KEY_UPDATE);
  const plaintext = new Uint8Array(1200).map((_, i) => i * 13);
  const datagram = sealedInPlace(crypto, slab, 3, new Uint8Array(8).fill(9), 77, true, plaintext);
  const parsed = parsePacket(datagram);
  if (!parsed.ok || parsed.packet.form !== 'short') throw new Error('not a short packet');
  const opened = peer.open(0, 3, 77, 0, parsed.packet.header, parsed.packet.sealed);
  t.equal(toHex(opened ?? new Uint8Array(0)), toHex(plaintext));
  t.ok(parsed.packet.fecProtected);
  datagram[5]! ^= 1; // in the header: the associated data
  t.equal(peer.open(0, 3, 77, 0, parsed.packet.header, parsed.packet.sealed), undefined);
});

t.test('aeadSealInto: a provider without it gets aeadSeal copied; sizes are checked', async (t) => {
  t.equal(crypto.aeadSealInto, undefined, 'libsodium-wrappers has no into variant');
  const nonce = new Uint8Array(12).fill(4);
  const ad = new Uint8Array(13).fill(5);
  const msg = new Uint8Array(300).map((_, i) => i);
  const out = new Uint8Array(msg.length + AEAD_TAG_BYTES);
  aeadSealInto(crypto, keyA, nonce, ad, msg, out);
  t.equal(toHex(out), toHex(crypto.aeadSeal(keyA, nonce, ad, msg)));
  t.throws(
    () => aeadSealInto(crypto, keyA, nonce, ad, msg, new Uint8Array(msg.length)),
    RangeError,
  );
  // A provider's own variant is used when there is one.
  let used = 0;
  const withInto: CryptoProvider = {
    ...crypto,
    aeadSealInto(k, n, a, p, o) {
      used++;
      o.set(crypto.aeadSeal(k, n, a, p));
    },
  };
  aeadSealInto(withInto, keyA, nonce, ad, msg, new Uint8Array(out.length));
  t.equal(used, 1);
});

t.test('ByteSlab: copies never move or overlap, and share slabs', async (t) => {
  const slab = new ByteSlab(1024);
  const kept: { copy: Uint8Array; fill: number }[] = [];
  for (let i = 0; i < 200; i++) {
    const length = 1 + ((i * 37) % 300);
    const copy = slab.copy(new Uint8Array(length).fill(i & 0xff));
    t.equal(copy.length, length);
    t.equal(copy.byteOffset % 8, 0, 'aligned');
    kept.push({ copy, fill: i & 0xff });
  }
  for (const { copy, fill } of kept)
    t.ok(
      copy.every((b) => b === fill),
      `copy ${fill} intact`,
    );
  const fresh = new ByteSlab(1024);
  const a = fresh.copy(new Uint8Array(10));
  const b = fresh.copy(new Uint8Array(100));
  t.equal(b.buffer, a.buffer, 'one slab');
  t.equal(b.byteOffset, a.byteOffset + 16, 'the next 8-byte boundary');
  // A copy larger than a slab gets its own array; the slab goes on after it.
  const big = fresh.copy(new Uint8Array(5000).fill(3));
  t.equal(big.length, 5000);
  t.not(big.buffer, b.buffer);
  t.ok(big.every((x) => x === 3));
  t.equal(fresh.copy(new Uint8Array(8)).buffer, b.buffer);
});

t.test(
  'ByteWriter.over writes after the given start and moves when it outgrows the array',
  async (t) => {
    const buffer = new Uint8Array(8).fill(1);
    const w = ByteWriter.over(buffer, 3).u16(0x0203);
    t.equal(w.target, buffer);
    t.equal(toHex(w.view()), '0101010203');
    w.bytes(new Uint8Array(10).fill(7));
    t.not(w.target, buffer, 'outgrown: a copy of its own');
    t.equal(toHex(w.view()), '0101010203' + '07'.repeat(10));
    t.throws(() => ByteWriter.over(buffer, 9), RangeError);
  },
);
