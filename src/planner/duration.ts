/**
 * Go's `time.ParseDuration` and `Duration.String`, for HEALTHCHECK flags: BuildKit accepts exactly what Go
 * accepts (`1m30s`, `1.5h`, `300ms`, `-1s`) and prints durations Go's way in image history.
 * Values are nanoseconds, as bigint while parsing so that overflow is detected exactly as Go does.
 */
import { goQuote } from './go';

const UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n],
  ['\u03bcs', 1_000n],
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const MAX = (1n << 63n) - 1n;

export class DurationError extends Error {}

/** Parses a Go duration string into nanoseconds; throws DurationError with Go's message. */
export function parseGoDuration(input: string): bigint {
  const invalid = (): DurationError => new DurationError(`time: invalid duration ${goQuote(input)}`);
  let s = input;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw invalid();
    const intMatch = /^[0-9]*/.exec(s)?.[0] ?? '';
    const pre = intMatch !== '';
    let v = pre ? BigInt(intMatch) : 0n;
    if (v > 1n << 63n) throw invalid();
    s = s.slice(intMatch.length);
    let frac = 0n;
    let scale = 1n;
    let post = false;
    if (s.startsWith('.')) {
      s = s.slice(1);
      const fracMatch = /^[0-9]*/.exec(s)?.[0] ?? '';
      post = fracMatch !== '';
      // Go stops accumulating fraction digits once they would overflow; the extra digits change nothing.
      for (const d of fracMatch) {
        if (frac > MAX / 10n) break;
        frac = frac * 10n + BigInt(d);
        scale *= 10n;
      }
      s = s.slice(fracMatch.length);
    }
    if (!pre && !post) throw invalid();
    let i = 0;
    while (i < s.length && s[i] !== '.' && !isDigit(s[i])) i++;
    if (i === 0) throw new DurationError(`time: missing unit in duration ${goQuote(input)}`);
    const unitName = s.slice(0, i);
    s = s.slice(i);
    const unit = UNITS.get(unitName);
    if (unit === undefined) {
      throw new DurationError(`time: unknown unit ${goQuote(unitName)} in duration ${goQuote(input)}`);
    }
    if (v > (1n << 63n) / unit) throw invalid();
    v *= unit;
    if (frac > 0n) {
      // Go computes float64(f) * (float64(unit) / scale) and truncates.
      v += BigInt(Math.trunc(Number(frac) * (Number(unit) / Number(scale))));
      if (v > 1n << 63n) throw invalid();
    }
    total += v;
    if (total > 1n << 63n) throw invalid();
  }
  if (neg) return -total;
  if (total > MAX) throw invalid();
  return total;
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

/** Go's `Duration.String`: `0s`, `1.5µs`, `300ms`, `1m30s`, `1h0m0s`. */
export function formatGoDuration(ns: number | bigint): string {
  let u = BigInt(ns);
  const neg = u < 0n;
  if (neg) u = -u;
  let out: string;
  if (u < 1_000_000_000n) {
    if (u === 0n) return '0s';
    if (u < 1_000n) out = `${u}ns`;
    else if (u < 1_000_000n) out = `${fraction(u, 3)}\u00b5s`;
    else out = `${fraction(u, 6)}ms`;
  } else {
    const secs = fraction(u % 60_000_000_000n, 9);
    const totalMinutes = u / 60_000_000_000n;
    out = `${secs}s`;
    if (totalMinutes > 0n) {
      out = `${totalMinutes % 60n}m${out}`;
      const hours = totalMinutes / 60n;
      if (hours > 0n) out = `${hours}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

/** `v / 10^prec` with the fraction's trailing zeros (and a bare point) dropped. */
function fraction(v: bigint, prec: number): string {
  const p = 10n ** BigInt(prec);
  const whole = v / p;
  const frac = (v % p).toString().padStart(prec, '0').replace(/0+$/, '');
  return frac === '' ? `${whole}` : `${whole}.${frac}`;
}
