/**
 * 1400-byte datagrams, then both links' MTU drops to 1280 mid-transfer (a tunnel, say): every
 * byte still arrives. Datagrams over the MTU go fragmented (DF is not set), as node:dgram sent
 * them; the native sockets' GSO trains cannot be fragmented, and the kernel refuses them
 * (EMSGSIZE), so such a train goes out datagram by datagram. Before that fallback, every train
 * on every path was refused and the transfer stalled.
 */
import t from 'tap';
import { labSupport } from '../../scripts/netns/lab.js';
import { LAB_DATAGRAM_BYTES } from '../../scripts/netns/transfer.js';
import { faultedTransfer } from './support/transfer.js';

const support = await labSupport();

t.test(
  'embedded endpoints: both links drop to a 1280-byte MTU mid-transfer: every byte arrives',
  { skip: support.ok ? false : support.reason },
  async (t) => {
    t.ok(LAB_DATAGRAM_BYTES + 28 > 1280, 'the datagrams no longer fit in one packet');
    const { r } = await faultedTransfer(
      t,
      async (lab) => {
        for (const host of ['a', 'b'] as const)
          for (const iface of ['eth1', 'eth2'])
            await lab.exec(host, 'ip', ['link', 'set', iface, 'mtu', '1280']);
      },
      { via: 'embedded', maxDatagramBytes: LAB_DATAGRAM_BYTES },
    );
    const stats = r.sender.stats as { bytesSent: number; packetsSent: number };
    t.ok(stats.bytesSent / stats.packetsSent > 1280, 'full-size datagrams were sent throughout');
  },
);
