// A slow reader: the writer's write() returns false and waits, memory stays within the bounds
// (the writer's stream buffer and send buffer, the reader's window), and writing resumes as
// soon as the reader reads.
import t from 'tap';
import type { BraidStream } from '@braid/endpoint';
import { content, pair, readAll, sha256 } from './support/endpoints.js';

const BYTES = 16 << 20;
const CHUNK = 32 * 1024;
const STREAM_WINDOW = 512 * 1024;
const SEND_BUFFER = 512 * 1024;
const HIGH_WATER_MARK = 64 * 1024;

t.test(
  'a reader that does not read holds the writer back; writes resume when it reads',
  async (t) => {
    const { b, session } = await pair(t, {
      streamWindowBytes: STREAM_WINDOW,
      streamSendBufferBytes: SEND_BUFFER,
      streamHighWaterMarkBytes: HIGH_WATER_MARK,
    });
    const data = content(BYTES, 3);
    const listener = await b.listen('slow');
    const accepted = new Promise<BraidStream>((resolve) => listener.on('stream', resolve));
    const stream = await session.openStream('slow');
    const peer = await accepted;
    // The reader is paused: nothing is read from the protocol.
    peer.pause();
    let written = 0;
    let drains = 0;
    let writesRefused = 0;
    let finished = false;
    const pump = () => {
      while (written < BYTES) {
        const piece = data.subarray(written, written + CHUNK);
        written += piece.length;
        if (!stream.write(piece)) {
          writesRefused++;
          stream.once('drain', () => {
            drains++;
            pump();
          });
          return;
        }
      }
      stream.end(() => (finished = true));
    };
    pump();
    // Wait until the writer is stuck: `written` stops moving.
    let last = -1;
    for (let still = 0; still < 10;) {
      await new Promise((r) => setTimeout(r, 20));
      still = written === last ? still + 1 : 0;
      last = written;
    }
    t.ok(written < BYTES, `the writer is held back (${written} of ${BYTES} bytes taken)`);
    t.ok(writesRefused >= 1, 'write() returned false');
    // Everything taken sits in: the peer's window, our send buffer, Node's buffer, one chunk.
    const bound = STREAM_WINDOW + SEND_BUFFER + HIGH_WATER_MARK + CHUNK;
    t.ok(written <= bound, `taken ${written} ≤ ${bound} bytes`);
    t.ok(stream.writableLength <= HIGH_WATER_MARK + CHUNK, "Node's buffer is bounded too");
    t.notOk(finished);
    const drainsBefore = drains;
    const received = await readAll(peer.resume() as BraidStream);
    t.ok(drains > drainsBefore, "reading let the writer go on ('drain' fired)");
    t.equal(received.length, BYTES, 'every byte arrived');
    t.equal(sha256(received), sha256(data), 'byte-exact');
  },
);
