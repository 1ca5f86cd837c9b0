/**
 * A Braid transfer over both links, with 5 % random loss on both (nftables numgen, each host's
 * receiving side, so each direction of each link loses 5 %) from a quarter of the way: every
 * byte arrives, and the loss was real (the sender counted lost packets).
 */
import t from 'tap';
import { createLab, labSupport } from '../../scripts/netns/lab.js';
import { runTransfer } from '../../scripts/netns/transfer.js';
import {
  byteExact,
  FAULT_AT_BYTES,
  faultMidTransfer,
  TRANSFER_BYTES,
  TRANSFER_TIMEOUT_MS,
} from './support/transfer.js';

const support = await labSupport();

t.test(
  'braidd in each host: 5 % random loss on both links mid-transfer: every byte arrives',
  { skip: support.ok ? false : support.reason },
  async (t) => {
    const lab = await createLab({ rateMbit: 100 });
    t.teardown(() => lab.close());
    const r = await runTransfer({
      lab,
      system: 'braid',
      via: 'daemon',
      bytes: TRANSFER_BYTES,
      timeoutMs: TRANSFER_TIMEOUT_MS,
      fault: { atBytes: FAULT_AT_BYTES, apply: () => lab.setLoss(5) },
    });
    byteExact(t, r);
    faultMidTransfer(t, r);
    const paths = r.sender.paths as { local: string; packetsLost: number }[];
    for (const link of lab.links) {
      const lost = paths
        .filter((p) => p.local.startsWith(`${link.a}:`))
        .reduce((n, p) => n + p.packetsLost, 0);
      t.ok(lost > 0, `link ${link.id}: the sender lost and repaired ${lost} packets`);
    }
  },
);
