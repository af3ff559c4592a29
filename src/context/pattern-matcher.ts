/**
 * The `.dockerignore` matcher: patternmatcher's `New`, `MatchesOrParentMatches` and `MatchesUsingParentResults`,
 * plus the directory-pruning rule of BuildKit's context walker (fsutil), so that `matches()` answers "is this
 * path left out of the build context" exactly as `docker build` does. README §4–§5 of the conformance data
 * explain why the walk-based answer, not "pattern matches the path or an ancestor", is the one that counts.
 */
import { UserError, type SourceLocation } from '../errors';
import { BadPatternError, validateGoPattern } from './glob';
import { goClean } from '../go/path';
import { goDir, goTrimSpace } from './go-path';
import { Pattern, PatternCompileError } from './pattern';

/**
 * Per pattern: did it match this directory (or, inherited, one of its ancestors)? Passed from a directory to
 * its children. A pattern that was skipped at the directory counts as not matched.
 */
export type MatchInfo = readonly boolean[];

export interface MatchResult {
  excluded: boolean;
  /** Hand this to `matchesUsingParentResults` for the path's children. */
  info: MatchInfo;
}

/** Where the patterns came from, so errors can say `.dockerignore:3: …`. */
export interface PatternSource {
  file: string;
  /** 1-based line of each input pattern (same indexes as the `patterns` given to `create`). */
  lines?: readonly number[];
}

// A `!` pattern that, after dropping a trailing `/*` or `/**`, contains one of these could re-include
// anything anywhere, so fsutil never prunes an excluded directory when such a pattern exists.
const PATTERN_CHARS = /[*[\]?^\\]/;

function withoutTrailingGlob(p: string): string {
  // Both trims, in this order, as fsutil does (so `a/*/**` becomes `a`).
  if (p.endsWith('/**')) p = p.slice(0, -3);
  if (p.endsWith('/*')) p = p.slice(0, -2);
  return p;
}

export class PatternMatcher {
  private readonly onlyPrefixExceptions: boolean;

  private constructor(
    readonly patterns: readonly Pattern[],
    /** Location of each entry of `patterns`, for error messages. */
    private readonly locations: readonly (SourceLocation | undefined)[],
  ) {
    this.onlyPrefixExceptions = patterns.every(
      (p) => !p.exclusion || !PATTERN_CHARS.test(withoutTrailingGlob(p.cleaned)),
    );
  }

  /**
   * patternmatcher's `New`: trims and cleans each pattern, drops empty ones, and rejects `!` alone and
   * patterns that `filepath.Match` calls malformed. Throws `UserError` (exit 2) naming the file and line.
   */
  static create(patterns: readonly string[], source?: PatternSource): PatternMatcher {
    const compiled: Pattern[] = [];
    const locations: (SourceLocation | undefined)[] = [];
    patterns.forEach((raw, index) => {
      let p = goTrimSpace(raw);
      if (p === '') return;
      p = goClean(p);
      const location = source ? { file: source.file, line: source.lines?.[index] ?? 0 } : undefined;
      let exclusion = false;
      if (p.startsWith('!')) {
        if (p.length === 1) throw new UserError('illegal exclusion pattern: "!"', location);
        exclusion = true;
        p = p.slice(1);
      }
      try {
        validateGoPattern(p);
      } catch (e) {
        if (e instanceof BadPatternError) throw new BadPatternError(p, location);
        throw e;
      }
      compiled.push(new Pattern(p, exclusion));
      locations.push(location);
    });
    return new PatternMatcher(compiled, locations);
  }

  /** True when any pattern is an exception (`!…`). */
  exclusions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  /**
   * The simple rule: the last applicable pattern that matches the path or one of its ancestors decides.
   * Not what a build uses (see `matches`), but what the classic daemon used for the Dockerfile and .dockerignore.
   */
  matchesOrParentMatches(file: string): boolean {
    let matched = false;
    const parentPath = goDir(file);
    const parentDirs = parentPath.split('/');
    this.patterns.forEach((pattern, i) => {
      // An include is only tried while the path is not excluded, an exception only while it is.
      if (pattern.exclusion !== matched) return;
      let match = this.tryMatch(i, file);
      if (!match && parentPath !== '.') {
        for (let k = 0; k < parentDirs.length && !match; k++) {
          match = this.tryMatch(i, parentDirs.slice(0, k + 1).join('/'));
        }
      }
      if (match) matched = !pattern.exclusion;
    });
    return matched;
  }

  /**
   * The walk rule: decide `file` given the results computed for its parent directory (null for entries at the
   * root, in which case ancestors are tested directly, as in `matchesOrParentMatches`).
   */
  matchesUsingParentResults(file: string, parentInfo: MatchInfo | null): MatchResult {
    const parent = parentInfo && parentInfo.length > 0 ? parentInfo : null;
    if (parent && parent.length !== this.patterns.length) {
      throw new Error('internal: wrong number of values in parent match info');
    }
    let excluded = false;
    const info: boolean[] = new Array<boolean>(this.patterns.length).fill(false);
    this.patterns.forEach((pattern, i) => {
      // A pattern that matched an ancestor applies here too, even where the skip rule would skip it.
      let match = parent ? parent[i] : false;
      if (!match) {
        if (pattern.exclusion !== excluded) return;
        match = this.tryMatch(i, file);
        if (!match && !parent) {
          const parentPath = goDir(file);
          if (parentPath !== '.') {
            const dirs = parentPath.split('/');
            for (let k = 0; k < dirs.length && !match; k++)
              match = this.tryMatch(i, dirs.slice(0, k + 1).join('/'));
          }
        }
      }
      info[i] = match;
      if (match) excluded = !pattern.exclusion;
    });
    return { excluded, info };
  }

  /**
   * fsutil's pruning rule for a directory that is excluded: may the walk skip everything inside it? Only if no
   * exception could re-include something below it. Exceptions with wildcards (beyond a trailing `/*` or `/**`)
   * forbid pruning anywhere; plain ones only below the directories they name.
   */
  canSkipDir(dir: string): boolean {
    if (!this.exclusions()) return true;
    if (!this.onlyPrefixExceptions) return false;
    const dirSlash = dir + '/';
    return !this.patterns.some(
      (p) => p.exclusion && (withoutTrailingGlob(p.cleaned) + '/').startsWith(dirSlash),
    );
  }

  /**
   * Is `path` (relative to the context root, `/`-separated) left out of the build context? Evaluates the path
   * the way the context walk does: each ancestor directory in turn, passing results down, and stopping where
   * the walk would prune. The root itself is never excluded. Note that an excluded directory is still *sent*
   * (as an empty shell) when something inside it is re-included; `walkContext` lists such directories.
   */
  matches(path: string): boolean {
    if (goClean(path) === '.') return false;
    let info: MatchInfo | null = null;
    const parentPath = goDir(path);
    if (parentPath !== '.') {
      const dirs = parentPath.split('/');
      for (let k = 0; k < dirs.length; k++) {
        const dir = dirs.slice(0, k + 1).join('/');
        const r = this.matchesUsingParentResults(dir, info);
        if (r.excluded && this.canSkipDir(dir)) return true;
        info = r.info;
      }
    }
    return this.matchesUsingParentResults(path, info).excluded;
  }

  private tryMatch(index: number, path: string): boolean {
    const pattern = this.patterns[index];
    try {
      return pattern.match(path);
    } catch (e) {
      if (e instanceof PatternCompileError) throw new BadPatternError(pattern.cleaned, this.locations[index]);
      throw e;
    }
  }
}
