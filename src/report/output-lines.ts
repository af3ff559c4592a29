/**
 * A RUN's output arrives in whatever pieces the process's writes made: `printf abc; sleep 1; printf 'def\n'` is two
 * chunks of one line, and a progress bar rewrites its line with `\r`. A log shows lines: this joins the pieces up
 * to each newline and keeps only the last state of a line that `\r` rewrote, as a terminal would leave it.
 */

/** A line with no newline for this long is shown as it is: a process must not make the log hold unbounded text. */
export const MAX_PENDING_CHARS = 64 * 1024;

export class OutputLines {
  private pending = '';

  /** Adds a chunk; returns the lines it completed, each in its final state. */
  push(text: string): string[] {
    const parts = (this.pending + text).split('\n');
    this.pending = dropOverwritten(parts.pop() ?? '');
    const lines = parts.map(finalState);
    if (this.pending.length > MAX_PENDING_CHARS) lines.push(this.flush() ?? '');
    return lines;
  }

  /** The unfinished line as it stands now (what a terminal shows on its last line), or '' when there is none. */
  current(): string {
    return finalState(this.pending);
  }

  /** Ends the output: the unfinished line, if any, as a line of its own. */
  flush(): string | null {
    const rest = this.pending;
    this.pending = '';
    return rest === '' ? null : finalState(rest);
  }
}

/** `50%\r100%` → `100%`; `done\r` (a CRLF cut in two, or a bar that returned) → `done`. */
export function finalState(line: string): string {
  const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
  const cut = trimmed.lastIndexOf('\r');
  return cut < 0 ? trimmed : trimmed.slice(cut + 1);
}

/** Forgets what a later `\r` already overwrote, so a bar redrawn for minutes without a newline stays small. */
function dropOverwritten(pending: string): string {
  const cut = pending.lastIndexOf('\r', pending.length - 2);
  return cut < 0 ? pending : pending.slice(cut + 1);
}
