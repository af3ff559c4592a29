/**
 * The few Go standard-library behaviours BuildKit's messages and paths depend on (`path.Join`, `strconv`,
 * `fmt`'s `%v`/`%q` of a string slice). Node's path.posix differs from Go's in small ways (trailing slashes,
 * empty input), and those differences would show in working directories and cache ids.
 */
import { goClean } from '../go/path';
import { goQuote } from '../parser/go-text';

export { goQuote };

/** Go's `path.Join`: empty elements are ignored, the result is cleaned. */
export function goPathJoin(...parts: string[]): string {
  const nonEmpty = parts.filter((p) => p !== '');
  return nonEmpty.length === 0 ? '' : goClean(nonEmpty.join('/'));
}

/** Go's `path.Base`. */
export function goPathBase(p: string): string {
  if (p === '') return '.';
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** `fmt.Sprintf("%v", []string)`: `[a b]`. */
export function goList(values: readonly string[]): string {
  return `[${values.join(' ')}]`;
}

/** `fmt.Sprintf("%q", []string)`: `["a" "b"]`. */
export function goQuotedList(values: readonly string[]): string {
  return `[${values.map(goQuote).join(' ')}]`;
}

const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * Go's `strconv.ParseUint(s, base, bits)` for an explicit base (no prefix, no sign, no underscores).
 * Returns undefined for a syntax error or a value out of range.
 */
export function goParseUint(s: string, base: number, bits: number): number | undefined {
  if (s === '') return undefined;
  let v = 0n;
  const b = BigInt(base);
  for (const ch of s.toLowerCase()) {
    const d = DIGITS.indexOf(ch);
    if (d < 0 || d >= base) return undefined;
    v = v * b + BigInt(d);
  }
  if (v >= 1n << BigInt(bits)) return undefined;
  return Number(v);
}

/** The outcome of Go's `strconv.ParseInt(s, 10, bits)`, with Go's error text. */
export function goParseInt(s: string, bits: number): { value: number } | { error: string } {
  const m = /^([+-]?)([0-9]+)$/.exec(s);
  if (!m) return { error: `strconv.ParseInt: parsing ${goQuote(s)}: invalid syntax` };
  const v = BigInt(m[2]) * (m[1] === '-' ? -1n : 1n);
  const limit = 1n << BigInt(bits - 1);
  if (v >= limit || v < -limit)
    return { error: `strconv.ParseInt: parsing ${goQuote(s)}: value out of range` };
  return { value: Number(v) };
}

/** Go's `strconv.Atoi` (base 10, optional sign, 64-bit): undefined when `s` is not an integer. */
export function goAtoi(s: string): number | undefined {
  const r = goParseInt(s, 64);
  return 'value' in r ? r.value : undefined;
}

/** Go's `strconv.ParseBool`. */
export function goParseBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}
