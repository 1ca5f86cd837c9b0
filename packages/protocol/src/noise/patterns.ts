import { UnsupportedPatternError } from '../errors.js';

/** A message-pattern token (Noise §7.1, §9.1 for `psk`). */
export type NoiseToken = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk';
/** Tokens allowed in a pre-message (Noise §7.1). */
export type NoisePreMessageToken = 'e' | 's';

/** A handshake pattern with its modifiers applied, ready for a HandshakeState. */
export interface HandshakePattern {
  /** Full pattern name with modifiers, e.g. `IKpsk2`. */
  readonly name: string;
  /** Pre-message sent (out of band) by the initiator, then the responder's (Noise §7.1). */
  readonly initiatorPreMessage: readonly NoisePreMessageToken[];
  readonly responderPreMessage: readonly NoisePreMessageToken[];
  /** Message patterns; even indexes are initiator→responder, odd ones responder→initiator. */
  readonly messages: readonly (readonly NoiseToken[])[];
  /** One-way patterns (Noise §7.4) have a single initiator→responder message. */
  readonly oneWay: boolean;
  /** Number of `psk` tokens, hence of PSKs the HandshakeState needs (Noise §9). */
  readonly pskCount: number;
}

/** The one suite this implementation speaks (DESIGN: Noise over libsodium). */
export const NOISE_DH = '25519';
export const NOISE_CIPHER = 'ChaChaPoly';
export const NOISE_HASH = 'BLAKE2b';

export interface NoiseProtocolName {
  /** The name as given, e.g. `Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b`. */
  readonly protocolName: string;
  /** Pattern with modifiers, e.g. `IKpsk2`. */
  readonly pattern: string;
  /** Pattern without modifiers, e.g. `IK`. */
  readonly basePattern: string;
  /** Modifiers in the order written, e.g. `['psk0', 'psk2']` (Noise §10.2). */
  readonly modifiers: readonly string[];
  readonly dh: typeof NOISE_DH;
  readonly cipher: typeof NOISE_CIPHER;
  readonly hash: typeof NOISE_HASH;
  readonly handshake: HandshakePattern;
}

/**
 * The pattern table, in the spec's own notation so that it can be checked against the text
 * line by line: pre-message lines, then `...`, then message lines. Every line starts with the
 * direction (`->` initiator to responder, `<-` responder to initiator).
 */
const PATTERN_TABLE: Readonly<Record<string, readonly string[]>> = {
  // Noise §7.4 one-way patterns.
  N: ['<- s', '...', '-> e, es'],
  K: ['-> s', '<- s', '...', '-> e, es, ss'],
  X: ['<- s', '...', '-> e, es, s, ss'],

  // Noise §7.5 fundamental interactive patterns.
  NN: ['-> e', '<- e, ee'],
  NK: ['<- s', '...', '-> e, es', '<- e, ee'],
  NX: ['-> e', '<- e, ee, s, es'],
  KN: ['-> s', '...', '-> e', '<- e, ee, se'],
  KK: ['-> s', '<- s', '...', '-> e, es, ss', '<- e, ee, se'],
  KX: ['-> s', '...', '-> e', '<- e, ee, se, s, es'],
  XN: ['-> e', '<- e, ee', '-> s, se'],
  XK: ['<- s', '...', '-> e, es', '<- e, ee', '-> s, se'],
  XX: ['-> e', '<- e, ee, s, es', '-> s, se'],
  IN: ['-> e, s', '<- e, ee, se'],
  IK: ['<- s', '...', '-> e, es, s, ss', '<- e, ee, se'],
  IX: ['-> e, s', '<- e, ee, se, s, es'],

  // Noise §18.2 deferred patterns: a `1` defers the initiator's (first letter) or responder's
  // (second letter) static-key authentication DH to the next message.
  NK1: ['<- s', '...', '-> e', '<- e, ee, es'],
  NX1: ['-> e', '<- e, ee, s', '-> es'],
  X1N: ['-> e', '<- e, ee', '-> s', '<- se'],
  X1K: ['<- s', '...', '-> e, es', '<- e, ee', '-> s', '<- se'],
  XK1: ['<- s', '...', '-> e', '<- e, ee, es', '-> s, se'],
  X1K1: ['<- s', '...', '-> e', '<- e, ee, es', '-> s', '<- se'],
  X1X: ['-> e', '<- e, ee, s, es', '-> s', '<- se'],
  XX1: ['-> e', '<- e, ee, s', '-> es, s, se'],
  X1X1: ['-> e', '<- e, ee, s', '-> es, s', '<- se'],
  K1N: ['-> s', '...', '-> e', '<- e, ee', '-> se'],
  K1K: ['-> s', '<- s', '...', '-> e, es', '<- e, ee', '-> se'],
  KK1: ['-> s', '<- s', '...', '-> e', '<- e, ee, se, es'],
  K1K1: ['-> s', '<- s', '...', '-> e', '<- e, ee, es', '-> se'],
  K1X: ['-> s', '...', '-> e', '<- e, ee, s, es', '-> se'],
  KX1: ['-> s', '...', '-> e', '<- e, ee, se, s', '-> es'],
  K1X1: ['-> s', '...', '-> e', '<- e, ee, s', '-> se, es'],
  I1N: ['-> e, s', '<- e, ee', '-> se'],
  I1K: ['<- s', '...', '-> e, es, s', '<- e, ee', '-> se'],
  IK1: ['<- s', '...', '-> e, s', '<- e, ee, se, es'],
  I1K1: ['<- s', '...', '-> e, s', '<- e, ee, es', '-> se'],
  I1X: ['-> e, s', '<- e, ee, s, es', '-> se'],
  IX1: ['-> e, s', '<- e, ee, se, s', '-> es'],
  I1X1: ['-> e, s', '<- e, ee, s', '-> se, es'],
};

/** Names of the base patterns this implementation knows, in spec order. */
export const NOISE_BASE_PATTERNS: readonly string[] = Object.keys(PATTERN_TABLE);

const MESSAGE_TOKENS = new Set<string>(['e', 's', 'ee', 'es', 'se', 'ss']);
const PRE_MESSAGE_TOKENS = new Set<string>(['e', 's']);

interface ParsedLine {
  fromInitiator: boolean;
  tokens: string[];
}

function parseLine(pattern: string, line: string): ParsedLine {
  const match = /^(->|<-)\s*(.*)$/.exec(line);
  if (!match) throw new Error(`pattern table: bad line '${line}' in ${pattern}`);
  const tokens = match[2]!.split(',').map((token) => token.trim());
  return { fromInitiator: match[1] === '->', tokens: tokens.filter((t) => t.length > 0) };
}

function buildBasePattern(base: string, lines: readonly string[]): HandshakePattern {
  const separator = lines.indexOf('...');
  const preLines = separator < 0 ? [] : lines.slice(0, separator).map((l) => parseLine(base, l));
  const messageLines = lines.slice(separator + 1).map((l) => parseLine(base, l));
  // The table is static data: a malformed entry is a programming error, not an input error.
  const initiatorPre = preLines.filter((l) => l.fromInitiator).flatMap((l) => l.tokens);
  const responderPre = preLines.filter((l) => !l.fromInitiator).flatMap((l) => l.tokens);
  for (const token of [...initiatorPre, ...responderPre])
    if (!PRE_MESSAGE_TOKENS.has(token))
      throw new Error(`pattern table: ${base} pre-message ${token}`);
  messageLines.forEach((line, index) => {
    // Noise §7.1: messages alternate, starting with the initiator.
    if (line.fromInitiator !== (index % 2 === 0))
      throw new Error(`pattern table: ${base} message ${index} has the wrong direction`);
    for (const token of line.tokens)
      if (!MESSAGE_TOKENS.has(token)) throw new Error(`pattern table: ${base} token ${token}`);
  });
  return {
    name: base,
    initiatorPreMessage: initiatorPre as NoisePreMessageToken[],
    responderPreMessage: responderPre as NoisePreMessageToken[],
    messages: messageLines.map((l) => l.tokens as NoiseToken[]),
    oneWay: messageLines.length === 1,
    pskCount: 0,
  };
}

/**
 * Applies `pskN` modifiers (Noise §9.2): `psk0` puts a `psk` token at the start of the first
 * message, `pskN` (N ≥ 1) at the end of the N-th message. Several may be combined with `+`
 * (§10.2, e.g. `psk0+psk2`); PSKs are then consumed in the order their tokens are processed.
 */
function applyPskModifiers(
  base: HandshakePattern,
  pattern: string,
  modifiers: readonly string[],
): HandshakePattern {
  const messages = base.messages.map((m) => [...m]);
  const seen = new Set<number>();
  for (const modifier of modifiers) {
    const match = /^psk(0|[1-9][0-9]*)$/.exec(modifier);
    if (!match)
      throw new UnsupportedPatternError(`unsupported Noise pattern modifier '${modifier}'`);
    const position = Number(match[1]);
    if (position > messages.length)
      throw new UnsupportedPatternError(
        `'${modifier}' is out of range: ${base.name} has ${messages.length} message(s)`,
      );
    if (seen.has(position)) throw new UnsupportedPatternError(`'${modifier}' is repeated`);
    seen.add(position);
    if (position === 0) messages[0]!.unshift('psk');
    else messages[position - 1]!.push('psk');
  }
  return { ...base, name: pattern, messages, pskCount: seen.size };
}

/** Resolves a pattern name with modifiers (e.g. `XXpsk3`) to its token sequences. */
export function resolveHandshakePattern(pattern: string): HandshakePattern {
  const match = /^([A-Z][A-Z0-9]*)([a-z][a-z0-9]*(?:\+[a-z][a-z0-9]*)*)?$/.exec(pattern);
  const lines = match ? PATTERN_TABLE[match[1]!] : undefined;
  if (!match || lines === undefined)
    throw new UnsupportedPatternError(`unsupported Noise handshake pattern '${pattern}'`);
  const base = buildBasePattern(match[1]!, lines);
  const modifiers = match[2] === undefined ? [] : match[2].split('+');
  return modifiers.length === 0 ? base : applyPskModifiers(base, pattern, modifiers);
}

/**
 * Parses `Noise_<pattern>_<dh>_<cipher>_<hash>` (Noise §8). Only the `25519_ChaChaPoly_BLAKE2b`
 * suite is supported; any other suite, pattern or modifier throws
 * {@link UnsupportedPatternError}.
 */
export function parseProtocolName(protocolName: string): NoiseProtocolName {
  const parts = protocolName.split('_');
  if (parts.length !== 5 || parts[0] !== 'Noise')
    throw new UnsupportedPatternError(`not a Noise protocol name: '${protocolName}'`);
  const [, pattern, dh, cipher, hash] = parts as [string, string, string, string, string];
  if (dh !== NOISE_DH || cipher !== NOISE_CIPHER || hash !== NOISE_HASH)
    throw new UnsupportedPatternError(
      `unsupported Noise suite ${dh}_${cipher}_${hash}; only ${NOISE_DH}_${NOISE_CIPHER}_${NOISE_HASH} is implemented`,
    );
  const handshake = resolveHandshakePattern(pattern);
  const basePattern = /^[A-Z][A-Z0-9]*/.exec(pattern)![0];
  const rest = pattern.slice(basePattern.length);
  return {
    protocolName,
    pattern,
    basePattern,
    modifiers: rest.length === 0 ? [] : rest.split('+'),
    dh: NOISE_DH,
    cipher: NOISE_CIPHER,
    hash: NOISE_HASH,
    handshake,
  };
}
