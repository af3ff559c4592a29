/**
 * BuildKit's `envVarTest` (TestShellParser4EnvVars): ProcessWord with escape `\` and all options off, against a
 * fixed environment. Read exactly as the Go test reads it (see test/conformance-data/shell-lex/README.md).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { envFromSlice, ShellExpansionError, ShellLex } from '../../../src/parser/shell/lex';

const DATA = path.resolve(__dirname, '../../conformance-data/shell-lex');

interface EnvVarCase {
  line: number;
  platform: string;
  input: string;
  expected: string;
}

// Go's strings.TrimSpace trims Unicode White_Space (JavaScript's trim() would also trim U+FEFF).
const trimSpace = (s: string): string => s.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');

function readCases(): EnvVarCase[] {
  const text = fs.readFileSync(path.join(DATA, 'envVarTest'), 'utf8');
  // bufio.Scanner splits on \n and drops a \r before it; a final newline gives no extra line.
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines[lines.length - 1] === '') lines.pop();
  const cases: EnvVarCase[] = [];
  lines.forEach((raw, i) => {
    if (raw.startsWith('#')) return;
    const line = trimSpace(raw);
    if (line === '') return;
    const fields = line.split('|');
    if (fields.length !== 3) throw new Error(`envVarTest:${i + 1}: expected 3 fields, got ${fields.length}`);
    const [platform, input, expected] = fields.map(trimSpace);
    if (!['A', 'U', 'W'].includes(platform)) throw new Error(`envVarTest:${i + 1}: bad platform ${platform}`);
    cases.push({ line: i + 1, platform, input, expected });
  });
  return cases;
}

const allCases = readCases();
// On Linux the A (all) and U (Unix) lines apply; the W lines expect Windows' case-insensitive names.
const linuxCases = allCases.filter((c) => c.platform !== 'W');
const env = envFromSlice(['PWD=/home', 'SHELL=bash', 'KOREAN=한국어', 'NULL=']);

describe('envVarTest (ProcessWord)', () => {
  test('holds 230 cases, 228 of them for Linux', () => {
    expect(allCases).toHaveLength(230);
    expect(linuxCases).toHaveLength(228);
  });

  test.each(linuxCases)('line $line: $input → $expected', ({ input, expected }) => {
    const lex = new ShellLex({ escapeToken: '\\' });
    if (expected === 'error') {
      expect(() => lex.processWord(input, env)).toThrow(ShellExpansionError);
    } else {
      expect(lex.processWord(input, env)).toBe(expected);
    }
  });
});
