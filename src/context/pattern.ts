/**
 * One `.dockerignore` pattern, compiled the way patternmatcher's `Pattern.compile` does it: a pattern without
 * wildcards is an exact string, `dir/**` a prefix test, `**x` a suffix test, anything else a Go regexp built
 * by copying the pattern through (so the regexp, not filepath.Match, decides what `[...]` and `\x` mean).
 */
import { GoRegexpError, compileGoRegexp } from './go-regexp';

export type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

/** The classification and Go regexp source for a cleaned pattern (regexp is null unless type is `regexp`). */
export interface CompiledPattern {
  type: MatchType;
  regexp: string | null;
}

// Characters that are special in a regexp but not in a filepath pattern; patternmatcher escapes exactly these.
const REGEXP_ONLY_SPECIAL = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

/** patternmatcher's `compile` for Unix, returning the Go regexp text it builds (useful for tests and debugging). */
export function classifyPattern(cleaned: string): CompiledPattern {
  let chars = Array.from(cleaned);
  // text/scanner, which patternmatcher reads the pattern with, skips a byte order mark at the very start.
  if (chars[0] === '\uFEFF') chars = chars.slice(1);
  let re = '^';
  let type: MatchType = 'exact';
  let pos = 0;
  for (let i = 0; pos < chars.length; i++) {
    const ch = chars[pos++];
    if (ch === '*') {
      if (chars[pos] === '*') {
        pos++;
        // `**/` is read as `**`.
        if (chars[pos] === '/') pos++;
        if (pos >= chars.length) {
          // `**` at the end: everything below. A plain prefix test unless a wildcard came before it.
          if (type === 'exact') type = 'prefix';
          else {
            re += '.*';
            type = 'regexp';
          }
        } else {
          // Any number of directories, including none.
          re += '(.*/)?';
          type = 'regexp';
        }
        if (i === 0) type = 'suffix';
      } else {
        re += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      type = 'regexp';
    } else if (REGEXP_ONLY_SPECIAL.has(ch)) {
      re += '\\' + ch;
    } else if (ch === '\\') {
      // The escaped character is copied through with its backslash: RE2 decides what `\d` or `\.` means.
      if (pos < chars.length) {
        re += '\\' + chars[pos++];
        type = 'regexp';
      } else {
        re += '\\';
      }
    } else if (ch === '[' || ch === ']') {
      re += ch;
      type = 'regexp';
    } else {
      // Copied as is, including `^`: `a^*` becomes `^a^[^/]*$`, which can never match (a Docker quirk).
      re += ch;
    }
  }
  return type === 'regexp' ? { type, regexp: re + '$' } : { type, regexp: null };
}

/** Raised when a pattern that passed validation cannot be turned into a regexp (e.g. `[Local-Only]`). */
export class PatternCompileError extends Error {}

export class Pattern {
  private compiled: { type: MatchType; test: (path: string) => boolean } | null = null;
  private compileError: PatternCompileError | null = null;

  constructor(
    /** The pattern after cleaning, without its leading `!`. */
    readonly cleaned: string,
    /** An exception (`!pattern`) re-includes what earlier patterns excluded. */
    readonly exclusion: boolean,
  ) {}

  /**
   * Does the pattern match exactly this path (no ancestor logic)? Compiled on first use, as in Go, so a pattern
   * whose regexp is invalid fails here, every time it is tried, and not when the matcher is built.
   */
  match(path: string): boolean {
    return this.compile().test(path);
  }

  private compile(): { type: MatchType; test: (path: string) => boolean } {
    if (this.compiled) return this.compiled;
    if (this.compileError) throw this.compileError;
    const { type, regexp } = classifyPattern(this.cleaned);
    const p = this.cleaned;
    let test: (path: string) => boolean;
    switch (type) {
      case 'exact':
        test = (path) => path === p;
        break;
      case 'prefix': {
        const prefix = p.slice(0, -2);
        test = (path) => path.startsWith(prefix);
        break;
      }
      case 'suffix': {
        const suffix = p.slice(2);
        // `**/foo` also matches `foo` itself.
        test = (path) => path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1));
        break;
      }
      case 'regexp': {
        let re: RegExp;
        try {
          re = compileGoRegexp(regexp as string);
        } catch (e) {
          if (!(e instanceof GoRegexpError)) throw e;
          this.compileError = new PatternCompileError(e.message);
          throw this.compileError;
        }
        test = (path) => re.test(path);
        break;
      }
    }
    this.compiled = { type, test };
    return this.compiled;
  }
}
