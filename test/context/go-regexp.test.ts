import { compileGoRegexp, GoRegexpError } from '../../src/context/go-regexp';

function m(re: string, s: string): boolean {
  return compileGoRegexp(re).test(s);
}

describe('compileGoRegexp (RE2 semantics in JS)', () => {
  test.each([
    // [regexp, input, matches]
    ['^a.b$', 'a\rb', true], // RE2 dot only excludes \n
    ['^a.b$', 'a\nb', false],
    ['^a.b$', 'a\u2028b', true],
    ['^a[^x]b$', 'a\nb', true], // negated classes include \n (Perl flags)
    ['^\\s$', '\v', false], // RE2 \s is [\t\n\f\r ]
    ['^\\s$', '\u00a0', false],
    ['^\\S$', '\u00a0', true],
    ['^\\w+$', 'é', false], // ASCII only
    ['^\\d$', '٣', false],
    ['^[\\d]x$', '5x', true],
    ['^[\\D]$', '5', false],
    ['^\\pL$', 'ж', true],
    ['^\\PL$', 'ж', false],
    ['^\\pN$', '٣', true],
    ['^[\\pLx]$', 'x', true],
    ['^\\pC$', '\u0000', true],
    ['^\\PC$', '\u0378', true], // unassigned: not in Go's C
    ['^\\pC$', '\u0378', false],
    ['^[[:alpha:]]$', 'q', true],
    ['^[[:^alpha:]]$', 'q', false],
    ['^[[:^alpha:]]$', '1', true],
    ['^[[:punct:]]$', '~', true],
    ['^\\x41$', 'A', true],
    ['^\\101$', 'A', true],
    ['^\\0$', '\u0000', true],
    ['^\\n$', '\n', true],
    ['^\\t$', '\t', true],
    ['^\\Q[*]\\E$', '[*]', true],
    ['^\\Qab', 'ab', true],
    ['^\\Aab\\z', 'ab', true],
    ['^a\\b', 'a b', true],
    ['^a\\B', 'ab', true],
    ['^a^[^/]*$', 'a^b', false], // `^` in the middle is an anchor
    ['^^*a$', 'a', true], // a repeated assertion is valid RE2
    ['^[]a]$', ']', true], // `]` first in a class is literal
    ['^[a-]$', '-', true],
    ['^[^]a]$', 'b', true],
    ['^[a-c-e]$', '-', true],
    ['^[a-ζ]$', 'β', true],
    ['^(.*/)?x$', 'a/b/x', true],
    ['^(.*/)?x$', 'x', true],
    ['^a]$', 'a]', true],
    ['^x\\_$', 'x_', true],
    ['^[\\]]$', ']', true],
  ])('%s on %j → %s', (re, input, expected) => {
    expect(m(re, input)).toBe(expected);
  });

  test.each([
    ['^[l-O]$', /range/],
    ['^[a-\\d]$', /./],
    ['^[abc$', /missing closing \]/],
    ['^\\q$', /invalid escape/],
    ['^\\8$', /invalid escape/],
    ['^\\1$', /invalid escape/],
    ['^\\é$', /invalid escape/],
    ['^\\C$', /invalid escape/],
    ['^\\x4$', /invalid escape/],
    ['^\\x{}$', /invalid escape/],
    ['^\\x{110000}$', /invalid escape/],
    ['^\\pQ$', /range/],
    ['^\\p', /range/],
    ['^[[:foo:]]$', /range/],
    ['^[[:x]y:]]$', /range/],
    ['^a**$', /nested repetition/],
    ['*a', /missing argument/],
    ['^(a$', /missing closing \)/],
    ['^a)$', /unexpected \)/],
    ['^a\\', /trailing backslash/],
    ['^[\\b]$', /invalid escape/],
  ])('rejects %s', (re, message) => {
    expect(() => compileGoRegexp(re)).toThrow(GoRegexpError);
    expect(() => compileGoRegexp(re)).toThrow(message);
  });

  test('non-greedy and grouped repetitions are accepted', () => {
    expect(m('^a*?b$', 'aab')).toBe(true);
    expect(m('^(ab)?c$', 'c')).toBe(true);
    expect(m('^(a|b)c$', 'bc')).toBe(true);
  });
});
