import { classifyPattern, Pattern } from '../../src/context/pattern';
import { readData } from './support/data';

interface CompileCase {
  pattern: string;
  matchType: 'exactMatch' | 'prefixMatch' | 'suffixMatch' | 'regexpMatch';
  regexp: string | null;
}

const compileCases = readData<{ cases: CompileCase[] }>('compile-cases.json').cases;
const TYPE = {
  exactMatch: 'exact',
  prefixMatch: 'prefix',
  suffixMatch: 'suffix',
  regexpMatch: 'regexp',
} as const;

describe('TestCompile (compile-cases.json): classification and the Go regexp built', () => {
  test('the corpus is complete', () => expect(compileCases).toHaveLength(21));

  test.each(compileCases.map((c) => [c.pattern, c] as const))('%s', (_p, c) => {
    expect(classifyPattern(c.pattern)).toEqual({ type: TYPE[c.matchType], regexp: c.regexp });
  });
});

describe('Pattern', () => {
  test.each([
    ['a\\', 'exact', null],
    ['a\\b', 'regexp', '^a\\b$'],
    ['**/a*', 'regexp', '^(.*/)?a[^/]*$'],
    ['***', 'regexp', '^(.*/)?[^/]*$'],
    ['a/**/**', 'regexp', '^a/(.*/)?.*$'],
    ['a/b**', 'prefix', null],
    ['a?/**', 'regexp', '^a[^/]/.*$'],
    ['[*]', 'regexp', '^[[^/]*]$'],
    ['\uFEFF*.txt', 'regexp', '^[^/]*\\.txt$'],
  ])('classifies %j', (pattern, type, regexp) => {
    expect(classifyPattern(pattern)).toEqual({ type, regexp });
  });

  test('prefix, suffix and exact tests are plain string tests', () => {
    expect(new Pattern('dir/**', false).match('dir/')).toBe(true);
    expect(new Pattern('dir/**', false).match('dir')).toBe(false);
    expect(new Pattern('dir/**', false).match('dirx/a')).toBe(false);
    expect(new Pattern('**/foo', false).match('foo')).toBe(true);
    expect(new Pattern('**/foo', false).match('xfoo')).toBe(false);
    expect(new Pattern('**foo', false).match('xfoo')).toBe(true);
    expect(new Pattern('a.|)$(}+{bc', false).match('a.|)$(}+{bc')).toBe(true);
  });

  test('regexp patterns follow RE2, including its surprises', () => {
    // A class absorbs the regexp generated for `*`: `[*]` is `[[^/]` then `*` then a literal `]`.
    const star = new Pattern('[*]', false);
    expect(star.match(']')).toBe(true);
    expect(star.match('^^]')).toBe(true);
    expect(star.match('*')).toBe(false);
    // `\d` is copied through, so it means a digit (filepath.Match would read it as the letter d).
    expect(new Pattern('v\\d', false).match('v7')).toBe(true);
    expect(new Pattern('v\\d', false).match('vd')).toBe(false);
    // POSIX classes work inside a class.
    expect(new Pattern('[[:digit:]]x', false).match('3x')).toBe(true);
  });

  test('a regexp that RE2 rejects fails every time it is used', () => {
    const p = new Pattern('[Local-Only]', false);
    expect(() => p.match('x')).toThrow(/invalid character class range/);
    expect(() => p.match('x')).toThrow(/invalid character class range/);
  });
});
