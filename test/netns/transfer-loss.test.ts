/**
 * A Braid transfer over both links, with 5 % random loss on both (nftables numgen, each host's
 * receiving side, so each direction of each link loses 5 %) from a quarter of the way: every
 * byte arrives, and the loss was real (the sender counted lost packets).
 */
import t from 'tap';
import { labSupport } from '../../scripts/netns/lab.js';
import { faultedTransfer } from './support/transfer.js';

const support = await labSupport();

t.test(
  'braidd in each host: 5 % random loss on both links mid-transfer: every byte arrives',
  { skip: support.ok ? false : support.reason },
  async (t) => {
    const { lab, r } = await faultedTransfer(t, (lab) => lab.setLoss(5));
    const paths = r.sender.paths as { local: string; packetsLost: number }[];
    for (const link of lab.links) {
      const lost = paths
        .filter((p) => p.local.startsWith(`${link.a}:`))
        .reduce((n, p) => n + p.packetsLost, 0);
      t.ok(lost > 0, `link ${link.id}: the sender lost and repaired ${lost} packets`);
    }
  },
);
