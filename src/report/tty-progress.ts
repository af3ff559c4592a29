import ansiEscapes from 'ansi-escapes';
import cliTruncate from 'cli-truncate';
import stringWidth from 'string-width';
import wrapAnsi from 'wrap-ansi';
import { contextModesLine, stepId, stepLabel, type BuildEvent, type StepRef } from '../events';
import { doneStatus, seconds, summaryLine } from './plain-progress';
import type { ProgressOutput, ProgressView } from './progress-view';
import { displayText, StepOutputs } from './step-output';

/** How many of a running step's last output lines its window shows, as BuildKit's tty view does. */
export const WINDOW_LINES = 6;
/** The timer redraws this often while a step runs (BuildKit: 10 Hz). */
export const TICK_MS = 100;
/** The width when the output is not a terminal (`--progress tty` into a pipe). */
const FALLBACK_COLUMNS = 80;

interface Running {
  step: StepRef;
  started: number;
  /** The last lines it printed, already made safe to show. */
  window: string[];
}

export interface TtyOptions {
  now?: () => number;
  /** Whether to redraw on a timer; tests draw frames themselves. */
  tick?: boolean;
}

/**
 * `--progress tty`, BuildKit's live view: finished steps scroll up as single lines; below them a live area is redrawn
 * in place at 10 Hz: a header with the build's time, then each running step with its ticking timer and a window of
 * its last output lines, which goes away when the step finishes. Every line is cut to the terminal's width, so
 * nothing wraps and the area can always be erased exactly.
 */
export function ttyProgress(out: ProgressOutput, options: TtyOptions = {}): ProgressView {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const running = new Map<string, Running>();
  let outputs = new StepOutputs();
  const paint = palette(out.colour);
  let finishedSteps = 0;
  let drawnLines = 0;
  let timer: NodeJS.Timeout | undefined;

  const width = (): number => Math.max(20, (out.columns?.() ?? FALLBACK_COLUMNS) - 1);
  const fit = (text: string): string => cliTruncate(text, width());
  /** A notice is said whole: folded at word breaks to the width (nothing for the terminal to wrap), not cut. */
  const fold = (text: string): string[] => wrapAnsi(text, width(), { hard: true }).split('\n');

  const liveArea = (): string[] => {
    if (running.size === 0) return [];
    const w = width();
    const t = now();
    const lines = [
      paint.bold(
        fit(`[+] Building ${seconds(t - started)} (${finishedSteps} done, ${running.size} running)`),
      ),
    ];
    for (const r of running.values()) {
      lines.push(withTimer(`=> ${stepLabel(r.step)}`, seconds(t - r.started), w, paint.blue));
      const shown = [...r.window, ...outputs.current(r.step).map(displayText)].slice(-WINDOW_LINES);
      for (const l of shown) lines.push(paint.dim(cliTruncate(`   ${l}`, w)));
    }
    return lines;
  };

  /** Erases the live area, writes the lines that stay, draws the live area again: one write, no flicker. */
  const redraw = (permanent: readonly string[] = []): void => {
    const area = liveArea();
    let text = drawnLines > 0 ? ansiEscapes.eraseLines(drawnLines + 1) : '';
    for (const l of permanent) text += `${l}\n`;
    for (const l of area) text += `${l}\n`;
    drawnLines = area.length;
    if (text !== '') out.write(text);
    if (running.size > 0 && options.tick !== false && timer === undefined) {
      timer = setInterval(() => redraw(), TICK_MS);
      timer.unref();
    } else if (running.size === 0 && timer !== undefined) stop();
  };

  const stop = (): void => {
    clearInterval(timer);
    timer = undefined;
  };

  const keep = (r: Running, lines: readonly string[]): void => {
    r.window.push(...lines.map(displayText));
    if (r.window.length > WINDOW_LINES) r.window.splice(0, r.window.length - WINDOW_LINES);
  };

  return {
    onEvent: (event: BuildEvent) => {
      switch (event.type) {
        case 'step-start':
          running.set(stepId(event.step), { step: event.step, started: now(), window: [] });
          redraw();
          break;
        case 'step-output': {
          const lines = outputs.push(event);
          const r = running.get(stepId(event.step));
          if (r) keep(r, lines);
          // Redrawn by the timer: a process writing thousands of lines a second must not cost a frame per chunk.
          break;
        }
        case 'step-done': {
          running.delete(stepId(event.step));
          outputs.finish(event.step);
          finishedSteps++;
          const status =
            event.cache === 'hit' ? paint.green(doneStatus(event)) : paint.yellow(doneStatus(event));
          redraw([withStatus(stepLabel(event.step), doneStatus(event), status, width())]);
          break;
        }
        case 'warning':
          redraw(fold(`WARNING: ${event.message}`).map(paint.yellow));
          break;
        case 'restart':
          // The steps so far no longer count, nor does what the abandoned attempt's steps left unfinished.
          running.clear();
          outputs = new StepOutputs();
          finishedSteps = 0;
          redraw(fold(`WARNING: ${event.reason}`).map(paint.yellow));
          break;
        case 'context-modes': {
          const line = contextModesLine(event.normalized);
          if (line) redraw(fold(line));
          break;
        }
        case 'build-done':
          redraw([...fold(summaryLine(event)), ...fold(`image ${event.imageId}`)]);
          break;
        case 'step-log':
          break;
      }
    },
    end: () => {
      stop();
      // Steps still running when the build ended failed (or were cut short by the failure): each stays on screen as
      // one line with the last lines it printed, which usually hold the error.
      const t = now();
      const left: string[] = [];
      for (const r of running.values()) {
        keep(r, outputs.finish(r.step));
        left.push(paint.red(withTimer(`=> ERROR ${stepLabel(r.step)}`, seconds(t - r.started), width())));
        for (const l of r.window) left.push(cliTruncate(`   ${l}`, width()));
      }
      running.clear();
      redraw(left);
    },
  };
}

/** `=> [2/5] RUN make …     3.2s`: the label cut with `…` so that the timer sits at the right edge. */
function withTimer(
  label: string,
  timer: string,
  width: number,
  colour: (s: string) => string = (s) => s,
): string {
  const room = width - timer.length - 1;
  const cut = cliTruncate(label, Math.max(1, room));
  return `${cut}${' '.repeat(Math.max(1, width - stringWidth(cut) - timer.length))}${colour(timer)}`;
}

/**
 * A finished step on one line: the label gives way first (down to a third of the line), then the reason's end, so
 * that the cache state and time stay in view.
 */
function withStatus(label: string, status: string, painted: string, width: number): string {
  const labelRoom = Math.max(Math.floor(width / 3), width - stringWidth(status) - 2);
  const cut = cliTruncate(label, labelRoom);
  const statusRoom = width - stringWidth(cut) - 2;
  if (stringWidth(status) <= statusRoom) return `${cut}  ${painted}`;
  return `${cut}  ${cliTruncate(painted, Math.max(1, statusRoom))}`;
}

interface Palette {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  blue(s: string): string;
}

/** SGR colours when the terminal has them; plain text otherwise (NO_COLOR, TERM=dumb, a pipe). */
function palette(colour: boolean): Palette {
  const sgr =
    (open: number, close: number) =>
    (s: string): string =>
      colour ? `\x1b[${open}m${s}\x1b[${close}m` : s;
  return {
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    blue: sgr(34, 39),
  };
}
