import t from 'tap';
import { createSodiumCrypto } from '@braid/protocol';
import { randomFaults, runDatagramExchange } from '@braid/netsim';

t.test('the same seed replays the same run exactly; another seed differs', async (t) => {
  const crypto = await createSodiumCrypto();
  const one = JSON.stringify(runDatagramExchange({ ...randomFaults(42), crypto }));
  const two = JSON.stringify(runDatagramExchange({ ...randomFaults(42), crypto }));
  const other = JSON.stringify(runDatagramExchange({ ...randomFaults(43), crypto }));
  t.equal(one, two);
  t.not(one, other);
});
