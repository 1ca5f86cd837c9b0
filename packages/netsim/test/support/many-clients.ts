/** N initiators, each on its own faulty duplex link, dialling one responder. */
import {
  createSeededRandom,
  createSodiumCrypto,
  Endpoint,
  generateIdentity,
  type EndpointEvent,
} from '@braid/protocol';
import { Simulator, type LinkOptions } from '@braid/netsim';

export const SERVER = '203.0.113.1:4433';

export interface ManyClients {
  sim: Simulator;
  server: Endpoint;
  clients: Endpoint[];
  serverEvents: EndpointEvent[];
  clientEvents: EndpointEvent[][];
}

export async function manyClients(
  seed: number,
  count: number,
  link: LinkOptions,
  pattern: 'xx' | 'ik' = 'xx',
): Promise<ManyClients> {
  const crypto = await createSodiumCrypto();
  const keys = createSeededRandom(seed);
  const serverId = generateIdentity(crypto, keys);
  const sim = new Simulator({ seed });
  const server = new Endpoint({ identity: serverId, crypto, random: createSeededRandom(seed + 1) });
  const serverEvents: EndpointEvent[] = [];
  const clientEvents: EndpointEvent[][] = [];
  // Collect events as the simulation runs: wrap pollTransmit, which the simulator calls after
  // every input.
  const tapEvents = (e: Endpoint, sink: EndpointEvent[]) => {
    const poll = e.pollTransmit.bind(e);
    e.pollTransmit = (now) => {
      for (let ev = e.pollEvent(); ev; ev = e.pollEvent()) sink.push(ev);
      return poll(now);
    };
  };
  tapEvents(server, serverEvents);
  sim.addNode('server', server, [SERVER]);
  const clients: Endpoint[] = [];
  for (let i = 0; i < count; i++) {
    const local = `198.51.100.${i + 1}:5000`;
    const client = new Endpoint({
      identity: generateIdentity(crypto, keys),
      crypto,
      random: createSeededRandom(seed * 1000 + i + 7),
    });
    const events: EndpointEvent[] = [];
    tapEvents(client, events);
    clientEvents.push(events);
    sim.addNode(`client${i}`, client, [local]);
    sim.addDuplexLink(local, SERVER, link);
    client.connect(0, {
      remoteEid: serverId.eid,
      ...(pattern === 'ik' ? { remoteStaticKey: serverId.publicKey } : {}),
      local,
      remote: SERVER,
    });
    clients.push(client);
  }
  return { sim, server, clients, serverEvents, clientEvents };
}

/** Every client's one session is confirmed and the server holds exactly `count` sessions. */
export function allConfirmed(m: ManyClients): boolean {
  return (
    m.clients.every((c) => {
      const ids = c.sessionIds();
      return ids.length === 1 && c.sessionInfo(ids[0]!).confirmed;
    }) &&
    m.server.sessionIds().filter((id) => m.server.sessionInfo(id).confirmed).length ===
      m.clients.length
  );
}
