/** Aligned text tables for the `cache` commands, as `tsbuild images` prints them. */

/** Rows (the first is the header) padded to column width, three spaces apart, trailing spaces trimmed. */
export function formatTable(
  rows: readonly (readonly string[])[],
  rightAligned: readonly number[] = [],
): string {
  const header = rows[0] ?? [];
  const widths = header.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows
    .map(
      (row) =>
        `${row
          .map((cell, i) =>
            rightAligned.includes(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0),
          )
          .join('   ')
          .trimEnd()}\n`,
    )
    .join('');
}
