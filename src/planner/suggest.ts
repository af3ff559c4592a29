/**
 * BuildKit's "did you mean" (`util/suggest`): the closest option within Levenshtein distance 2 is appended to an
 * error as ` (did you mean X?)`. Options are tried in the order given; the first one strictly closer wins.
 */

/** Levenshtein distance over code points, all edits costing 1. */
export function levenshtein(a: string, b: string): number {
  const s = Array.from(a);
  const t = Array.from(b);
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const cur = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
    }
    prev = cur;
  }
  return prev[t.length];
}

/** The option to suggest for `value`, or undefined (also when `value` is itself an option). */
export function suggest(
  value: string,
  options: readonly string[],
  caseSensitive: boolean,
): string | undefined {
  const val = caseSensitive ? value : value.toLowerCase();
  let match: string | undefined;
  let best = 3;
  for (const option of options) {
    const opt = caseSensitive ? option : option.toLowerCase();
    if (opt === val) return undefined;
    const dist = levenshtein(val, opt);
    if (dist < best) {
      match = caseSensitive ? opt : matchCase(opt, value);
      best = dist;
    }
  }
  return match;
}

/** `message (did you mean X?)` when there is a close option, else `message`. */
export function withSuggestion(
  message: string,
  value: string,
  options: readonly string[],
  caseSensitive: boolean,
): string {
  const match = suggest(value, options, caseSensitive);
  return match === undefined ? message : `${message} (did you mean ${match}?)`;
}

/** The suggestion in the case the user wrote in: all lower, all upper, or as the option is spelled. */
function matchCase(option: string, original: string): string {
  if (original === original.toLowerCase()) return option.toLowerCase();
  if (original === original.toUpperCase()) return option.toUpperCase();
  return option;
}
