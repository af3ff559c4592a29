import { contextModesLine, stepLabel, type BuildEvent, type EventSink } from '../events';

/**
 * `--progress plain`: one stable line per finished step, meant for CI logs. Concurrent stages finish in any
 * order, so a step is printed whole when it is done rather than started on one line and finished on another.
 */
export function plainProgress(write: (text: string) => void): EventSink {
  return (event: BuildEvent) => {
    switch (event.type) {
      case 'step-done': {
        const label = stepLabel(event.step);
        if (event.cache === 'hit') write(`${label}  CACHED\n`);
        else write(`${label}  ${seconds(event.durationMs)}  (miss: ${event.reason ?? 'unknown'})\n`);
        break;
      }
      case 'step-output':
        for (const line of event.text.replace(/\n$/, '').split('\n'))
          write(`${stepLabel(event.step)} | ${line}\n`);
        break;
      case 'warning':
        write(`WARNING: ${event.message}\n`);
        break;
      case 'restart':
        write(`WARNING: ${event.reason}\n`);
        break;
      case 'context-modes': {
        const line = contextModesLine(event.normalized);
        if (line) write(`${line}\n`);
        break;
      }
      case 'build-done': {
        const pct = event.steps === 0 ? 100 : Math.round((event.hits / event.steps) * 100);
        write(`${event.hits}/${event.steps} steps cached (${pct}%) in ${seconds(event.durationMs)}\n`);
        write(`image ${event.imageId}\n`);
        break;
      }
      case 'step-start':
        break;
    }
  };
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}
