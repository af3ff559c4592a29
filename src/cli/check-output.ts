/**
 * `tsbuild check`'s output. Text: each finding as `Dockerfile:LINE: Rule: message`, its why beneath (and the
 * annotator's note, when there is one), then a count; `Dockerfile: no findings` when there are none. JSON: the
 * findings as the advice room makes them, each with its note as `history`.
 */
import type { Finding } from '../advice';

export function checkText(
  fileName: string,
  findings: readonly Finding[],
  notes: readonly (string | undefined)[],
): string {
  if (findings.length === 0) return `${fileName}: no findings\n`;
  const lines: string[] = [];
  findings.forEach((f, i) => {
    lines.push(`${fileName}:${f.line}: ${f.rule}: ${f.message}`);
    lines.push(`    why: ${f.why}`);
    const note = notes[i];
    if (note !== undefined) lines.push(`    history: ${note}`);
  });
  const rules = new Set(findings.map((f) => f.rule)).size;
  const count = `${findings.length} finding${findings.length === 1 ? '' : 's'}`;
  lines.push(`${count} (${rules} rule${rules === 1 ? '' : 's'}); # check=skip=RULE turns a rule off`);
  return `${lines.join('\n')}\n`;
}

export interface CheckJson {
  file: string;
  findings: (Finding & { history?: string })[];
}

export function checkJson(
  fileName: string,
  findings: readonly Finding[],
  notes: readonly (string | undefined)[],
): string {
  const doc: CheckJson = {
    file: fileName,
    findings: findings.map((f, i) => {
      const note = notes[i];
      return note === undefined ? f : { ...f, history: note };
    }),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
