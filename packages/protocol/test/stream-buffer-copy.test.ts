/**
 * Writes are copied: a caller may reuse its buffer at once, even a Node `Buffer`, whose
 * `.slice()` is a view rather than a copy.
 */
import t from 'tap';
import { bytesEqual } from '@braid/protocol';
import { connected, Reader } from './support/sessions.js';

t.test(
  'a Buffer reused after streamWrite and sendDatagram does not change what is sent',
  async (t) => {
    const { p, a, b } = await connected(901);
    const sid = p.a.openStream(p.now, a);
    const buf = Buffer.alloc(4096, 0x11);
    t.equal(p.a.streamWrite(p.now, a, sid, buf), 4096);
    p.a.sendDatagram(p.now, a, buf.subarray(0, 100));
    buf.fill(0x99);
    p.a.streamEnd(p.now, a, sid);
    const rb = new Reader(p, 'b', b);
    p.run(p.now + 2_000, rb.tap());
    t.ok(
      bytesEqual(rb.data(sid), new Uint8Array(4096).fill(0x11)),
      'the stream carries the bytes as written',
    );
    const datagrams = p.events.b.filter((e) => e.type === 'datagram');
    t.equal(datagrams.length, 1);
    t.ok(
      datagrams[0]!.type === 'datagram' &&
        bytesEqual(datagrams[0]!.data, new Uint8Array(100).fill(0x11)),
      'so does the datagram',
    );
  },
);
