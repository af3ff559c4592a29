import { contextModesLine, stepLabel, type BuildEvent, type EventSink, type StepRef } from '../events';
import { seconds } from './plain-progress';

/**
 * `--progress tty`: the steps still running are redrawn in place below the finished ones, so a terminal shows
 * what is happening now without scrolling a line per tick.
 */
export function ttyProgress(write: (text: string) => void): EventSink {
  const running = new Map<string, { step: StepRef; started: number }>();
  let drawn = 0;
  const key = (s: StepRef): string => `${s.stageIndex}/${s.index}`;

  const redraw = (finished: string[]): void => {
    let out = drawn > 0 ? `\x1b[${drawn}A\x1b[J` : '';
    out += finished.join('');
    const now = Date.now();
    const lines = [...running.values()].map((r) => `${stepLabel(r.step)}  ${seconds(now - r.started)} …\n`);
    out += lines.join('');
    drawn = lines.length;
    write(out);
  };

  return (event: BuildEvent) => {
    switch (event.type) {
      case 'step-start':
        running.set(key(event.step), { step: event.step, started: Date.now() });
        redraw([]);
        break;
      case 'step-done': {
        running.delete(key(event.step));
        const label = stepLabel(event.step);
        const line =
          event.cache === 'hit'
            ? `${label}  \x1b[32mCACHED\x1b[0m\n`
            : `${label}  ${seconds(event.durationMs)}  \x1b[33m(miss: ${event.reason ?? 'unknown'})\x1b[0m\n`;
        redraw([line]);
        break;
      }
      case 'step-output':
        redraw(
          event.text
            .replace(/\n$/, '')
            .split('\n')
            .map((l) => `${stepLabel(event.step)} | ${l}\n`),
        );
        break;
      case 'warning':
        redraw([`WARNING: ${event.message}\n`]);
        break;
      case 'restart':
        running.clear();
        redraw([`WARNING: ${event.reason}\n`]);
        break;
      case 'context-modes': {
        const line = contextModesLine(event.normalized);
        if (line) redraw([`${line}\n`]);
        break;
      }
      case 'build-done': {
        const pct = event.steps === 0 ? 100 : Math.round((event.hits / event.steps) * 100);
        redraw([
          `${event.hits}/${event.steps} steps cached (${pct}%) in ${seconds(event.durationMs)}\n`,
          `image ${event.imageId}\n`,
        ]);
        break;
      }
    }
  };
}
