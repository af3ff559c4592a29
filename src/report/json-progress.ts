import type { BuildEvent } from '../events';
import { eventsOnly, type ProgressOutput, type ProgressView } from './progress-view';

/** `--progress json`: every event as one JSON object per line, for tools (output chunks as the process wrote them). */
export function jsonProgress(out: ProgressOutput): ProgressView {
  return eventsOnly((event: BuildEvent) => out.write(`${JSON.stringify(event)}\n`));
}
