import { decodeLossless, encodeLossless, goTrimSpace, isGoSpace } from './go-text';

const TOKEN_WHITESPACE = /[\t\v\f\r ]+/;

export interface SplitCommand {
  /** The keyword as written. */
  keyword: string;
  flags: string[];
  /** What follows the flags, trimmed. */
  rest: string;
}

/** Splits a logical line into keyword, leading `--flags` and the rest, as BuildKit's `splitCommand` does. */
export function splitCommand(line: string): SplitCommand {
  const trimmed = goTrimSpace(line);
  const match = TOKEN_WHITESPACE.exec(trimmed);
  if (!match) return { keyword: trimmed, flags: [], rest: '' };
  const keyword = trimmed.slice(0, match.index);
  const { rest, flags } = extractBuilderFlags(trimmed.slice(match.index + match[0].length));
  return { keyword, flags, rest: goTrimSpace(rest) };
}

const enum Phase {
  InSpaces,
  InWord,
  InQuote,
}

/**
 * The leading words that start with `--`. BuildKit scans this part byte by byte (not rune by rune), so a byte of a
 * multi-byte character is appended as the code point of that byte value and 0x85/0xA0 bytes count as blanks. That
 * quirk is kept on purpose: flags must come out exactly as BuildKit reads them. Quotes are removed, `\` escapes
 * the next byte, and a bare `--` ends the flags.
 */
export function extractBuilderFlags(line: string): { rest: string; flags: string[] } {
  const bytes = encodeLossless(line);
  const flags: string[] = [];
  let phase = Phase.InSpaces;
  let word = '';
  let quote = 0;
  let blankOK = false;
  let ch = 0;
  const restFrom = (pos: number): string => decodeLossless(bytes.subarray(pos));

  for (let pos = 0; pos <= bytes.length; pos++) {
    if (pos !== bytes.length) ch = bytes[pos];

    if (phase === Phase.InSpaces) {
      if (pos === bytes.length) break;
      if (isGoSpace(ch)) continue;
      // Only go on if the next word starts with `--`.
      if (ch !== 0x2d || pos + 1 === bytes.length || bytes[pos + 1] !== 0x2d) {
        return { rest: restFrom(pos), flags };
      }
      phase = Phase.InWord;
    }
    if (pos === bytes.length) {
      if (word !== '--' && (blankOK || word.length > 0)) flags.push(word);
      break;
    }
    if (phase === Phase.InWord) {
      if (isGoSpace(ch)) {
        phase = Phase.InSpaces;
        if (word === '--') return { rest: restFrom(pos), flags };
        if (blankOK || word.length > 0) flags.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === 0x27 || ch === 0x22) {
        quote = ch;
        blankOK = true;
        phase = Phase.InQuote;
        continue;
      }
      if (ch === 0x5c) {
        if (pos + 1 === bytes.length) continue;
        pos++;
        ch = bytes[pos];
      }
      word += String.fromCharCode(ch);
      continue;
    }
    // Phase.InQuote
    if (ch === quote) {
      phase = Phase.InWord;
      continue;
    }
    if (ch === 0x5c) {
      if (pos + 1 === bytes.length) {
        phase = Phase.InWord;
        continue;
      }
      pos++;
      ch = bytes[pos];
    }
    word += String.fromCharCode(ch);
  }
  return { rest: '', flags };
}
