/**
 * How to start the lab's peer programs inside a namespace: the Node ones from this directory
 * (compiled `.js` under test/dist, or the `.ts` sources through tsx when this module itself runs
 * from source, as `pnpm bench` does), and the MPTCP baseline with the system's python3.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabStateError } from './errors.js';
import { run } from './command.js';
import type { HostName, Lab, LabSupport } from './lab.js';
import { PeerProcess } from './peer-process.js';

export interface Program {
  readonly command: string;
  readonly args: readonly string[];
}

const here = dirname(fileURLToPath(import.meta.url));
const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');

/** A Node script of scripts/netns (`udp-probe`, `braid-peer`), with its arguments. */
export function labScript(name: string, args: readonly string[] = []): Program {
  if (!/^[a-z-]+$/.test(name)) throw new LabStateError(`no lab script "${name}"`);
  if (fromSource) {
    // Absolute, so the namespace process finds tsx whatever its working directory.
    const tsx = import.meta.resolve('tsx');
    return {
      command: process.execPath,
      args: ['--import', tsx, join(here, `${name}.ts`), ...args],
    };
  }
  return { command: process.execPath, args: [join(here, `${name}.js`), ...args] };
}

/** The repository's root: the directory holding pnpm-workspace.yaml above this module. */
export function repoRoot(): string {
  let dir = here;
  for (let depth = 0; depth < 8; depth++) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    dir = dirname(dir);
  }
  throw new LabStateError(`no pnpm-workspace.yaml above ${here}`);
}

/** Debian's python3: its socket module has IPPROTO_MPTCP (3.10+). */
export const PYTHON = '/usr/bin/python3';

/**
 * Writes a braidd config into `dir` (created owner-only): the given UDP locators, its identity
 * and control socket in that directory, warnings only in the log. Returns the control socket's
 * path and the program that runs braidd with it.
 */
export async function braiddConfig(
  dir: string,
  bind: readonly string[],
  allow: 'open' | 'configured',
  scheduler: 'aggregate' | 'active-backup',
): Promise<{ socketPath: string; program: Program }> {
  await mkdir(dir, { mode: 0o700 });
  const socketPath = join(dir, 'braidd.sock');
  const configPath = join(dir, 'braidd.json');
  const config = {
    stateDir: dir,
    socketPath,
    bind,
    allow,
    log: { level: 'warn', format: 'json' },
    protocol: { scheduler },
  };
  await writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  return { socketPath, program: braiddProgram(['--config', configPath]) };
}

/** The kernel-MPTCP baseline peer, bench/mptcp/mptcp-peer.py. */
export function mptcpPeer(args: readonly string[]): Program {
  return { command: PYTHON, args: [join(repoRoot(), 'bench', 'mptcp', 'mptcp-peer.py'), ...args] };
}

/** Starts `program` in `host`'s namespace of `lab` and reads it as a lab peer. */
export function startPeer(lab: Lab, host: HostName, program: Program, label: string): PeerProcess {
  return new PeerProcess(label, lab.spawn(host, program.command, program.args));
}

let mptcp: Promise<LabSupport> | undefined;

/**
 * Whether the MPTCP baseline can run: Debian's python3 with socket.IPPROTO_MPTCP, and a kernel
 * that gives out MPTCP sockets. Checked once per process.
 */
export function mptcpSupport(): Promise<LabSupport> {
  mptcp ??= (async (): Promise<LabSupport> => {
    if (!existsSync(PYTHON))
      return { ok: false, reason: `${PYTHON} not found (apt-get install python3)` };
    try {
      await run(PYTHON, [
        '-c',
        'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_MPTCP).close()',
      ]);
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: `no kernel MPTCP from python3: ${(err as Error).message}` };
    }
  })();
  return mptcp;
}

/** braidd (packages/cli/bin/braidd.js, built), with its arguments. */
export function braiddProgram(args: readonly string[]): Program {
  return {
    command: process.execPath,
    args: [join(repoRoot(), 'packages', 'cli', 'bin', 'braidd.js'), ...args],
  };
}

/** The `braid` command (packages/cli/bin/braid.js, built), with its arguments. */
export function braidProgram(args: readonly string[]): Program {
  return {
    command: process.execPath,
    args: [join(repoRoot(), 'packages', 'cli', 'bin', 'braid.js'), ...args],
  };
}
