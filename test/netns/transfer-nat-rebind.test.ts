/**
 * A Braid transfer over both links, a's end of link 1 behind a NAT router that rebinds midway
 * (new conntrack zone and port range: b sees a's link-1 packets come from a new port, and what
 * b sends to the old port is dropped), byte for byte; b moves its path to the new address.
 */
import t from 'tap';
import { labSupport } from '../../scripts/netns/lab.js';
import { faultedTransfer } from './support/transfer.js';

const support = await labSupport();

t.test(
  'braidd in each host: NAT rebinding of link 1 mid-transfer: every byte arrives, b follows the new port',
  { skip: support.ok ? false : support.reason },
  async (t) => {
    let range = { portMin: 0, portMax: 0 };
    const { lab, r } = await faultedTransfer(
      t,
      async (lab) => {
        range = await lab.rebind();
      },
      { lab: { nat: true } },
    );
    const router = lab.link(1).aSeenByB;
    const inRange = (locator: string) => {
      const [host, port] = locator.split(':');
      return host === router && Number(port) >= range.portMin && Number(port) <= range.portMax;
    };
    const rebound = r.receiverEvents.filter((e) => e.event === 'path' && e.change === 'rebound');
    t.ok(
      rebound.some((e) => inRange(String(e.remote))),
      `b moved a path to ${router}:${range.portMin}-${range.portMax} (${rebound.map((e) => e.remote).join(', ')})`,
    );
    const receiverPaths = r.receiver.paths as { remote: string; status: string }[];
    t.ok(
      receiverPaths.some((p) => inRange(p.remote) && p.status === 'active'),
      "b's link-1 path is active at a's new address at the end",
    );
  },
);
