import type { EventSink } from '../events';

/** Where a progress view writes, and what it can assume of it. */
export interface ProgressOutput {
  write(text: string): void;
  /** The terminal's width now (it can change while a build runs); absent when not a terminal. */
  columns?(): number | undefined;
  /** Whether colours may be used (a terminal that has them, and no `NO_COLOR`). */
  colour: boolean;
}

/** A build's progress on a terminal or in a log: fed every event, ended once whether the build succeeded or not. */
export interface ProgressView {
  onEvent: EventSink;
  /** Flushes what is held (unfinished output lines, the live area) and stops any timer. */
  end(): void;
}

/** A view that only listens, for outputs with nothing to hold or stop. */
export function eventsOnly(onEvent: EventSink): ProgressView {
  return { onEvent, end: () => undefined };
}
