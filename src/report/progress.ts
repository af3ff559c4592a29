import { jsonProgress } from './json-progress';
import { plainProgress } from './plain-progress';
import type { ProgressOutput, ProgressView } from './progress-view';
import { ttyProgress } from './tty-progress';

export type ProgressMode = 'auto' | 'plain' | 'tty' | 'json';

/** `--progress`: `auto` is the live view on a terminal and plain lines otherwise, as BuildKit chooses. */
export function progressView(mode: ProgressMode, stream: NodeJS.WriteStream): ProgressView {
  const terminal = stream.isTTY === true;
  const out: ProgressOutput = {
    write: (text) => void stream.write(text),
    columns: () => (terminal ? stream.columns : undefined),
    // Node's answer honours NO_COLOR, FORCE_COLOR and TERM=dumb.
    colour: terminal && stream.hasColors(),
  };
  if (mode === 'json') return jsonProgress(out);
  if (mode === 'tty' || (mode === 'auto' && terminal)) return ttyProgress(out);
  return plainProgress(out);
}
