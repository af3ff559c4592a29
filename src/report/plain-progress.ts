import { contextModesLine, stepId, stepLabel, stepTag, type BuildEvent, type StepRef } from '../events';
import type { ProgressOutput, ProgressView } from './progress-view';
import { StepOutputs } from './step-output';

/**
 * `--progress plain`: stable lines for CI logs. A finished step is one line; a RUN's output comes as whole lines
 * (held until their newline, a `\r`-redrawn bar as its last state) under a short `[stage 2/5] |` prefix, the step's
 * instruction printed once above its first line, since stages running side by side interleave their output.
 */
export function plainProgress(out: ProgressOutput): ProgressView {
  const outputs = new StepOutputs();
  const introduced = new Set<string>();

  const writeLines = (step: StepRef, lines: readonly string[]): void => {
    if (lines.length === 0) return;
    if (!introduced.has(stepId(step))) {
      introduced.add(stepId(step));
      out.write(`${stepLabel(step)}\n`);
    }
    const tag = stepTag(step);
    out.write(lines.map((l) => `${tag} | ${l}\n`).join(''));
  };

  const finish = (step: StepRef): void => {
    writeLines(step, outputs.finish(step));
    introduced.delete(stepId(step));
  };

  return {
    onEvent: (event: BuildEvent) => {
      switch (event.type) {
        case 'step-done':
          finish(event.step);
          out.write(`${doneLine(event)}\n`);
          break;
        case 'step-output':
          writeLines(event.step, outputs.push(event));
          break;
        case 'warning':
          out.write(`WARNING: ${event.message}\n`);
          break;
        case 'restart':
          // The abandoned attempt's unfinished lines are its own: said now, not joined to the next attempt's.
          outputs.pendingSteps().forEach(finish);
          out.write(`WARNING: ${event.reason}\n`);
          break;
        case 'context-modes': {
          const line = contextModesLine(event.normalized);
          if (line) out.write(`${line}\n`);
          break;
        }
        case 'build-done':
          out.write(`${summaryLine(event)}\n`);
          out.write(`image ${event.imageId}\n`);
          break;
        case 'step-start':
        case 'step-log':
          break;
      }
    },
    // A failed build: what the failing step printed last, even without its newline, is often the error itself.
    end: () => outputs.pendingSteps().forEach(finish),
  };
}

/** `[2/5] RUN make  CACHED`, or `[2/5] RUN make  12.30s  (miss: …)`. */
export function doneLine(event: Extract<BuildEvent, { type: 'step-done' }>): string {
  return `${stepLabel(event.step)}  ${doneStatus(event)}`;
}

export function doneStatus(event: Extract<BuildEvent, { type: 'step-done' }>): string {
  return event.cache === 'hit'
    ? 'CACHED'
    : `${seconds(event.durationMs)}  (miss: ${event.reason ?? 'unknown'})`;
}

export function summaryLine(event: Extract<BuildEvent, { type: 'build-done' }>): string {
  const pct = event.steps === 0 ? 100 : Math.round((event.hits / event.steps) * 100);
  return `${event.hits}/${event.steps} steps cached (${pct}%) in ${seconds(event.durationMs)}`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}
