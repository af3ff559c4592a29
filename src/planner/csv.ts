/**
 * One CSV record, as `--mount` and `--device` values are read (`type=cache,target=/root/.cache,"id=a,b"`):
 * fields split on commas, a field that starts with `"` runs to its closing quote and `""` inside it is a quote.
 */
import { PlanFault } from './fault';

export function csvFields(record: string, what: string): string[] {
  const fields: string[] = [];
  let i = 0;
  const fail = (reason: string, col: number): PlanFault =>
    new PlanFault(`failed to parse csv ${what}: parse error on line 1, column ${col}: ${reason}`);
  for (;;) {
    let field = '';
    if (record[i] === '"') {
      i++;
      for (;;) {
        if (i >= record.length) throw fail('extraneous or missing " in quoted-field', i + 1);
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
      if (i < record.length && record[i] !== ',')
        throw fail('extraneous or missing " in quoted-field', i + 1);
    } else {
      while (i < record.length && record[i] !== ',') {
        if (record[i] === '"') throw fail('bare " in non-quoted-field', i + 1);
        field += record[i++];
      }
    }
    fields.push(field);
    if (i >= record.length) return fields;
    i++; // the comma
  }
}
