import { UserError } from '../../src/errors';
import { BadPatternError, containsWildcards, goMatch, validateGoPattern } from '../../src/context/glob';
import { readData, type MatchCase } from './support/data';

/**
 * The TestMatch cases in cases.json are Go's own filepath.Match table (path/filepath/match_test.go), which
 * patternmatcher re-runs through its package-level Matches. Their expectations there are patternmatcher's; for
 * filepath.Match itself they are the same except one, where patternmatcher also tries the parent directory.
 */
const FILEPATH_MATCH_DIFFERS: Record<string, boolean> = { '["a*"] "ab/c"': false };

const matchTests = readData<MatchCase[]>('cases.json').filter((c) =>
  c.source.includes('TestMatch (matchTests)'),
);

describe("Go's filepath.Match table (TestMatch in cases.json)", () => {
  test('the table is complete', () => expect(matchTests).toHaveLength(54));

  test.each(
    matchTests.map(
      (c, i) => [`#${i} ${JSON.stringify(c.patterns[0])} ${JSON.stringify(c.path)}`, c] as const,
    ),
  )('%s', (_t, c) => {
    const [pattern] = c.patterns;
    if (c.error) {
      expect(() => goMatch(pattern, c.path)).toThrow(BadPatternError);
      return;
    }
    const key = `${JSON.stringify(c.patterns)} ${JSON.stringify(c.path)}`;
    expect(goMatch(pattern, c.path)).toBe(FILEPATH_MATCH_DIFFERS[key] ?? c.match);
  });
});

describe('goMatch: more cases', () => {
  test.each([
    ['[!a]', '!', true], // `!` is not negation in Go
    ['[!a]', 'b', false],
    ['[^a]', 'b', true],
    ['a[^x]b', 'a/b', true], // a class can match `/` (only `*` and `?` cannot)
    ['a[/]b', 'a/b', true],
    ['*', '', true],
    ['*', 'a/b', false],
    ['*/*', 'a/b', true],
    ['**', 'ab', true], // `**` is just `*`
    ['**', 'a/b', false],
    ['a\\ b', 'a b', true],
    ['\\[x]', '[x]', true],
    ['[a-c]*.txt', 'b1.txt', true],
    ['?', '☺', true],
    ['??', '☺', false],
    ['[☺]', '☺', true],
    ['x[\u{1F600}-\u{1F64F}]', 'x\u{1F610}', true],
    ['?', '\u{1F610}', true],
    ['a*b*c', 'abxbc', true],
    ['a*', 'a/', false],
    ['', '', true],
    ['', 'a', false],
  ])('%j vs %j → %s', (pattern, name, expected) => {
    expect(goMatch(pattern, name)).toBe(expected);
  });

  test.each(['x*[', 'a\\', '[]', '[z-]', 'a[b-]c', '[\\', 'x*[^', 'ok/then[', '*[a-b-c]'])(
    'malformed %j is an error whatever the name',
    (pattern) => {
      expect(() => validateGoPattern(pattern)).toThrow(BadPatternError);
      expect(() => goMatch(pattern, 'zzz')).toThrow(BadPatternError);
    },
  );

  test('BadPatternError is a UserError naming the pattern', () => {
    try {
      goMatch('src/[', 'x');
      throw new Error('expected an error');
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      expect((e as BadPatternError).message).toBe('syntax error in pattern: "src/["');
      expect((e as BadPatternError).pattern).toBe('src/[');
    }
  });

  test('containsWildcards skips escaped characters', () => {
    expect(containsWildcards('a*')).toBe(true);
    expect(containsWildcards('a?')).toBe(true);
    expect(containsWildcards('a[')).toBe(true);
    expect(containsWildcards('a]')).toBe(false);
    expect(containsWildcards('a\\*')).toBe(false);
    expect(containsWildcards('a\\\\*')).toBe(true);
  });
});
