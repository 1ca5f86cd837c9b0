/**
 * `braid init` and the offline half of `braid id`: a state directory with braidd's identity key
 * and a config file, built and validated with the daemon's own schema and key store.
 */
import { mkdir, open, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  DEFAULT_PORT,
  loadConfig,
  loadIdentity,
  loadOrCreateIdentity,
  parseConfig,
  type ConfigFile,
  type DaemonConfig,
} from '@braid/daemon';
import { createSodiumCrypto } from '@braid/protocol';

/** The config file `braid init` writes in the state directory. */
export const CONFIG_FILE_NAME = 'braidd.json';

export interface InitOptions {
  /** State directory. Default: braidd's (`$STATE_DIRECTORY`, `$XDG_STATE_HOME/braid`, `~/.local/state/braid`). */
  dir?: string | undefined;
  env: Record<string, string | undefined>;
  /** Locators to bind. Default: every local address on port {@link DEFAULT_PORT}. */
  bind?: string[] | undefined;
  /** Accept sessions from any peer (default: configured peers only). */
  open: boolean;
  /** Rewrite an existing config file. The identity key is never replaced. */
  force: boolean;
}

export interface InitResult {
  eid: string;
  dir: string;
  configPath: string;
  identityKeyPath: string;
  socketPath: string;
  identityCreated: boolean;
  configWritten: boolean;
}

export async function initNode(options: InitOptions): Promise<InitResult> {
  const env = options.env;
  const dir = resolve(options.dir ?? parseConfig({}, { env }).stateDir);
  const configPath = join(dir, CONFIG_FILE_NAME);
  const exists = await pathExists(configPath);
  let config: DaemonConfig;
  let configWritten = false;
  if (exists && !options.force) {
    config = await loadConfig(configPath, { env });
  } else {
    const file: ConfigFile = {
      stateDir: dir,
      bind: options.bind ?? { all: true, port: DEFAULT_PORT },
      allow: options.open ? 'open' : 'configured',
      peers: [],
      log: { level: 'info', format: 'auto' },
    };
    config = parseConfig(file, { source: configPath, env }); // the daemon's schema, before writing
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeOwnerOnly(configPath, `${JSON.stringify(file, null, 2)}\n`);
    configWritten = true;
  }
  const crypto = await createSodiumCrypto();
  const stored = await loadOrCreateIdentity(config.identityKeyPath, crypto);
  return {
    eid: stored.identity.eid.toString(),
    dir,
    configPath,
    identityKeyPath: config.identityKeyPath,
    socketPath: config.socketPath,
    identityCreated: stored.created,
    configWritten,
  };
}

/** The EID of the identity key a config names (or the default key), without a daemon. */
export async function readNodeEid(options: {
  configPath?: string;
  env: Record<string, string | undefined>;
}): Promise<string> {
  const config =
    options.configPath !== undefined
      ? await loadConfig(options.configPath, { env: options.env })
      : parseConfig({}, { env: options.env });
  const identity = await loadIdentity(config.identityKeyPath, await createSodiumCrypto());
  return identity.eid.toString();
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Writes (or replaces) a file readable by its owner only. */
async function writeOwnerOnly(path: string, text: string): Promise<void> {
  const handle = await open(path, 'w', 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}
