/**
 * One CSV record of a `--mount` or `--device` value, with BuildKit's error wording (the reading itself is Go's
 * encoding/csv, `src/go/csv.ts`).
 */
import { CsvError, csvRecord } from '../go/csv';
import { PlanFault } from './fault';

export function csvFields(record: string, what: string): string[] {
  try {
    return csvRecord(record);
  } catch (err) {
    if (err instanceof CsvError) throw new PlanFault(`failed to parse csv ${what}: ${err.message}`);
    throw err;
  }
}
