import type { BuildEvent, EventSink } from '../events';

/** `--progress json`: every event as one JSON object per line, for tools. */
export function jsonProgress(write: (text: string) => void): EventSink {
  return (event: BuildEvent) => write(`${JSON.stringify(event)}\n`);
}
