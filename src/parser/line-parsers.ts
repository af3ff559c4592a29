import { decodeLossless, encodeLossless, goQuote, goTrimLeft, isGoSpace } from './go-text';
import { LineParseError } from './errors';

/**
 * Per-instruction argument parsers: BuildKit's `line_parsers.go` rules, producing the argument chain that its AST
 * holds (see the dump format). Quotes are kept; expansion and quote removal happen later with the shell lexer.
 */

export interface ParsedArgs {
  args: string[];
  json: boolean;
}

const WHITESPACE = /[\t\v\f\r ]+/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const NONE: ParsedArgs = { args: [], json: false };

export const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

/** Words separated by blanks, with quotes and escape characters kept in the words (ARG, ENV/LABEL pairs). */
export function parseWords(rest: string, escapeToken: string): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let word = '';
  let blankOK = false;
  for (let i = 0; i <= chars.length; i++) {
    const atEnd = i === chars.length;
    let ch = atEnd ? '' : chars[i];
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isGoSpace(ch.codePointAt(0) as number)) continue;
      phase = 'word';
    }
    if (atEnd) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isGoSpace(ch.codePointAt(0) as number)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escapeToken) {
        if (i + 1 === chars.length) continue; // an escape token at the very end is dropped
        // Unquoted, the escape token and the character after it are both kept, even a quote.
        word += ch;
        ch = chars[++i];
      }
      word += ch;
      continue;
    }
    // Inside quotes; an escaped character never closes them, and nothing can be escaped inside '…'.
    if (ch === quote) phase = 'word';
    if (ch === escapeToken && quote !== "'") {
      if (i + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      ch = chars[++i];
    }
    word += ch;
  }
  return words;
}

/** ENV and LABEL: the legacy `KEY value` form, or `k=v` pairs; key/value/separator triples. */
export function parseNameVal(rest: string, instruction: 'ENV' | 'LABEL', escapeToken: string): ParsedArgs {
  const words = parseWords(rest, escapeToken);
  if (words.length === 0) return NONE;
  if (!words[0].includes('=')) {
    const match = WHITESPACE.exec(rest);
    if (!match) throw new LineParseError(`${instruction} must have two arguments`);
    return { args: [rest.slice(0, match.index), rest.slice(match.index + match[0].length), ''], json: false };
  }
  const args: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) {
      throw new LineParseError(
        `Syntax error - can't find = in ${goQuote(word)}. Must be of the form: name=value`,
      );
    }
    args.push(word.slice(0, eq), word.slice(eq + 1), '=');
  }
  return { args, json: false };
}

/** ARG: each word as written. */
export function parseNameOrNameVal(rest: string, escapeToken: string): ParsedArgs {
  return { args: parseWords(rest, escapeToken), json: false };
}

/** FROM, EXPOSE (and the shell form of ADD/COPY/VOLUME): split on blanks, quotes kept. */
export function parseWhitespaceDelimited(rest: string): ParsedArgs {
  if (rest === '') return NONE;
  return { args: rest.split(WHITESPACE), json: false };
}

/** MAINTAINER, USER, WORKDIR, STOPSIGNAL: one string. */
export function parseString(rest: string): ParsedArgs {
  return rest === '' ? NONE : { args: [rest], json: false };
}

type JsonOutcome = { kind: 'array'; values: string[] } | { kind: 'not-json' } | { kind: 'not-strings' };

/**
 * Exec form: the rest (leading blanks ignored) must start with `[` and be one complete JSON value (Go's
 * `json.Unmarshal`: trailing text is an error). Any JSON error means "not exec form"; a valid array holding
 * something other than strings is a hard error.
 */
export function parseJsonArray(rest: string): JsonOutcome {
  const text = goTrimLeft(rest);
  if (!text.startsWith('[')) return { kind: 'not-json' };
  let value: unknown;
  let overflow = false;
  try {
    value = JSON.parse(text, (_key, v: unknown) => {
      // Go fails to unmarshal a number that overflows float64; JavaScript gives Infinity.
      if (typeof v === 'number' && !Number.isFinite(v)) overflow = true;
      return v;
    });
  } catch {
    return { kind: 'not-json' };
  }
  if (overflow || !Array.isArray(value)) return { kind: 'not-json' };
  if (!value.every((v): v is string => typeof v === 'string')) return { kind: 'not-strings' };
  // Go decodes invalid UTF-8 and lone surrogate escapes in JSON strings as U+FFFD.
  return { kind: 'array', values: value.map((v) => v.replace(LONE_SURROGATE, '\ufffd')) };
}

/** RUN, CMD, ENTRYPOINT, SHELL: exec form, or the whole rest as one string. */
export function parseMaybeJson(rest: string): ParsedArgs {
  if (rest === '') return NONE;
  const json = parseJsonArray(rest);
  if (json.kind === 'array') return { args: json.values, json: true };
  if (json.kind === 'not-strings') throw new LineParseError(NOT_STRING_ARRAY);
  return { args: [rest], json: false };
}

/** ADD, COPY, VOLUME: exec form, or blank-separated words. */
export function parseMaybeJsonToList(rest: string): ParsedArgs {
  const json = parseJsonArray(rest);
  if (json.kind === 'array') return { args: json.values, json: true };
  if (json.kind === 'not-strings') throw new LineParseError(NOT_STRING_ARRAY);
  return parseWhitespaceDelimited(rest);
}

/**
 * HEALTHCHECK: the first word is the type (CMD, NONE, anything), the remainder is parsed like CMD. BuildKit finds
 * the word boundary byte by byte, so 0x85/0xA0 bytes inside a UTF-8 character end the word; kept for fidelity.
 */
export function parseHealthConfig(rest: string): ParsedArgs {
  const bytes = encodeLossless(rest);
  let sep = 0;
  while (sep < bytes.length && !isGoSpace(bytes[sep])) sep++;
  let next = sep;
  while (next < bytes.length && isGoSpace(bytes[next])) next++;
  if (sep === 0) return NONE;
  const type = decodeLossless(bytes.subarray(0, sep));
  const cmd = parseMaybeJson(decodeLossless(bytes.subarray(next)));
  return { args: [type, ...cmd.args], json: cmd.json };
}
