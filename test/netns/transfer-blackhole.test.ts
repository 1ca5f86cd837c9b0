/**
 * A Braid transfer over both links survives a silent blackhole of link 1 midway (nftables drops
 * everything on it, both ways; neither host is told), byte for byte: the silence alone must be
 * noticed.
 */
import t from 'tap';
import { createLab, labSupport } from '../../scripts/netns/lab.js';
import { runTransfer } from '../../scripts/netns/transfer.js';
import {
  byteExact,
  FAULT_AT_BYTES,
  faultMidTransfer,
  senderEventsOn,
  senderPathsOn,
  TRANSFER_BYTES,
  TRANSFER_TIMEOUT_MS,
} from './support/transfer.js';

const support = await labSupport();

t.test(
  'braidd in each host: silent blackhole of link 1 mid-transfer: every byte arrives, the path is suspected',
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
      fault: { atBytes: FAULT_AT_BYTES, apply: () => lab.setBlackhole(1, true) },
    });
    byteExact(t, r);
    faultMidTransfer(t, r);
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
