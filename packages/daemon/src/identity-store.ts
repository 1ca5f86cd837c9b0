/**
 * The daemon's identity key: created on first start, kept owner-only (0600), refused if group or
 * others may read it. The file is a small JSON document with the secret key and, for people, the
 * EID it gives; the EID is checked on load, so a damaged key is caught, not silently used.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  identityFromSecretKey,
  X25519_KEY_BYTES,
  type CryptoProvider,
  type Identity,
} from '@braid/protocol';
import { KeyFileAccessError, KeyFileCorruptError, KeyFileModeError } from './errors.js';

/** Largest key file read (it is about 150 bytes). */
export const KEY_FILE_BYTES_MAX = 4096;
const KEY_FILE_TYPE = 'braid-identity';
const KEY_FILE_VERSION = 1;

export interface StoredIdentity {
  identity: Identity;
  /** Whether this start created the key. */
  created: boolean;
  path: string;
}

function modeText(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

function accessError(path: string, what: string, err: unknown): KeyFileAccessError {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new KeyFileAccessError(`identity key ${path}: cannot ${what} (${code})`, { cause: err });
}

/** Loads the identity key at `path`, creating it (and its directory, 0700) if it does not exist. */
export async function loadOrCreateIdentity(
  path: string,
  crypto: CryptoProvider,
): Promise<StoredIdentity> {
  try {
    return { identity: await loadIdentity(path, crypto), created: false, path };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw accessError(path, 'create its directory', err);
  }
  const identity = identityFromSecretKey(crypto, randomBytes(X25519_KEY_BYTES));
  const body =
    JSON.stringify(
      {
        type: KEY_FILE_TYPE,
        version: KEY_FILE_VERSION,
        eid: identity.eid.toString(),
        secretKey: Buffer.from(identity.secretKey).toString('base64'),
      },
      null,
      2,
    ) + '\n';
  let handle;
  try {
    // O_EXCL: if another process created it meanwhile, use theirs.
    handle = await open(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      return { identity: await loadIdentity(path, crypto), created: false, path };
    throw accessError(path, 'create it', err);
  }
  try {
    await handle.writeFile(body);
    await handle.sync();
  } catch (err) {
    throw accessError(path, 'write it', err);
  } finally {
    await handle.close();
  }
  return { identity, created: true, path };
}

/** Loads an existing key file; ENOENT is passed through as it is. */
export async function loadIdentity(path: string, crypto: CryptoProvider): Promise<Identity> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
    throw accessError(path, 'read it', err);
  }
  if (!st.isFile()) throw new KeyFileCorruptError(`identity key ${path} is not a regular file`);
  if ((st.mode & 0o077) !== 0)
    throw new KeyFileModeError(
      `identity key ${path} is accessible by group or others (mode ${modeText(st.mode)}); run: chmod 600 ${path}`,
    );
  if (st.size > KEY_FILE_BYTES_MAX)
    throw new KeyFileCorruptError(
      `identity key ${path} is corrupt (${st.size} bytes, a key file is under ${KEY_FILE_BYTES_MAX}); move it away to create a new identity (a new EID)`,
    );
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw accessError(path, 'read it', err);
  }
  const corrupt = (why: string) =>
    new KeyFileCorruptError(
      `identity key ${path} is corrupt (${why}); restore it from a backup, or move it away to create a new identity (a new EID)`,
    );
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw corrupt('not JSON');
  }
  if (typeof doc !== 'object' || doc === null) throw corrupt('not a JSON object');
  const d = doc as Record<string, unknown>;
  if (d.type !== KEY_FILE_TYPE) throw corrupt(`"type" is not "${KEY_FILE_TYPE}"`);
  if (d.version !== KEY_FILE_VERSION) throw corrupt(`unknown version ${JSON.stringify(d.version)}`);
  if (typeof d.secretKey !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(d.secretKey))
    throw corrupt('"secretKey" is not base64');
  const secret = Buffer.from(d.secretKey, 'base64');
  if (secret.length !== X25519_KEY_BYTES)
    throw corrupt(`"secretKey" is ${secret.length} bytes, expected ${X25519_KEY_BYTES}`);
  const identity = identityFromSecretKey(crypto, secret);
  if (d.eid !== undefined && d.eid !== identity.eid.toString())
    throw corrupt(
      `"eid" ${String(d.eid)} does not match the key, which gives ${identity.eid.toString()}`,
    );
  return identity;
}
