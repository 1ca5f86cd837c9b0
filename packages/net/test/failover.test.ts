/**
 * Requests keep working while a path fails under them. Two hosts on loopback, each with two
 * addresses (A: 127.0.0.1 and .2, B: .3 and .4), so a session has four paths; the scheduler
 * is active-backup, so one path carries the data. A loop of `node:http` requests (and, in its
 * own test, a `ws` message loop) runs over the shim; midway the path carrying the data is taken
 * down (`session.setPathDown`). Every request completes with the right body, and the session
 * reports a failover off that path. Nothing is timed; waits are bounded.
 */
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { connect } from '@braid/net';
import type { BraidSession, PathStats } from '@braid/sdk';
import { content, eventually, MODES, pair, type Mode } from './support/clients.js';
import { BraidAgent, httpOverBraid, request } from './support/http.js';

t.setTimeout(300_000); // a bound on a hang; nothing here is timed

/** Requests (or messages) that must complete after the path went down. */
const AFTER_DOWN_MIN = 40;
/** Bound of the whole loop. */
const ITERATIONS_MAX = 20_000;
/** An iteration still unfinished after this long is reported as stalled (a hang bound). */
const ITERATION_STALL_MS = 60_000;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Run {
  session: BraidSession;
  failovers: { from: number; to: number; reason: string }[];
  /** Set once a path was taken down: its id and how many iterations had completed. */
  down: { pathId: number; doneAtDown: number } | undefined;
  done: number;
  failures: string[];
}

/** The validated session from B to A, with four paths up. */
async function fourPaths(b: { openSession(peer: string): Promise<BraidSession> }, peer: string) {
  const session = await b.openSession(peer);
  await eventually(async () => {
    const ps = await session.paths();
    return ps.length === 4 && ps.every((p) => p.status === 'active' || p.status === 'standby')
      ? true
      : undefined;
  }, 'four validated paths');
  return session;
}

/**
 * The path whose stream bytes grow now (the one carrying the data; a cumulative counter alone
 * could name a path the data already left).
 */
async function carryingPath(session: BraidSession): Promise<PathStats> {
  return eventually(async () => {
    const before = new Map((await session.paths()).map((p) => [p.id, p.streamBytesSent]));
    await new Promise((r) => setTimeout(r, 50));
    const growth = (p: PathStats) => p.streamBytesSent - (before.get(p.id) ?? p.streamBytesSent);
    const carrying = (await session.paths()).filter((p) => p.status === 'active' && growth(p) > 0);
    return carrying.sort((x, y) => growth(y) - growth(x))[0];
  }, 'the path carrying the data now');
}

/**
 * Runs `iteration` in `workers` loops until a failover off the downed path was seen and
 * AFTER_DOWN_MIN more iterations completed (bounded by ITERATIONS_MAX); takes the carrying
 * path down once `downAfter` iterations completed.
 */
async function loopThroughFailover(
  t: Test,
  session: BraidSession,
  workers: number,
  downAfter: number,
  iteration: (i: number) => Promise<string | undefined>,
): Promise<Run> {
  const run: Run = { session, failovers: [], down: undefined, done: 0, failures: [] };
  session.on('failover', (f) => run.failovers.push(f));
  let started = 0;
  const finished = () =>
    started >= ITERATIONS_MAX ||
    run.failures.length > 0 ||
    (run.down !== undefined &&
      run.failovers.some((f) => f.from === run.down!.pathId) &&
      run.done >= run.down.doneAtDown + AFTER_DOWN_MIN);
  let downing: Promise<void> | undefined;
  const stalled = async (i: number): Promise<string> => {
    const paths = await session.paths().catch((err: Error) => err.message);
    return `stalled (paths: ${JSON.stringify(paths)}; failovers: ${JSON.stringify(run.failovers)}; down: ${JSON.stringify(run.down)}; iteration ${i} of ${started}, ${run.done} done)`;
  };
  const worker = async () => {
    while (!finished()) {
      const i = started++;
      let timer: NodeJS.Timeout | undefined;
      const failure = await Promise.race([
        iteration(i),
        new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve(stalled(i)), ITERATION_STALL_MS);
        }),
      ]);
      clearTimeout(timer);
      if (failure) run.failures.push(`#${i}: ${failure}`);
      run.done++;
      if (run.done >= downAfter && !downing)
        downing = (async () => {
          const path = await carryingPath(session);
          run.down = { pathId: path.id, doneAtDown: run.done };
          await session.setPathDown(path.id, true);
        })().catch((err: Error) => {
          run.failures.push(`taking a path down: ${err.message}`);
        });
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  await downing;
  t.teardown(async () => {
    if (run.down) await session.setPathDown(run.down.pathId, false).catch(() => undefined);
  });
  return run;
}

function check(t: Test, run: Run, what: string): void {
  t.same(run.failures, [], `every ${what} completed with the right body`);
  t.ok(run.down, 'a path was taken down mid-run');
  const downed = run.down!.pathId;
  t.ok(
    run.failovers.some((f) => f.from === downed && f.to !== downed),
    `a failover moved the data off path ${downed} (${JSON.stringify(run.failovers)})`,
  );
  t.ok(
    run.done >= run.down!.doneAtDown + AFTER_DOWN_MIN,
    `${run.done - run.down!.doneAtDown} ${what}s completed after the path went down`,
  );
}

for (const mode of MODES as Mode[]) {
  t.test(`${mode}: node:http requests keep working while a path fails`, async (t) => {
    const { a, b } = await pair(t, mode, { protocol: { scheduler: 'active-backup' } });
    await httpOverBraid(t, a, 'http');
    const session = await fourPaths(b, a.eid);
    const agent = new BraidAgent(b, a.eid, 'http', { maxSockets: 4 });
    t.teardown(() => agent.destroy());
    const run = await loopThroughFailover(t, session, 4, 20, async (i) => {
      const body = content(128 * 1024, i);
      const reply = await request({ method: 'POST', path: '/echo', agent }, body).catch(
        (err: Error) => err,
      );
      if (reply instanceof Error) return `request failed: ${reply.message}`;
      if (reply.status !== 200) return `status ${reply.status}`;
      if (sha(reply.body) !== sha(body)) return 'wrong body';
      return undefined;
    });
    check(t, run, 'request');
  });

  t.test(`${mode}: a ws message loop keeps working while a path fails`, async (t) => {
    const { a, b } = await pair(t, mode, { protocol: { scheduler: 'active-backup' } });
    const wss = new WebSocketServer({ noServer: true });
    t.teardown(() => new Promise((resolve) => wss.close(resolve)));
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data as Buffer)));
    const { http: httpServer } = await httpOverBraid(t, a, 'ws');
    httpServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
    );
    const session = await fourPaths(b, a.eid);
    const ws = new WebSocket('ws://braid.invalid/', {
      createConnection: () => connect({ client: b, peer: a.eid, service: 'ws' }),
    });
    t.teardown(() => ws.terminate());
    await once(ws, 'open');
    // Replies come back in order on the one connection: a queue of expected hashes.
    const waiting: { expect: string; settle: (failure: string | undefined) => void }[] = [];
    ws.on('message', (data) => {
      const w = waiting.shift();
      w?.settle(w.expect === sha(data as Buffer) ? undefined : 'wrong message');
    });
    ws.on('close', () => {
      for (const w of waiting.splice(0)) w.settle('the WebSocket closed');
    });
    const run = await loopThroughFailover(t, session, 8, 100, (i) => {
      const message = content(32 * 1024, i);
      return new Promise<string | undefined>((settle) => {
        waiting.push({ expect: sha(message), settle });
        ws.send(message);
      });
    });
    check(t, run, 'message');
  });
}
