/**
 * The facts copied from BuildKit's lex_test.go into process-word-cases.json: ProcessWordWithMatches (with the
 * names found and not found), mandatory variables, the TARGETVARIANT idiom, EnvsFromSlice and invalid patterns.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { envFromSlice, ShellExpansionError, ShellLex } from '../../../src/parser/shell/lex';
import { convertShellPatternToRegex, PatternError } from '../../../src/parser/shell/pattern';

const DATA = path.resolve(__dirname, '../../conformance-data/shell-lex');

interface MatchCase {
  input: string;
  envs: Record<string, string>;
  expected: string | null;
  expectedErr: boolean;
  matches: string[];
  unmatched: string[];
  note?: string;
}

interface MandatoryCase {
  input: string;
  env: string[];
  expected?: string;
  error_contains?: string;
}

interface Cases {
  processWithMatches: { cases: MatchCase[] };
  mandatoryEnvVars: { cases: MandatoryCase[] };
  targetPlatformExample: { input: string; cases: { envs: Record<string, string>; expected: string }[] };
  envsFromSlice: { cases: { env: string[]; lookup: string; value: string }[] };
  patternEscapes: { invalid_patterns: string[] };
}

const data = JSON.parse(fs.readFileSync(path.join(DATA, 'process-word-cases.json'), 'utf8')) as Cases;
const lex = new ShellLex({ escapeToken: '\\' });
const mapOf = (envs: Record<string, string>): Map<string, string> => new Map(Object.entries(envs));
const numbered = <T>(cases: T[]): (T & { n: number })[] => cases.map((c, i) => ({ ...c, n: i + 1 }));

describe('TestProcessWithMatches (ProcessWordWithMatches)', () => {
  test('holds 47 cases', () => expect(data.processWithMatches.cases).toHaveLength(47));

  test.each(numbered(data.processWithMatches.cases))('#$n: $input', (c) => {
    if (c.expectedErr) {
      // Upstream checks only that an error happened, not what was matched.
      expect(() => lex.processWordWithMatches(c.input, mapOf(c.envs))).toThrow(ShellExpansionError);
      return;
    }
    const got = lex.processWordWithMatches(c.input, mapOf(c.envs));
    expect(got.result).toBe(c.expected);
    expect(got.matches).toEqual(new Set(c.matches));
    expect(got.unmatched).toEqual(new Set(c.unmatched));
  });
});

describe('TestShellParserMandatoryEnvVars (${VAR?msg}, ${VAR:?msg})', () => {
  test.each(numbered(data.mandatoryEnvVars.cases))('#$n: $input with $env', (c) => {
    const env = envFromSlice(c.env);
    if (c.error_contains !== undefined) {
      expect(() => lex.processWord(c.input, env)).toThrow(ShellExpansionError);
      expect(() => lex.processWord(c.input, env)).toThrow(c.error_contains);
    } else {
      expect(lex.processWord(c.input, env)).toBe(c.expected);
    }
  });
});

describe('TestProcessWithMatchesPlatform (${TARGETVARIANT:+-${TARGETVARIANT}})', () => {
  const { input } = data.targetPlatformExample;
  test.each(numbered(data.targetPlatformExample.cases))('#$n: $expected', (c) => {
    expect(lex.processWordWithMatches(input, mapOf(c.envs)).result).toBe(c.expected);
  });
});

describe('TestGetEnv (envFromSlice)', () => {
  test.each(numbered(data.envsFromSlice.cases))('#$n: $lookup in $env', (c) => {
    const env = envFromSlice(c.env);
    expect(env.get(c.lookup) ?? '').toBe(c.value);
    // A name listed without `=` is set (to ""), so `${name-x}` does not fall back.
    const listed = c.env.some((e) => e.split('=')[0] === c.lookup);
    expect(env.has(c.lookup)).toBe(listed);
    expect(lex.processWord(`\${${c.lookup}-unset}`, env)).toBe(listed ? c.value : 'unset');
  });
});

describe('TestConvertShellPatternToRegex (invalid patterns)', () => {
  test.each(data.patternEscapes.invalid_patterns)('%j is rejected', (pattern) => {
    for (const greedy of [false, true]) {
      for (const anchored of [false, true]) {
        expect(() => convertShellPatternToRegex(pattern, greedy, anchored)).toThrow(PatternError);
      }
    }
  });
});
