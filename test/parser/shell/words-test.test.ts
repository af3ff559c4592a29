/**
 * BuildKit's `wordsTest` (TestShellParser4Words): ProcessWords with escape `\`, options off, and an environment
 * that grows with each `ENV` line. Read exactly as the Go test reads it (see the README next to the data).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { envFromSlice, ShellExpansionError, ShellLex } from '../../../src/parser/shell/lex';

const DATA = path.resolve(__dirname, '../../conformance-data/shell-lex');

interface WordsCase {
  line: number;
  input: string;
  expected: string[];
  /** The ENV entries defined above this line, in file order. */
  env: string[];
}

const trimSpace = (s: string): string => s.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
const trimLeadingSpaces = (s: string): string => s.replace(/^ +/, '');

function readCases(): { cases: WordsCase[]; envLines: number } {
  const text = fs.readFileSync(path.join(DATA, 'wordsTest'), 'utf8');
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines[lines.length - 1] === '') lines.pop();
  const env: string[] = [];
  const cases: WordsCase[] = [];
  lines.forEach((line, i) => {
    if (line.startsWith('#')) return;
    if (line.startsWith('ENV ')) {
      // Trailing spaces are part of the value (`ENV trailing=ab c   `).
      env.push(trimLeadingSpaces(line.slice('ENV'.length)));
      return;
    }
    const fields = line.split('|');
    if (fields.length !== 2) throw new Error(`wordsTest:${i + 1}: expected 2 fields, got ${fields.length}`);
    cases.push({
      line: i + 1,
      input: trimSpace(fields[0]),
      expected: trimLeadingSpaces(fields[1]).split(','),
      env: [...env],
    });
  });
  return { cases, envLines: env.length };
}

const { cases, envLines } = readCases();

describe('wordsTest (ProcessWords)', () => {
  test('holds 24 cases and 4 ENV lines', () => {
    expect(cases).toHaveLength(24);
    expect(envLines).toBe(4);
  });

  test.each(cases)('line $line: $input', ({ input, expected, env }) => {
    const lex = new ShellLex({ escapeToken: '\\' });
    let words: string[];
    try {
      words = lex.processWords(input, envFromSlice(env));
    } catch (err) {
      // The Go test compares an error as the one-word list ["error"].
      if (!(err instanceof ShellExpansionError)) throw err;
      words = ['error'];
    }
    expect(words).toEqual(expected);
  });
});
