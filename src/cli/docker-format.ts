/**
 * How docker's CLI prints times and long text in its tables (`docker images`, `docker history`), so that tsbuild's
 * same-named commands read the same: `2 hours ago` (go-units `HumanDuration` + " ago"), `…`-truncated text
 * (`formatter.Ellipsis`), columns three spaces apart.
 */

/** go-units `HumanDuration`: `Less than a second`, `About a minute`, `3 hours`, `2 weeks`, `5 years`. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** A CREATED cell: `2 hours ago`, or `N/A` for a time the image does not give (or cannot be read). */
export function createdSince(iso: string | undefined, now = Date.now()): string {
  const t = iso === undefined ? NaN : Date.parse(iso);
  if (Number.isNaN(t)) return 'N/A';
  return `${humanDuration(Math.max(0, now - t))} ago`;
}

/** docker's `Ellipsis`: at most `max` characters, the last one `…` when cut. */
export function ellipsis(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  return `${chars.slice(0, max - 1).join('')}…`;
}

/** Rows as docker's tabwriter lays them out: each column as wide as its widest cell, three spaces between. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const width = (s: string): number => [...s].length;
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((row) => width(row[i] ?? ''))));
  return rows
    .map(
      (row) =>
        `${row
          .map((c, i) => c + ' '.repeat((widths[i] ?? 0) - width(c)))
          .join('   ')
          .trimEnd()}\n`,
    )
    .join('');
}

/** go-units `HumanSize`: three significant digits, SI units, no trailing zeros: `0B`, `12B`, `1.5kB`, `121MB`. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let n = bytes;
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${Number(n.toPrecision(3))}${units[u] ?? ''}`;
}
