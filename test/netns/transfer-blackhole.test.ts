/**
 * A Braid transfer over both links survives a silent blackhole of link 1 midway (nftables drops
 * everything on it, both ways; neither host is told), byte for byte: the silence alone must be
 * noticed.
 */
import t from 'tap';
import { labSupport } from '../../scripts/netns/lab.js';
import { senderEventsOn, senderPathsOn, faultedTransfer } from './support/transfer.js';

const support = await labSupport();

t.test(
  'braidd in each host: silent blackhole of link 1 mid-transfer: every byte arrives, the path is suspected',
  { skip: support.ok ? false : support.reason },
  async (t) => {
    const { lab, r } = await faultedTransfer(t, (lab) => lab.setBlackhole(1, true));
    const changes = senderEventsOn(lab, r, 1).map((e) => String(e.change));
    t.ok(changes.includes('suspect'), `a suspected its link-1 path (${changes.join(', ')})`);
    t.notOk(
      senderPathsOn(lab, r, 1).some((p) => p.status === 'active'),
      'the link-1 path is not active at the end (the blackhole stays)',
    );
    t.ok(
      senderPathsOn(lab, r, 2).some((p) => p.status === 'active'),
      'the link-2 path is active',
    );
  },
);
