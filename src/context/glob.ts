/**
 * Go's `path/filepath.Match` (Unix flavour), which BuildKit uses for COPY/ADD source wildcards and which
 * patternmatcher uses to validate `.dockerignore` patterns. Ported rather than mapped onto a JS glob library
 * because the corner cases are part of the contract: `[^…]` is the only negation (`[!a]` is a set), `\`
 * escapes, a class may match `/`, `*` and `?` never do, and a malformed pattern is an error even when the
 * name would not have matched.
 */
import { UserError, type SourceLocation } from '../errors';

/** Go's `filepath.ErrBadPattern`. A user error: the pattern came from a Dockerfile or `.dockerignore`. */
export class BadPatternError extends UserError {
  constructor(
    readonly pattern: string,
    location?: SourceLocation,
  ) {
    super(`syntax error in pattern: ${JSON.stringify(pattern)}`, location);
  }
}

/** Thrown inside the matcher; `goMatch` turns it into a `BadPatternError` naming the whole pattern. */
class Bad extends Error {}

/** Does `name` match the shell pattern? Throws `BadPatternError` for a malformed pattern. */
export function goMatch(pattern: string, name: string): boolean {
  try {
    return match(pattern, name);
  } catch (e) {
    if (e instanceof Bad) throw new BadPatternError(pattern);
    throw e;
  }
}

/** Throws `BadPatternError` if `pattern` is malformed. Go reports syntax errors whatever the name is. */
export function validateGoPattern(pattern: string): void {
  goMatch(pattern, '');
}

function match(pattern: string, name: string): boolean {
  patternLoop: while (pattern.length > 0) {
    const { star, chunk, rest } = scanChunk(pattern);
    pattern = rest;
    // A trailing `*` matches the rest of the name unless it contains a `/`.
    if (star && chunk === '') return !name.includes('/');
    const t = matchChunk(chunk, name);
    // On the last chunk the name must be used up; otherwise the star may still find a later match.
    if (t !== null && (t.length === 0 || pattern.length > 0)) {
      name = t;
      continue;
    }
    if (star) {
      // Let the star swallow one more character at a time, never a `/`.
      for (let i = 0; i < name.length && name[i] !== '/'; i++) {
        const t2 = matchChunk(chunk, name.slice(i + 1));
        if (t2 !== null) {
          if (pattern.length === 0 && t2.length > 0) continue;
          name = t2;
          continue patternLoop;
        }
      }
    }
    // Before answering "no", make sure the rest of the pattern is well-formed (Go does the same).
    while (pattern.length > 0) {
      const next = scanChunk(pattern);
      pattern = next.rest;
      matchChunk(next.chunk, '');
    }
    return false;
  }
  return name.length === 0;
}

/** The next run of non-star pattern, with whether stars preceded it. A `*` inside `[...]` does not end it. */
function scanChunk(pattern: string): { star: boolean; chunk: string; rest: string } {
  let star = false;
  while (pattern.startsWith('*')) {
    pattern = pattern.slice(1);
    star = true;
  }
  let inRange = false;
  let i = 0;
  scan: for (; i < pattern.length; i++) {
    switch (pattern[i]) {
      case '\\':
        if (i + 1 < pattern.length) i++;
        break;
      case '[':
        inRange = true;
        break;
      case ']':
        inRange = false;
        break;
      case '*':
        if (!inRange) break scan;
        break;
    }
  }
  return { star, chunk: pattern.slice(0, i), rest: pattern.slice(i) };
}

/**
 * Match `chunk` (no stars) against the start of `s`; the rest of `s`, or null. After a mismatch the chunk is
 * still parsed to the end so that syntax errors are reported regardless of the input.
 */
function matchChunk(chunk: string, s: string): string | null {
  let failed = false;
  while (chunk.length > 0) {
    if (!failed && s.length === 0) failed = true;
    const c = chunk[0];
    if (c === '[') {
      let r = 0;
      if (!failed) {
        r = s.codePointAt(0) as number;
        s = s.slice(r > 0xffff ? 2 : 1);
      }
      chunk = chunk.slice(1);
      let negated = false;
      if (chunk.startsWith('^')) {
        negated = true;
        chunk = chunk.slice(1);
      }
      let matched = false;
      let nrange = 0;
      for (;;) {
        if (chunk.startsWith(']') && nrange > 0) {
          chunk = chunk.slice(1);
          break;
        }
        const lo = getEsc(chunk);
        chunk = lo.rest;
        let hi = lo.r;
        if (chunk[0] === '-') {
          const h = getEsc(chunk.slice(1));
          hi = h.r;
          chunk = h.rest;
        }
        if (lo.r <= r && r <= hi) matched = true;
        nrange++;
      }
      if (matched === negated) failed = true;
    } else if (c === '?') {
      if (!failed) {
        if (s[0] === '/') failed = true;
        s = s.slice((s.codePointAt(0) as number) > 0xffff ? 2 : 1);
      }
      chunk = chunk.slice(1);
    } else {
      if (c === '\\') {
        chunk = chunk.slice(1);
        if (chunk.length === 0) throw new Bad();
      }
      if (!failed) {
        if (chunk[0] !== s[0]) failed = true;
        s = s.slice(1);
      }
      chunk = chunk.slice(1);
    }
  }
  return failed ? null : s;
}

/** One possibly-escaped character of a class; `-` and `]` must be escaped, and something must follow. */
function getEsc(chunk: string): { r: number; rest: string } {
  if (chunk.length === 0 || chunk[0] === '-' || chunk[0] === ']') throw new Bad();
  if (chunk[0] === '\\') {
    chunk = chunk.slice(1);
    if (chunk.length === 0) throw new Bad();
  }
  const r = chunk.codePointAt(0) as number;
  const rest = chunk.slice(r > 0xffff ? 2 : 1);
  if (rest.length === 0) throw new Bad();
  return { r, rest };
}

/** BuildKit's test for "this path segment is a pattern": an unescaped `*`, `?` or `[`. */
export function containsWildcards(segment: string): boolean {
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}
