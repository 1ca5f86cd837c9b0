/**
 * Prometheus metrics (prom-client) in a registry of the daemon's own (not the global one, so two
 * daemons in one process — tests, the demo — do not mix), served over HTTP on a loopback address
 * when enabled. Gauges and counters that mirror the endpoint's own counters are refreshed once per
 * scrape; failovers and refused peers are counted as they happen.
 *
 * Names follow Prometheus conventions: base units (`_seconds`, `_bytes`), `_total` on counters,
 * `_ratio` for fractions. Per-path series carry `session` (its short id) and `path` (path id).
 */
import { createServer, type Server } from 'node:http';
import { formatLocator, parseLocator, type UdpEndpointStats } from '@braid/endpoint';
import type { PathStats } from '@braid/protocol';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { MetricsListenError } from './errors.js';

/** What the metrics read at scrape time. */
export interface MetricsSource {
  endpointStats(): UdpEndpointStats;
  /** Open sessions with their paths. */
  sessions(): Promise<{ id: string; suspended: boolean; paths: PathStats[] }[]>;
}

/** Path states exported as `braid_path_state{state=…}`. */
export const PATH_STATES = ['validating', 'active', 'standby', 'suspect', 'down'] as const;

/** Sessions whose paths are exported at most (beyond, only the totals): bounds the series count. */
export const METRICS_SESSIONS_MAX = 256;

/** The FEC repair count of a path, under whichever name the protocol gives it (if any). */
export function fecRepairedPackets(p: PathStats): number | undefined {
  const record = p as unknown as Record<string, unknown>;
  for (const key of ['fecRepairedPackets', 'fecRepaired', 'repairedPackets', 'packetsRepaired']) {
    const v = record[key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  const fec = record.fec;
  if (typeof fec === 'object' && fec !== null) {
    for (const key of ['repairedPackets', 'repaired', 'packetsRepaired']) {
      const v = (fec as Record<string, unknown>)[key];
      if (typeof v === 'number' && Number.isFinite(v)) return v;
    }
  }
  return undefined;
}

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly sessions: Gauge;
  private readonly sessionsSuspended: Gauge;
  private readonly pathRtt: Gauge;
  private readonly pathLoss: Gauge;
  private readonly pathCwnd: Gauge;
  private readonly pathInFlight: Gauge;
  private readonly pathState: Gauge;
  private readonly pathSent: Counter;
  private readonly pathReceived: Counter;
  private readonly pathLost: Counter;
  private readonly pathFec: Counter;
  private readonly sentBytes: Counter;
  private readonly receivedBytes: Counter;
  private readonly sentDatagrams: Counter;
  private readonly receivedDatagrams: Counter;
  private readonly handshakes: Counter;
  private readonly rejected: Counter;
  private readonly errors: Counter;
  private readonly fecRepaired: Counter;
  readonly failovers: Counter;
  readonly peersRefused: Counter;
  readonly controlConnections: Gauge;
  readonly controlErrors: Counter;
  private server: Server | undefined;

  constructor(
    private readonly source: MetricsSource,
    info: { eid: string; version: string },
  ) {
    const registers = [this.registry];
    const pathLabels = ['session', 'path'];
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers });
    const counter = (name: string, help: string, labelNames: string[] = []) =>
      new Counter({ name, help, labelNames, registers });
    collectDefaultMetrics({ register: this.registry });
    gauge('braid_info', 'This daemon: its EID and version (value 1).', ['eid', 'version']).set(
      { eid: info.eid, version: info.version },
      1,
    );
    this.sessions = gauge('braid_sessions', 'Sessions open (any state).');
    this.sessionsSuspended = gauge('braid_sessions_suspended', 'Sessions with every path down.');
    this.pathRtt = gauge('braid_path_rtt_seconds', 'Smoothed RTT of a path.', pathLabels);
    this.pathLoss = gauge(
      'braid_path_loss_ratio',
      'Packets declared lost over packets acknowledged or lost, since the path was added.',
      pathLabels,
    );
    this.pathCwnd = gauge('braid_path_cwnd_bytes', 'Congestion window of a path.', pathLabels);
    this.pathInFlight = gauge(
      'braid_path_bytes_in_flight',
      'Bytes sent on a path and not yet acknowledged or lost.',
      pathLabels,
    );
    this.pathState = gauge(
      'braid_path_state',
      'State of a path: 1 for its current state, 0 for the others.',
      [...pathLabels, 'state'],
    );
    this.pathSent = counter('braid_path_sent_bytes_total', 'Bytes sent on a path.', pathLabels);
    this.pathReceived = counter(
      'braid_path_received_bytes_total',
      'Bytes received on a path.',
      pathLabels,
    );
    this.pathLost = counter('braid_path_lost_packets_total', 'Packets lost on a path.', pathLabels);
    this.pathFec = counter(
      'braid_path_fec_repaired_packets_total',
      'Packets recovered by FEC on a path (absent while the protocol does not report it).',
      pathLabels,
    );
    this.sentBytes = counter('braid_sent_bytes_total', 'UDP payload bytes sent.');
    this.receivedBytes = counter('braid_received_bytes_total', 'UDP payload bytes received.');
    this.sentDatagrams = counter('braid_sent_datagrams_total', 'UDP datagrams sent.');
    this.receivedDatagrams = counter('braid_received_datagrams_total', 'UDP datagrams received.');
    this.handshakes = counter(
      'braid_handshakes_total',
      'Handshakes by outcome: started (as initiator), accepted (as responder), completed, failed.',
      ['result'],
    );
    this.rejected = counter(
      'braid_rejected_datagrams_total',
      'Received datagrams dropped, by reason (docs/protocol.md).',
      ['reason'],
    );
    this.errors = counter(
      'braid_errors_total',
      'Runtime errors: send (socket send failures), unroutable (datagrams for a removed address), internal.',
      ['kind'],
    );
    this.fecRepaired = counter(
      'braid_fec_repaired_packets_total',
      'Packets recovered by FEC, all sessions (absent while the protocol does not report it).',
    );
    this.failovers = counter('braid_failovers_total', 'Failovers: data moved off a failed path.');
    this.peersRefused = counter(
      'braid_peers_refused_total',
      'Handshakes refused because the peer is not on the allowlist.',
    );
    this.controlConnections = gauge('braid_control_connections', 'Control clients connected.');
    this.controlErrors = counter(
      'braid_control_errors_total',
      'Control connections closed on an error, by code.',
      ['code'],
    );
  }

  /** Refreshes every mirrored value from the endpoint (once per scrape). */
  async update(): Promise<void> {
    const s = this.source.endpointStats();
    const set = (c: Counter, v: number, labels?: Record<string, string>) => {
      if (labels) c.inc(labels, Math.max(0, v));
      else c.inc(Math.max(0, v));
    };
    for (const c of [
      this.sentBytes,
      this.receivedBytes,
      this.sentDatagrams,
      this.receivedDatagrams,
    ])
      c.reset();
    set(this.sentBytes, s.bytesSent);
    set(this.receivedBytes, s.bytesReceived);
    set(this.sentDatagrams, s.datagramsSent);
    set(this.receivedDatagrams, s.datagramsReceived);
    this.handshakes.reset();
    set(this.handshakes, s.handshakesStarted, { result: 'started' });
    set(this.handshakes, s.handshakesAccepted, { result: 'accepted' });
    set(this.handshakes, s.handshakesCompleted, { result: 'completed' });
    set(this.handshakes, s.handshakesFailed, { result: 'failed' });
    this.rejected.reset();
    for (const [reason, n] of Object.entries(s.rejected)) set(this.rejected, n, { reason });
    this.errors.reset();
    set(this.errors, s.sendErrors, { kind: 'send' });
    set(this.errors, s.unroutableTransmits, { kind: 'unroutable' });
    set(this.errors, s.internalErrors, { kind: 'internal' });

    const sessions = await this.source.sessions();
    this.sessions.set(s.sessionsOpen);
    this.sessionsSuspended.set(sessions.filter((x) => x.suspended).length);
    const perPath = [
      this.pathRtt,
      this.pathLoss,
      this.pathCwnd,
      this.pathInFlight,
      this.pathState,
      this.pathSent,
      this.pathReceived,
      this.pathLost,
      this.pathFec,
      this.fecRepaired,
    ];
    for (const m of perPath) m.reset();
    let fecTotal: number | undefined;
    for (const session of sessions.slice(0, METRICS_SESSIONS_MAX)) {
      for (const p of session.paths) {
        const labels = { session: session.id, path: String(p.id) };
        this.pathRtt.set(labels, p.rttMs / 1000);
        this.pathLoss.set(labels, p.lossRate);
        this.pathCwnd.set(labels, p.cwndBytes);
        this.pathInFlight.set(labels, p.bytesInFlight);
        for (const state of PATH_STATES)
          this.pathState.set({ ...labels, state }, p.status === state ? 1 : 0);
        set(this.pathSent, p.bytesSent, labels);
        set(this.pathReceived, p.bytesReceived, labels);
        set(this.pathLost, p.packetsLost, labels);
        const fec = fecRepairedPackets(p);
        if (fec !== undefined) {
          set(this.pathFec, fec, labels);
          fecTotal = (fecTotal ?? 0) + fec;
        }
      }
    }
    if (fecTotal !== undefined) set(this.fecRepaired, fecTotal);
  }

  /** The exposition text (after a refresh). */
  async scrape(): Promise<string> {
    await this.update();
    return this.registry.metrics();
  }

  /** Starts the HTTP listener; resolves with its URL. */
  async listen(locator: string): Promise<string> {
    const { host, port, family } = parseLocator(locator);
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
        return;
      }
      this.scrape().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: Error) =>
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.maxConnections = 16;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new MetricsListenError(
            `metrics: cannot listen on ${locator}: ${err.code === 'EADDRINUSE' ? 'the address and port are already in use' : (err.code ?? err.message)} (set metrics.listen to a free address, or metrics.enabled to false)`,
            { cause: err },
          ),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const address = server.address();
    const boundPort = typeof address === 'object' && address ? address.port : port;
    return `http://${formatLocator(host, boundPort, family)}/metrics`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
