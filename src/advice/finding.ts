/**
 * Making findings: one for a step of a stage (its place counted as the build log counts it: FROM is 1, so
 * `stage.steps[i]` is step i + 2), and the short text a message quotes an instruction by.
 */
import type { Stage, Step } from '../planner/types';
import type { Finding, Rule } from './types';

export function stepFinding(
  rule: Pick<Rule, 'name' | 'why'>,
  stage: Stage,
  stepPosition: number,
  message: string,
): Finding {
  const step = stage.steps[stepPosition];
  return {
    rule: rule.name,
    line: step.line,
    ...(step.endLine !== step.line ? { endLine: step.endLine } : {}),
    stage: stage.displayName,
    stageIndex: stage.index,
    stepIndex: stepPosition + 2,
    message,
    why: rule.why,
  };
}

const MAX_QUOTE = 60;

/** An instruction as a message quotes it: its first line, cut at 60 characters. */
export function quote(step: Pick<Step, 'original'>): string {
  const first = step.original.split('\n')[0].trim();
  return first.length > MAX_QUOTE ? `${first.slice(0, MAX_QUOTE - 1)}…` : first;
}

/** `line 4`, or `line 4 in stage base` when it is not the stage the finding is in. */
export function lineIn(line: number, stage: Stage, here: Stage): string {
  return stage.index === here.index ? `line ${line}` : `line ${line} in stage ${stage.displayName}`;
}

/** `lines 5, 7 and 9` (at most four, then `and N more`). */
export function linesList(lines: readonly number[]): string {
  const shown = lines.slice(0, 4).map(String);
  const more = lines.length - shown.length;
  if (more > 0) return `lines ${shown.join(', ')} and ${more} more`;
  if (shown.length === 1) return `line ${shown[0]}`;
  return `lines ${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
}

/** Does a COPY/ADD copy the whole build context (`.`, `./`, `/`, `*`)? */
export function copiesWholeContext(step: Step): boolean {
  if ((step.kind !== 'copy' && step.kind !== 'add') || step.from !== undefined) return false;
  return step.sources.some((s) => s.kind === 'path' && isWholeContext(s.path));
}

function isWholeContext(p: string): boolean {
  const trimmed = p.replace(/^(?:\.?\/)+/, '').replace(/\/+$/, '');
  return trimmed === '' || trimmed === '.' || trimmed === '*';
}
