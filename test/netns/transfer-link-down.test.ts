/**
 * A Braid transfer over both links survives `ip link set down` of link 1 midway, byte for byte.
 * The endpoint in a learns its address is gone (a send fails, or the interface list drops it)
 * and moves everything to link 2. Once through braidd in each host (the SDK's `connect`), once
 * with endpoints embedded in the peers as the netns benchmarks run them (1400-byte datagrams).
 */
import t from 'tap';
import { labSupport } from '../../scripts/netns/lab.js';
import { LAB_DATAGRAM_BYTES } from '../../scripts/netns/transfer.js';
import { senderEventsOn, senderPathsOn, faultedTransfer } from './support/transfer.js';

const support = await labSupport();

for (const via of ['daemon', 'embedded'] as const)
  t.test(
    `${via === 'daemon' ? 'braidd in each host' : 'embedded endpoints'}: ip link set down of link 1 mid-transfer: every byte arrives, link 2 carries the rest`,
    { skip: support.ok ? false : support.reason },
    async (t) => {
      const { lab, r } = await faultedTransfer(t, (lab) => lab.setLinkUp(1, false), {
        via,
        ...(via === 'embedded' && { maxDatagramBytes: LAB_DATAGRAM_BYTES }),
      });
      if (via === 'embedded') {
        // The default is 1200 bytes: a mean above it shows the option reached the endpoints.
        const stats = r.sender.stats as { bytesSent: number; packetsSent: number };
        const mean = stats.bytesSent / stats.packetsSent;
        t.ok(mean > 1200 && mean <= LAB_DATAGRAM_BYTES, `mean datagram ${mean.toFixed(0)} bytes`);
      }
      const changes = senderEventsOn(lab, r, 1).map((e) => `${e.change}: ${e.reason}`);
      t.ok(
        changes.some((c) => c.startsWith('down')),
        `a took its link-1 path down (${changes.join('; ')})`,
      );
      t.ok(
        senderPathsOn(lab, r, 1).every((p) => p.status === 'down'),
        'the link-1 path is still down at the end (the link is)',
      );
      t.ok(
        senderPathsOn(lab, r, 2).some((p) => p.status === 'active'),
        'the link-2 path is active',
      );
      // Sends from a's link-2 address to b's link-1 address fail too (ENETUNREACH: no route
      // once link 1 is down). That takes down that one cross path, never the address: CI saw
      // the whole link-2 address removed this way, and the session suspended for good.
      const link2 = senderEventsOn(lab, r, 2).map((e) => `${e.change}: ${e.reason}`);
      t.notOk(
        link2.some((c) => c.endsWith('local address gone')),
        `a's link-2 address stayed (${link2.join('; ')})`,
      );
      t.notOk(
        r.senderEvents.some((e) => e.event === 'suspended' && Number(e.atMs) >= r.faultAtMs!),
        'the sender was never suspended',
      );
    },
  );
