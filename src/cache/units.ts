/**
 * Sizes and ages as users type them for store bounds (`--keep-storage 2GB`, `--keep-duration 7d`) and as the
 * cache commands print them. SI suffixes are powers of 1000 and IEC suffixes powers of 1024, so the number
 * `cache du` prints (SI, like `tsbuild images`) is the number one types back into `--keep-storage`.
 */
import { UserError } from '../errors';

const SIZE_UNITS: ReadonlyMap<string, number> = new Map([
  ['', 1],
  ['b', 1],
  ['k', 1e3],
  ['kb', 1e3],
  ['m', 1e6],
  ['mb', 1e6],
  ['g', 1e9],
  ['gb', 1e9],
  ['t', 1e12],
  ['tb', 1e12],
  ['kib', 1024],
  ['mib', 1024 ** 2],
  ['gib', 1024 ** 3],
  ['tib', 1024 ** 4],
]);

const DURATION_UNITS: ReadonlyMap<string, number> = new Map([
  ['ms', 1],
  ['s', 1000],
  ['m', 60_000],
  ['h', 3_600_000],
  ['d', 86_400_000],
  ['w', 7 * 86_400_000],
]);

/** `500MB`, `2GB`, `1.5GiB`, `1000` (bytes) → bytes. `flag` names the option in the error. */
export function parseSize(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const factor = m ? SIZE_UNITS.get((m[2] ?? '').toLowerCase()) : undefined;
  if (!m || factor === undefined) {
    throw new UserError(`invalid ${flag} "${text}": expected a size such as 500MB, 2GB or 1.5GiB`);
  }
  return Math.floor(Number(m[1]) * factor);
}

/** `24h`, `7d`, `1h30m`, `90s` → milliseconds. */
export function parseAge(text: string, flag: string): number {
  const invalid = (): UserError =>
    new UserError(`invalid ${flag} "${text}": expected a duration such as 24h, 7d or 1h30m`);
  const s = text.trim().toLowerCase();
  if (s === '') throw invalid();
  let total = 0;
  let rest = s;
  while (rest !== '') {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/.exec(rest);
    if (!m) throw invalid();
    total += Number(m[1]) * (DURATION_UNITS.get(m[2] as string) as number);
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}

/** Bytes in SI units with three significant digits: `0B`, `950B`, `1.23kB`, `45.6MB`, `789GB`. */
export function formatSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let n = bytes;
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${u === 0 ? n : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)}${units[u]}`;
}

/** Milliseconds as a short duration: `850ms`, `4.2s`, `3m 05s`, `2h 10m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** How long ago `iso` was, relative to `now`: `just now`, `5 minutes ago`, `3 days ago`. */
export function formatAgo(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'unknown';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  const steps: [number, string][] = [
    [86_400 * 365, 'year'],
    [86_400 * 30, 'month'],
    [86_400 * 7, 'week'],
    [86_400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, name] of steps) {
    const n = Math.floor(s / size);
    if (n >= 1) return `${n} ${name}${n === 1 ? '' : 's'} ago`;
  }
  return s < 10 ? 'just now' : `${s} seconds ago`;
}
