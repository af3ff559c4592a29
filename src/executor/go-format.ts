/**
 * Go's fmt verbs as BuildKit uses them in image history (`created_by`): the same Dockerfile must give the same
 * history text as `docker build`, so these reproduce Go's output exactly.
 */
import { goQuote } from '../parser/go-text';

/** `fmt.Sprintf("%q", []string{…})`: `["a" "b c"]`. */
export function goQuotedList(items: readonly string[]): string {
  return `[${items.map(goQuote).join(' ')}]`;
}

/** `fmt.Sprintf("%v", []string{…})`: `[a b c]`. */
export function goPlainList(items: readonly string[]): string {
  return `[${items.join(' ')}]`;
}

/** Go's `time.Duration.String()` for a duration in nanoseconds: `0s`, `1.5s`, `100ms`, `1m30s`, `1h0m0s`. */
export function goDuration(nanos: number): string {
  if (nanos === 0) return '0s';
  const neg = nanos < 0;
  let u = Math.abs(Math.trunc(nanos));
  let out: string;
  if (u < 1e9) {
    // Sub-second: the largest unit that keeps the integer part non-zero.
    const [unit, scale] = u < 1e3 ? ['ns', 1] : u < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = `${trimFraction(u / scale, scale)}${unit}`;
  } else {
    const hours = Math.floor(u / 3.6e12);
    u -= hours * 3.6e12;
    const minutes = Math.floor(u / 6e10);
    u -= minutes * 6e10;
    const seconds = `${trimFraction(u / 1e9, 1e9)}s`;
    out = hours > 0 ? `${hours}h${minutes}m${seconds}` : minutes > 0 ? `${minutes}m${seconds}` : seconds;
  }
  return neg ? `-${out}` : out;
}

/** A decimal without trailing zeros, with at most as many fraction digits as the unit has. */
function trimFraction(value: number, scale: number): string {
  const digits = Math.round(Math.log10(scale));
  return digits === 0 ? String(Math.round(value)) : value.toFixed(digits).replace(/\.?0+$/, '');
}
