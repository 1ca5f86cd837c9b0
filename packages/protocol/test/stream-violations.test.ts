import t, { type Test } from 'tap';
import {
  CloseCode,
  closeCodeName,
  createSeededRandom,
  decodeFrames,
  encodeFrames,
  type EndpointOptions,
  type Frame,
} from '@braid/protocol';
import { A, B } from './support/pair.js';
import { connected, eventsOf, payload, type Connected } from './support/sessions.js';

// a plays a peer that breaks the rules: injectFrames seals whatever it is given.

function stream(streamId: number, offset: number, length: number, fin = false): Frame {
  return { type: 'stream', streamId, offset, data: payload(length, offset), fin };
}

/** Injects each batch in its own packet and lets it land; all but the last must be accepted. */
function inject(t: Test, c: Connected, batches: Frame[][]): void {
  const { p, a, b } = c;
  batches.forEach((frames, i) => {
    p.a.injectFrames(p.now, a, frames);
    p.run(p.now + 1_000);
    if (i < batches.length - 1)
      t.equal(p.b.sessionInfo(b).state, 'established', `batch ${i + 1} is accepted`);
  });
}

/** b closed the session with `code`, a heard it from b, and b's endpoint takes a new session. */
function closedWith(t: Test, c: Connected, code: number, reason?: RegExp): void {
  const { p, a, b } = c;
  p.run(p.now + 5_000);
  const name = closeCodeName(code);
  const bClosed = eventsOf(p, 'b', 'closed');
  t.same(
    bClosed.map((e) => [e.session, closeCodeName(e.code), e.byPeer]),
    [[b, name, false]],
    `b closed with ${name}`,
  );
  if (reason) t.match(bClosed[0]?.reason, reason);
  t.same(
    eventsOf(p, 'a', 'closed').map((e) => [e.session, closeCodeName(e.code), e.byPeer]),
    [[a, name, true]],
    `a was told ${name}`,
  );
  if (reason) t.match(eventsOf(p, 'a', 'closed')[0]?.reason, reason, 'the reason travels');
  t.same(p.b.sessionIds(), [], 'the session is gone from b');
  const again = p.a.connect(p.now, { remoteEid: p.bId.eid, local: A, remote: B });
  p.run(p.now + 1_000);
  t.equal(p.a.sessionInfo(again).state, 'established', "b's endpoint accepts a new session");
  p.a.sendDatagram(p.now, again, Uint8Array.of(1, 2, 3));
  p.run(p.now + 1_000);
  t.ok(
    eventsOf(p, 'b', 'datagram').some((e) => e.session !== b),
    'and carries data on it',
  );
}

async function violation(
  t: Test,
  seed: number,
  bOptions: Partial<EndpointOptions>,
  batches: Frame[][],
  code: number,
  reason?: RegExp,
): Promise<void> {
  const c = await connected(seed, {}, bOptions);
  inject(t, c, batches);
  closedWith(t, c, code, reason);
}

t.test('data beyond a stream window: FLOW_CONTROL_ERROR', async (t) => {
  await violation(
    t,
    201,
    { streamWindowBytes: 4096 },
    [[stream(0, 4000, 96)], [stream(0, 4096, 1)]],
    CloseCode.FLOW_CONTROL_ERROR,
    /stream 0: data to 4097 beyond the limit 4096/,
  );
});

t.test('data beyond the session window, over several streams: FLOW_CONTROL_ERROR', async (t) => {
  await violation(
    t,
    202,
    { streamWindowBytes: 4096, connectionWindowBytes: 8192 },
    [[stream(0, 4000, 96)], [stream(4, 4000, 96)], [stream(8, 0, 1)]],
    CloseCode.FLOW_CONTROL_ERROR,
    /session data 8193 beyond the limit 8192/,
  );
});

t.test('a RESET_STREAM whose final size exceeds the window: FLOW_CONTROL_ERROR', async (t) => {
  await violation(
    t,
    203,
    { streamWindowBytes: 4096 },
    [[stream(0, 0, 10)], [{ type: 'reset_stream', streamId: 0, code: 1, finalSize: 5000 }]],
    CloseCode.FLOW_CONTROL_ERROR,
  );
});

t.test('data beyond a known final size: FINAL_SIZE_ERROR', async (t) => {
  await violation(
    t,
    204,
    {},
    [[stream(0, 0, 10, true)], [stream(0, 0, 10, true)], [stream(0, 10, 1)]],
    CloseCode.FINAL_SIZE_ERROR,
    /beyond the final size 10/,
  );
});

t.test('a second FIN with another final size: FINAL_SIZE_ERROR', async (t) => {
  await violation(
    t,
    205,
    {},
    [[stream(0, 0, 10, true)], [stream(0, 0, 5, true)]],
    CloseCode.FINAL_SIZE_ERROR,
  );
});

t.test('a FIN below bytes already received: FINAL_SIZE_ERROR', async (t) => {
  await violation(
    t,
    206,
    {},
    [[stream(0, 0, 100)], [stream(0, 0, 50, true)]],
    CloseCode.FINAL_SIZE_ERROR,
    /final size 50 below bytes already received \(100\)/,
  );
});

t.test('RESET_STREAM with a final size below the bytes received: FINAL_SIZE_ERROR', async (t) => {
  await violation(
    t,
    207,
    {},
    [[stream(0, 0, 10)], [{ type: 'reset_stream', streamId: 0, code: 1, finalSize: 5 }]],
    CloseCode.FINAL_SIZE_ERROR,
  );
});

t.test('RESET_STREAM with the right final size is accepted (control)', async (t) => {
  const c = await connected(208);
  const { p, b } = c;
  inject(t, c, [
    [stream(0, 0, 10, true)],
    [{ type: 'reset_stream', streamId: 0, code: 9, finalSize: 10 }],
  ]);
  t.equal(p.b.sessionInfo(b).state, 'established');
  t.same(
    eventsOf(p, 'b', 'stream_reset').map((e) => [e.streamId, e.code]),
    [[0, 9]],
  );
});

t.test('opening a stream beyond the announced limit: STREAM_LIMIT_ERROR', async (t) => {
  await violation(
    t,
    209,
    { maxStreams: 4 },
    [[stream(12, 0, 1)], [stream(16, 0, 1)]],
    CloseCode.STREAM_LIMIT_ERROR,
    /stream 16 exceeds the limit of 4 streams/,
  );
});

t.test("frames on b's own streams that b never opened: STREAM_STATE_ERROR", async (t) => {
  // b is the responder: its streams are 4n + 1 (RFC 9000 §2.1).
  const frames: Frame[] = [
    stream(1, 0, 1),
    { type: 'max_stream_data', streamId: 5, max: 10_000 },
    { type: 'stop_sending', streamId: 1, code: 3 },
    { type: 'reset_stream', streamId: 1, code: 3, finalSize: 0 },
    { type: 'stream_data_blocked', streamId: 1, limit: 0 },
  ];
  for (const [i, frame] of frames.entries()) {
    await t.test(frame.type, async (t) => {
      await violation(
        t,
        210 + i,
        {},
        [[frame]],
        CloseCode.STREAM_STATE_ERROR,
        /is ours and was never opened/,
      );
    });
  }
  await t.test('a unidirectional stream id', async (t) => {
    await violation(t, 220, {}, [[stream(2, 0, 1)]], CloseCode.STREAM_STATE_ERROR, /unidirect/);
  });
});

t.test('data on a stream b did open is accepted (control)', async (t) => {
  const c = await connected(221);
  const { p, b } = c;
  const sid = p.b.openStream(p.now, b);
  t.equal(sid, 1);
  inject(t, c, [[stream(1, 0, 10)], [{ type: 'max_stream_data', streamId: 1, max: 1 << 21 }]]);
  t.equal(p.b.sessionInfo(b).state, 'established');
  t.equal(p.b.streamRead(p.now, b, sid)?.data.length, 10);
});

t.test('an ACK of a packet b never sent: PROTOCOL_VIOLATION', async (t) => {
  await violation(
    t,
    222,
    {},
    [[{ type: 'ack', ranges: [{ smallest: 0, largest: 1_000_000 }], ackDelayMs: 0 }]],
    CloseCode.PROTOCOL_VIOLATION,
    /ACK of packet 1000000 of path 0, never sent/,
  );
});

t.test('HANDSHAKE_DONE from the initiator: PROTOCOL_VIOLATION', async (t) => {
  await violation(t, 223, {}, [[{ type: 'handshake_done' }]], CloseCode.PROTOCOL_VIOLATION);
});

/**
 * DATAGRAM data whose `length` says 0 the first time it is asked: the encoder writes a length
 * of 0 and then the bytes anyway, so they stand where the next frame type is read. This is how
 * a test gets raw bytes into a packet through `injectFrames`, which only takes Frame objects.
 */
function rawAfterEmptyDatagram(raw: number[]): Frame {
  const data = Uint8Array.from(raw);
  let asked = false;
  Object.defineProperty(data, 'length', {
    get: () => {
      if (asked) return raw.length;
      asked = true;
      return 0;
    },
  });
  return { type: 'datagram', data };
}

t.test('an unknown frame type: FRAME_ENCODING_ERROR', async (t) => {
  const bytes = encodeFrames([rawAfterEmptyDatagram([0x7f, 0x00])]).finish();
  t.same([...bytes], [0x31, 0x00, 0x7f, 0x00], 'the trick puts a raw 0x7f at a frame boundary');
  t.throws(() => decodeFrames(bytes), { message: /unknown frame type 0x7f/ });
  await violation(
    t,
    224,
    {},
    [[{ type: 'ping' }], [rawAfterEmptyDatagram([0x7f])]],
    CloseCode.FRAME_ENCODING_ERROR,
    /unknown frame type 0x7f/,
  );
});

t.test('a truncated frame: FRAME_ENCODING_ERROR', async (t) => {
  // MAX_DATA with a 4-byte varint that stops after its first byte.
  await violation(
    t,
    225,
    {},
    [[rawAfterEmptyDatagram([0x10, 0x80])]],
    CloseCode.FRAME_ENCODING_ERROR,
    /truncated/,
  );
});

/**
 * Bytes b holds for its streams, received and not yet read. White-box: it reaches into the
 * session's private state, since memory is what this test is about and no API reports it.
 */
function heldBytes(c: Connected): number {
  const session = (c.p.b as unknown as { sessions: Map<number, unknown> }).sessions.get(c.b) as {
    streams: { streams: Map<number, { recv: { pieces: { data: Uint8Array }[] } }> };
  };
  let held = 0;
  for (const s of session.streams.streams.values())
    for (const piece of s.recv.pieces) held += piece.data.length;
  return held;
}

t.test(
  'a flood of overlapping STREAM frames within the window: memory stays bounded',
  async (t) => {
    const WINDOW = 16_384;
    const c = await connected(226, {}, { streamWindowBytes: WINDOW });
    const { p, b } = c;
    const content = payload(WINDOW, 77);
    const piece = (offset: number, length: number): Frame => ({
      type: 'stream',
      streamId: 0,
      offset,
      data: content.slice(offset, offset + length),
      fin: false,
    });
    const random = createSeededRandom(226);
    const below = (n: number) => random.nextU32() % n;
    let heldMax = 0;
    let frames = 0;
    for (let packet = 0; packet < 400; packet++) {
      const batch: Frame[] = [];
      // Never the first byte, so nothing becomes readable and every byte stays held.
      for (let i = 0; i < 8; i++) {
        const length = 1 + below(120);
        batch.push(piece(1 + below(WINDOW - length), length));
      }
      frames += batch.length;
      p.a.injectFrames(p.now, c.a, batch);
      p.run(p.now);
      heldMax = Math.max(heldMax, heldBytes(c));
    }
    t.equal(p.b.sessionInfo(b).state, 'established', `${frames} frames, no violation`);
    t.ok(heldMax < WINDOW, `b held at most ${heldMax} bytes (window ${WINDOW})`);
    t.ok(heldMax > WINDOW / 2, 'the flood did cover much of the window');
    // Fill every gap: b reads the window exactly once, in order.
    for (let offset = 0; offset < WINDOW; offset += 1024) {
      p.a.injectFrames(p.now, c.a, [piece(offset, 1024)]);
      p.run(p.now);
    }
    t.equal(heldBytes(c), WINDOW, 'full, not more');
    const read: Uint8Array[] = [];
    for (let r = p.b.streamRead(p.now, b, 0); r; r = p.b.streamRead(p.now, b, 0)) read.push(r.data);
    t.same(
      Buffer.concat(read),
      Buffer.from(content),
      'every byte once, where it belongs, whatever frame carried it',
    );
    t.equal(heldBytes(c), 0);
  },
);
