/**
 * The envelope of every frame. It is checked by hand rather than with a schema library: there
 * are eleven fixed shapes, one of them (`data`) on the hot path of every stream byte, and a few
 * `typeof` tests cost nothing there. What the envelopes carry — request parameters, results and
 * event bodies — is validated against the zod schemas of the protocol table (`schema.ts`).
 */
import { IpcMalformedError } from './errors.js';

/** The protocol version this package speaks. Bump on any incompatible change. */
export const IPC_PROTOCOL_VERSION = 1;

/**
 * Sent by both sides first, at once. Its shape (`t`, `v`) never changes between versions, so any
 * two versions can tell each other apart and say so.
 */
export interface HelloMessage {
  t: 'hello';
  /** Protocol version. */
  v: number;
  /** Software and version, for messages (`braidd 0.1.0`). */
  sw: string;
  /** Process id of the sender (the daemon's appears in "already running" errors). */
  pid: number;
  /** Receive window per stream the sender grants to start with, in bytes. */
  window: number;
}
export interface RequestMessage {
  t: 'req';
  id: number;
  m: string;
  p: unknown;
}
export type ResponseMessage =
  | { t: 'res'; id: number; ok: true; r: unknown; s?: number }
  | { t: 'res'; id: number; ok: false; e: ErrorBody };
export interface CancelMessage {
  t: 'cancel';
  id: number;
}
export interface EventMessage {
  t: 'evt';
  e: string;
  d: unknown;
  s?: number;
}
export interface DataMessage {
  t: 'data';
  s: number;
  b: Uint8Array;
}
export interface CreditMessage {
  t: 'credit';
  s: number;
  n: number;
}
export interface EndMessage {
  t: 'end';
  s: number;
}
export interface ResetMessage {
  t: 'reset';
  s: number;
  e: ErrorBody;
}
/** Sent before a side closes the connection because of an error, so the other can say why. */
export interface ByeMessage {
  t: 'bye';
  e: ErrorBody;
}
export interface ErrorBody {
  code: string;
  message: string;
}

export type Message =
  | HelloMessage
  | RequestMessage
  | ResponseMessage
  | CancelMessage
  | EventMessage
  | DataMessage
  | CreditMessage
  | EndMessage
  | ResetMessage
  | ByeMessage;

/** Longest method, event or error code name accepted. */
export const NAME_CHARS_MAX = 64;
/** Longest error message or software string accepted. */
export const TEXT_CHARS_MAX = 4096;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= NAME_CHARS_MAX;
}
function isText(v: unknown): v is string {
  return typeof v === 'string' && v.length <= TEXT_CHARS_MAX;
}
function isErrorBody(v: unknown): v is ErrorBody {
  return isRecord(v) && isName(v.code) && isText(v.message);
}

function bad(what: string): never {
  throw new IpcMalformedError(`malformed control message: ${what}`);
}

/**
 * Checks that a decoded value is one of the envelopes and returns it typed; throws
 * {@link IpcMalformedError} naming what is wrong. A `hello` is only checked for its version
 * here (the rest is checked once the versions agree).
 */
export function parseMessage(value: unknown): Message {
  if (!isRecord(value)) return bad('not a map');
  const t = value.t;
  switch (t) {
    case 'hello':
      if (!isId(value.v)) bad('hello without a version');
      return value as unknown as HelloMessage;
    case 'req':
      if (!isId(value.id)) bad('request id');
      if (!isName(value.m)) bad('request method');
      return value as unknown as RequestMessage;
    case 'res':
      if (!isId(value.id)) bad('response id');
      if (value.ok === true) {
        if (value.s !== undefined && !isId(value.s)) bad('response stream handle');
        return value as unknown as ResponseMessage;
      }
      if (value.ok === false && isErrorBody(value.e)) return value as unknown as ResponseMessage;
      return bad('response without ok/e');
    case 'cancel':
      if (!isId(value.id)) bad('cancel id');
      return value as unknown as CancelMessage;
    case 'evt':
      if (!isName(value.e)) bad('event name');
      if (value.s !== undefined && !isId(value.s)) bad('event stream handle');
      return value as unknown as EventMessage;
    case 'data':
      if (!isId(value.s)) bad('data stream handle');
      if (!(value.b instanceof Uint8Array) || value.b.length === 0) bad('data without bytes');
      return value as unknown as DataMessage;
    case 'credit':
      if (!isId(value.s)) bad('credit stream handle');
      if (!isId(value.n) || value.n === 0) bad('credit amount');
      return value as unknown as CreditMessage;
    case 'end':
      if (!isId(value.s)) bad('end stream handle');
      return value as unknown as EndMessage;
    case 'reset':
      if (!isId(value.s)) bad('reset stream handle');
      if (!isErrorBody(value.e)) bad('reset without error');
      return value as unknown as ResetMessage;
    case 'bye':
      if (!isErrorBody(value.e)) bad('bye without error');
      return value as unknown as ByeMessage;
    default:
      return bad(`unknown type ${JSON.stringify(typeof t === 'string' ? t.slice(0, 32) : t)}`);
  }
}

/** Checks the rest of a hello whose version matched. */
export function checkHello(hello: HelloMessage): HelloMessage {
  if (!isText(hello.sw)) bad('hello software');
  if (!isId(hello.pid)) bad('hello pid');
  if (!isId(hello.window) || hello.window === 0) bad('hello window');
  return hello;
}
