import type { Heredoc } from './ast';
import { ShellLex } from './shell/lex';

/** Instructions whose shell form may carry heredocs, and those that may wrap such an instruction. */
export const HEREDOC_INSTRUCTIONS = new Set(['add', 'copy', 'run']);
export const HEREDOC_WRAPPERS = new Set(['onbuild']);

const HEREDOC_WORD = /^(\d*)<<(-?)([^<]*)$/;
const NO_ENV: ReadonlyMap<string, string> = new Map();

/**
 * One heredoc from one shell word such as `<<EOF`, `3<<-'EOF'` or `<< EOF` (the lexer keeps `<<` and the blanks
 * after it in one word). Undefined when the word is not a heredoc; an error when its terminator cannot be lexed.
 */
export function parseHeredocWord(word: string): Omit<Heredoc, 'content'> | undefined {
  const match = HEREDOC_WORD.exec(word);
  if (!match || match[3] === '') return undefined;
  const rest = match[3];
  const words = new ShellLex({ escapeToken: '\\', skipUnsetEnv: true }).processWords(rest, NO_ENV);
  if (words.length !== 1) return undefined;
  const raw = new ShellLex({ escapeToken: '\\', skipUnsetEnv: true, rawQuotes: true }).processWords(
    rest,
    NO_ENV,
  );
  if (raw.length !== words.length) {
    throw new Error(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  }
  // If quoting removed any quote characters, part of the terminator was quoted: the body is not expanded.
  const name = words[0];
  const expand = countQuotes(name) === countQuotes(raw[0]);
  const fd = match[1] === '' ? 0 : Number.parseInt(match[1], 10);
  return { name, fileDescriptor: Number.isSafeInteger(fd) ? fd : 0, expand, chomp: match[2] === '-' };
}

function countQuotes(s: string): number {
  let n = 0;
  for (const ch of s) if (ch === "'" || ch === '"') n++;
  return n;
}

/** The heredocs an instruction line opens, in order (bodies not yet read). */
export function heredocsFromLine(line: string): Omit<Heredoc, 'content'>[] {
  let words: string[];
  try {
    words = new ShellLex({
      escapeToken: '\\',
      rawQuotes: true,
      rawEscapes: true,
      skipUnsetEnv: true,
    }).processWords(line, NO_ENV);
  } catch {
    // BuildKit ignores a lexing failure of the whole line (e.g. an unbalanced quote): then there are no heredocs.
    return [];
  }
  const docs: Omit<Heredoc, 'content'>[] = [];
  for (const word of words) {
    const doc = parseHeredocWord(word);
    if (doc) docs.push(doc);
  }
  return docs;
}

/** `<<-` bodies lose all leading tabs of every line; applied when the body is used, never by the parser. */
export function chompHeredocContent(content: string): string {
  return content.replace(/^\t+/gm, '');
}
