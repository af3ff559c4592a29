import { UserError } from '../../src/errors';
import { PatternMatcher, type MatchInfo } from '../../src/context/pattern-matcher';
import { goDir } from '../../src/context/go-path';
import { caseTitle, readData, type DivergenceCase, type MatchCase } from './support/data';

const cases = readData<MatchCase[]>('cases.json');
const derived = readData<MatchCase[]>('derived-cases.json');
const divergence = readData<{ cases: DivergenceCase[] }>('walk-divergence-cases.json').cases;

/** patternmatcher's own test harness: feed each ancestor's MatchInfo down, no pruning. */
function walkWithoutPruning(m: PatternMatcher, path: string): boolean {
  let info: MatchInfo | null = null;
  const parent = goDir(path);
  if (parent !== '.') {
    const dirs = parent.split('/');
    for (let i = 0; i < dirs.length; i++)
      info = m.matchesUsingParentResults(dirs.slice(0, i + 1).join('/'), info).info;
  }
  return m.matchesUsingParentResults(path, info).excluded;
}

describe('patternmatcher_test.go cases (cases.json)', () => {
  const ok = cases.filter((c) => !c.error);
  const bad = cases.filter((c) => c.error);

  test('the corpus is complete', () => {
    expect(cases).toHaveLength(138);
    expect(bad).toHaveLength(18);
  });

  test.each(ok.map((c, i) => [caseTitle(c, i), c] as const))('%s', (_t, c) => {
    const m = PatternMatcher.create(c.patterns);
    // README: every expectation holds for MatchesOrParentMatches and for the walk; ours adds fsutil pruning.
    expect(m.matchesOrParentMatches(c.path)).toBe(c.match);
    expect(walkWithoutPruning(m, c.path)).toBe(c.match);
    expect(m.matches(c.path)).toBe(c.match);
  });

  test.each(bad.map((c, i) => [caseTitle(c, i), c] as const))('error %s', (_t, c) => {
    const failsOnlyWhenMatching = c.source.includes('DoesNotPanicOnRepeatedCall');
    if (failsOnlyWhenMatching) {
      const m = PatternMatcher.create(c.patterns);
      expect(() => m.matches(c.path)).toThrow(UserError);
      // Go re-compiles on every call and fails every time; so do we.
      expect(() => m.matchesOrParentMatches(c.path)).toThrow(/syntax error in pattern/);
    } else {
      expect(() => PatternMatcher.create(c.patterns)).toThrow(UserError);
    }
  });
});

describe('derived cases (derived-cases.json)', () => {
  test('the corpus is complete', () => expect(derived).toHaveLength(44));

  test.each(derived.map((c, i) => [caseTitle(c, i), c] as const))('%s', (_t, c) => {
    const m = PatternMatcher.create(c.patterns);
    if (c.api.includes('MatchesOrParentMatches')) expect(m.matchesOrParentMatches(c.path)).toBe(c.match);
    if (c.api.includes('MatchesUsingParentResults')) {
      expect(walkWithoutPruning(m, c.path)).toBe(c.match);
      expect(m.matches(c.path)).toBe(c.match);
    }
  });
});

describe('walk vs MatchesOrParentMatches (walk-divergence-cases.json)', () => {
  test('the corpus is complete', () => expect(divergence).toHaveLength(30));

  test.each(divergence.map((c, i) => [caseTitle(c, i), c] as const))('%s', (_t, c) => {
    const m = PatternMatcher.create(c.patterns);
    expect(m.matches(c.path)).toBe(c.match);
    expect(m.matchesOrParentMatches(c.path)).toBe(c.match_MatchesOrParentMatches);
  });
});

describe('PatternMatcher', () => {
  test('MatchInfo is passed down: an inherited match applies even where the skip rule would skip it', () => {
    const m = PatternMatcher.create(['a', '!a/b', 'a']);
    const a = m.matchesUsingParentResults('a', null);
    expect(a).toEqual({ excluded: true, info: [true, false, false] });
    const ab = m.matchesUsingParentResults('a/b', a.info);
    expect(ab).toEqual({ excluded: false, info: [true, true, false] });
    expect(m.matchesUsingParentResults('a/b/c', ab.info).excluded).toBe(false);
  });

  test('rejects parent info of the wrong length', () => {
    const m = PatternMatcher.create(['a', 'b']);
    expect(() => m.matchesUsingParentResults('a/b', [true])).toThrow(/wrong number/);
  });

  test('the context root is never excluded', () => {
    const m = PatternMatcher.create(['**', '*', '.']);
    expect(m.matches('.')).toBe(false);
    expect(m.matches('./')).toBe(false);
  });

  test('exclusions() reports exception patterns', () => {
    expect(PatternMatcher.create(['a', 'b']).exclusions()).toBe(false);
    expect(PatternMatcher.create(['a', '!b']).exclusions()).toBe(true);
    expect(PatternMatcher.create([]).exclusions()).toBe(false);
  });

  describe('canSkipDir (fsutil pruning)', () => {
    test('no exceptions: any excluded directory is skipped', () => {
      expect(PatternMatcher.create(['a']).canSkipDir('a')).toBe(true);
    });
    test('a plain exception below the directory keeps it open', () => {
      const m = PatternMatcher.create(['a', '!a/b/c']);
      expect(m.canSkipDir('a')).toBe(false);
      expect(m.canSkipDir('a/b')).toBe(false);
      expect(m.canSkipDir('a/x')).toBe(true);
      expect(m.canSkipDir('ab')).toBe(true);
    });
    test('trailing /* and /** are ignored when deciding', () => {
      const m = PatternMatcher.create(['x', '!a/**', '!b/*']);
      expect(m.canSkipDir('a')).toBe(false);
      expect(m.canSkipDir('b')).toBe(false);
      expect(m.canSkipDir('c')).toBe(true);
    });
    test('an exception with a wildcard anywhere else forbids pruning everywhere', () => {
      for (const ex of ['!*.md', '!a/*/c', '!a/[bc]', '!a?', '!a\\b', '!^a']) {
        expect(PatternMatcher.create(['x', ex]).canSkipDir('zzz')).toBe(false);
      }
    });
  });

  test('pruning is part of the answer: an exception below a pruned directory never applies', () => {
    // fsutil strips both `/**` and then `/*` from `!a/*/**`, sees the prefix-only `a`, and prunes `a/b` once it is
    // excluded, so `a/b/x` is never visited even though the exception would re-include it.
    const m = PatternMatcher.create(['a/b', '!a/*/**']);
    expect(m.canSkipDir('a/b')).toBe(true);
    expect(m.matches('a/b/x')).toBe(true);
    expect(walkWithoutPruning(m, 'a/b/x')).toBe(false);
  });

  test('errors name the file and line', () => {
    try {
      PatternMatcher.create(['ok', '', 'a[b'], { file: '.dockerignore', lines: [1, 2, 7] });
      throw new Error('expected an error');
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      expect((e as UserError).format()).toBe('.dockerignore:7: syntax error in pattern: "a[b"');
    }
    try {
      PatternMatcher.create(['!'], { file: 'x/.dockerignore', lines: [3] });
      throw new Error('expected an error');
    } catch (e) {
      expect((e as UserError).format()).toBe('x/.dockerignore:3: illegal exclusion pattern: "!"');
    }
    const late = PatternMatcher.create(['x', '[Local-Only]/'], { file: '.dockerignore', lines: [1, 2] });
    expect(() => late.matches('y')).toThrow(
      expect.objectContaining({ location: { file: '.dockerignore', line: 2 }, exitCode: 2 }),
    );
  });

  test('a pattern that fails only when matched is harmless until it is tried (as in Go)', () => {
    // While the path is excluded, a later include pattern is skipped, so its bad regexp is never compiled.
    const m = PatternMatcher.create(['*', '[Local-Only]']);
    expect(m.matches('file')).toBe(true);
    expect(() => PatternMatcher.create(['[Local-Only]']).matches('file')).toThrow(UserError);
  });

  test('patterns are trimmed and cleaned by create (New), not only by ReadAll', () => {
    const m = PatternMatcher.create(['  ./docs//x/ ', ' ! docs/x/keep', '/abs']);
    expect(m.patterns.map((p) => [p.cleaned, p.exclusion])).toEqual([
      ['docs/x', false],
      // `!` then spaces is not trimmed by New (only ReadAll trims after `!`): the pattern keeps the space.
      [' docs/x/keep', true],
      ['/abs', false],
    ]);
    expect(m.matches('abs')).toBe(false);
  });
});
