/**
 * The few Go standard-library string helpers whose exact behaviour `.dockerignore` handling depends on
 * (`filepath.Dir`, `strings.TrimSpace`; `path.Clean` is the ground floor's, `src/go/path.ts`). Node's `path.posix.normalize` and `String.trim` differ in
 * small ways (`normalize` keeps a trailing `/` and leading `..` of rooted paths; `trim` strips U+FEFF but not
 * U+0085), and those differences would change which files a build context contains.
 */
import { goClean } from '../go/path';

/** Go's `filepath.Dir` on Unix: everything before the last `/`, cleaned; `"."` when there is no `/`. */
export function goDir(p: string): string {
  const i = p.lastIndexOf('/');
  return goClean(p.slice(0, i + 1));
}

// Go's unicode.IsSpace: ASCII whitespace, U+0085, U+00A0 and the Unicode White_Space characters. Not U+FEFF.
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]';
const LEADING_SPACE = new RegExp(`^${GO_SPACE}+`);
const TRAILING_SPACE = new RegExp(`${GO_SPACE}+$`);

/** Go's `strings.TrimSpace`. */
export function goTrimSpace(s: string): string {
  return s.replace(LEADING_SPACE, '').replace(TRAILING_SPACE, '');
}

/**
 * Compare two names the way Go's `sort.Strings` (and so `os.ReadDir`) orders them: by UTF-8 bytes, which is code
 * point order. JavaScript's default `<` compares UTF-16 code units and orders U+E000–U+FFFF after astral
 * characters, which would make our walk order differ from BuildKit's for such names.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Only when one side is a surrogate does code-unit order disagree with code-point order.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
