import stripAnsi from 'strip-ansi';
import { stepId, type BuildEvent, type StepRef } from '../events';
import { OutputLines } from './output-lines';

type OutputEvent = Extract<BuildEvent, { type: 'step-output' }>;

/**
 * The output of the steps running now, as lines: one assembler per step and stream, so that a partial line on
 * stdout is not cut by a whole one on stderr, nor one stage's by another's.
 */
export class StepOutputs {
  private readonly steps = new Map<string, { step: StepRef; stdout: OutputLines; stderr: OutputLines }>();

  /** The lines this chunk completed. */
  push(event: OutputEvent): string[] {
    return this.of(event.step)[event.stream].push(event.text);
  }

  /** The step's unfinished lines as they stand now (stdout's first), for a live view. */
  current(step: StepRef): string[] {
    const s = this.steps.get(stepId(step));
    if (!s) return [];
    return [s.stdout.current(), s.stderr.current()].filter((l) => l !== '');
  }

  /** The step is over: its unfinished lines, as lines; it is forgotten. */
  finish(step: StepRef): string[] {
    const s = this.steps.get(stepId(step));
    if (!s) return [];
    this.steps.delete(stepId(step));
    return [s.stdout.flush(), s.stderr.flush()].filter((l): l is string => l !== null);
  }

  /** Every step still holding output, for the end of a build that failed. */
  pendingSteps(): StepRef[] {
    return [...this.steps.values()].map((s) => s.step);
  }

  private of(step: StepRef): { step: StepRef; stdout: OutputLines; stderr: OutputLines } {
    const id = stepId(step);
    let s = this.steps.get(id);
    if (!s) {
      s = { step, stdout: new OutputLines(), stderr: new OutputLines() };
      this.steps.set(id, s);
    }
    return s;
  }
}

/**
 * A line of a process's output made safe to show in a terminal's live area: escape sequences (colours, cursor
 * moves, a clear-screen) and control characters dropped, tabs as spaces, so that its width is what it looks like.
 */
export function displayText(line: string): string {
  return stripAnsi(line).replace(/\t/g, '    ').replace(CONTROL_CHARS, '');
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what is removed here
const CONTROL_CHARS = /[\x00-\x08\x0b-\x1f\x7f]/g;
