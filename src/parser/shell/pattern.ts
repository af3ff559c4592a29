/**
 * The shell patterns of `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`, `${V/p/r}` and `${V//p/r}`, matched the way
 * BuildKit matches them: the pattern becomes a regular expression (`*` any string, `?` one character, no
 * `[...]` classes) and Go's `regexp` rules decide what is found and what is replaced.
 */
import { EOF, isDigit, isLetter, RuneReader, runeString } from './runes';

/** A pattern that cannot be turned into a regular expression, e.g. one with the escape `\x`. */
export class PatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PatternError';
  }
}

// Go's `.` matches any rune except a newline; JavaScript's `.` also refuses \r, U+2028 and U+2029.
const ANY = '[^\\n]';
const REGEX_SPECIALS = new Set(Array.from('[]{}.+()|^$', (c) => c.codePointAt(0) as number));
const STAR = 0x2a; // *
const QUESTION = 0x3f; // ?
const BACKSLASH = 0x5c; // \
const RBRACE = 0x7d; // }
const SLASH = 0x2f; // /

/**
 * BuildKit's `convertShellPatternToRegex`. `greedy` picks `*` as longest (`##`, `%%`, `/`) or shortest match;
 * `anchored` ties the match to the start of the text. A backslash may escape only `*`, `?` or `\`; before `}`
 * or `/` it is dropped (it was needed to get those characters past `${…}`); anything else is a PatternError.
 */
export function convertShellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const reader = new RuneReader(pattern);
  let out = anchored ? '^' : '';
  const star = greedy ? `${ANY}*` : `${ANY}*?`;
  for (let tok = reader.next(); tok !== EOF; tok = reader.next()) {
    if (tok === STAR) {
      out += star;
      continue;
    }
    if (tok === QUESTION) {
      out += ANY;
      continue;
    }
    if (tok === BACKSLASH) {
      const after = reader.peek();
      if (after === RBRACE || after === SLASH) continue;
      out += '\\';
      tok = reader.next();
      if (tok !== STAR && tok !== QUESTION && tok !== BACKSLASH) {
        throw new PatternError(`invalid escape '\\${runeString(tok)}'`);
      }
    } else if (REGEX_SPECIALS.has(tok)) {
      out += '\\';
    }
    out += runeString(tok);
  }
  // `u`: match by code point, as Go matches by rune.
  return new RegExp(out, 'u');
}

function compileForSubstitution(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  try {
    return convertShellPatternToRegex(pattern, greedy, anchored);
  } catch (err) {
    if (err instanceof PatternError) {
      throw new PatternError(`invalid pattern (${pattern}) in substitution: ${err.message}`);
    }
    throw err;
  }
}

/** `${V#p}` / `${V##p}`: drop the shortest (or longest) prefix of `value` that `pattern` matches. */
export function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = compileForSubstitution(pattern, greedy, true).exec(value);
  return m ? value.slice(m.index + m[0].length) : value;
}

/**
 * `${V%p}` / `${V%%p}`. A regular expression cannot find the shortest match that ends at the end of the text,
 * so, like BuildKit, reverse both the pattern (keeping `\x` pairs in order) and the value, trim a prefix and
 * reverse back. An error therefore quotes the reversed pattern, as BuildKit's does.
 */
export function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

/** BuildKit's `reversePattern`: `a\*c` → `c\*a`. */
export function reversePattern(pattern: string): string {
  const runes = Array.from(pattern);
  const out: string[] = new Array<string>(runes.length);
  const last = runes.length - 1;
  for (let i = 0; i <= last;) {
    const outIdx = last - i;
    if (runes[i] === '\\' && i !== last) {
      out[outIdx - 1] = runes[i];
      out[outIdx] = runes[i + 1];
      i += 2;
    } else {
      out[outIdx] = runes[i];
      i++;
    }
  }
  return out.join('');
}

function reverseString(s: string): string {
  return Array.from(s).reverse().join('');
}

/**
 * `${V/p/r}`: the first (leftmost, longest-`*`) match of `pattern` is replaced by `replacement`, taken
 * literally.
 */
export function replaceFirst(pattern: string, value: string, replacement: string): string {
  const m = compileForSubstitution(pattern, true, false).exec(value);
  if (!m) return value;
  return value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length);
}

/**
 * `${V//p/r}`: Go's `Regexp.ReplaceAllString`. Unlike `${V/p/r}`, the replacement is a Go template here, so
 * `$0`/`${0}` insert the match, `$$` is a `$`, and any other `$name` inserts nothing. Empty matches follow Go
 * (an empty match right after a previous match is not replaced), which differs from String.replace.
 */
export function replaceAll(pattern: string, value: string, replacement: string): string {
  const re = new RegExp(compileForSubstitution(pattern, true, false).source, 'gu');
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  const end = value.length;
  while (searchPos <= end) {
    re.lastIndex = searchPos;
    const m = re.exec(value);
    if (!m) break;
    const start = m.index;
    const stop = start + m[0].length;
    out += value.slice(lastMatchEnd, start);
    if (stop > lastMatchEnd || start === 0) out += expandTemplate(replacement, m[0]);
    lastMatchEnd = stop;
    // Always move on by at least one rune.
    const width = searchPos < end ? runeWidth(value, searchPos) : 0;
    if (searchPos + width > stop) searchPos += width;
    else if (searchPos + 1 > stop) searchPos++;
    else searchPos = stop;
  }
  return out + value.slice(lastMatchEnd);
}

function runeWidth(s: string, index: number): number {
  const cp = s.codePointAt(index) as number;
  return cp > 0xffff ? 2 : 1;
}

/** Go's `Regexp.Expand` for a pattern with no groups: only group 0, the whole match, exists. */
function expandTemplate(template: string, match: string): string {
  let out = '';
  let rest = template;
  for (let at = rest.indexOf('$'); at >= 0; at = rest.indexOf('$')) {
    out += rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (rest.startsWith('$')) {
      out += '$';
      rest = rest.slice(1);
      continue;
    }
    const ref = extractTemplateRef(rest);
    if (!ref) {
      out += '$'; // malformed: the `$` is kept as text
      continue;
    }
    rest = ref.rest;
    if (ref.group === 0) out += match;
  }
  return out + rest;
}

/** Go's `regexp.extract`: a `name` or `{name}` after a `$`, and its group number (-1 when not a number). */
function extractTemplateRef(str: string): { group: number; rest: string } | undefined {
  if (str === '') return undefined;
  const brace = str.startsWith('{');
  const s = brace ? str.slice(1) : str;
  let i = 0;
  while (i < s.length) {
    const cp = s.codePointAt(i) as number;
    if (!isLetter(cp) && !isDigit(cp) && cp !== 0x5f) break;
    i += cp > 0xffff ? 2 : 1;
  }
  if (i === 0) return undefined;
  const name = s.slice(0, i);
  if (brace) {
    if (i >= s.length || s[i] !== '}') return undefined;
    i++;
  }
  let group = 0;
  for (const c of name) {
    if (c < '0' || c > '9' || group >= 1e8) {
      group = -1;
      break;
    }
    group = group * 10 + (c.charCodeAt(0) - 0x30);
  }
  if (name[0] === '0' && name.length > 1) group = -1; // leading zeros are not a number
  return { group, rest: s.slice(i) };
}
