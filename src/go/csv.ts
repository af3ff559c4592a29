/**
 * One record as Go's `encoding/csv` reads it, which is how BuildKit and buildx read `--mount`, `--device`,
 * `--cache-to`/`--cache-from` and `--output` values (`type=cache,target=/root/.cache,"id=a,b"`): fields split on
 * commas, a field that starts with `"` runs to its closing quote and `""` inside it is a quote; a bare `"` in an
 * unquoted field and text after a closing quote are errors. Each caller words the error for its own input.
 */

export class CsvError extends Error {
  constructor(
    /** encoding/csv's reason, e.g. `bare " in non-quoted-field`. */
    readonly reason: string,
    /** 1-based column, as encoding/csv counts it. */
    readonly column: number,
  ) {
    super(`parse error on line 1, column ${column}: ${reason}`);
    this.name = 'CsvError';
  }
}

const QUOTE_ERROR = 'extraneous or missing " in quoted-field';

export function csvRecord(record: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (record[i] === '"') {
      i++;
      for (;;) {
        if (i >= record.length) throw new CsvError(QUOTE_ERROR, i + 1);
        if (record[i] === '"') {
          if (record[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += record[i++];
      }
      if (i < record.length && record[i] !== ',') throw new CsvError(QUOTE_ERROR, i + 1);
    } else {
      while (i < record.length && record[i] !== ',') {
        if (record[i] === '"') throw new CsvError('bare " in non-quoted-field', i + 1);
        field += record[i++];
      }
    }
    fields.push(field);
    if (i >= record.length) return fields;
    i++; // the comma
  }
}
