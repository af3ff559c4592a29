import { shortDigest } from '../store/digest';
import { stepLabel, type StepRef } from '../events';

/** How many of a failed step's last output lines the error shows, as BuildKit's error does. */
export const FAILURE_TAIL_LINES = 10;

export interface FailedStep {
  step: StepRef;
  output: readonly string[];
  /** The key its whole log is saved under (`tsbuild logs KEY`), when it ran a command. */
  logKey: string | undefined;
}

/**
 * The block printed above a failed build's error, as BuildKit prints it: the step and the last lines of its output
 * (all of them with `-q`, where nothing was shown while it ran), and where the whole log is.
 */
export function failureBlock(failed: FailedStep, tailLines: number | 'all' = FAILURE_TAIL_LINES): string {
  const lines = tailLines === 'all' ? failed.output : failed.output.slice(-tailLines);
  const cut = failed.output.length - lines.length;
  const out = ['------', ` > ${stepLabel(failed.step)}:`];
  if (cut > 0) out.push(`[${cut} earlier line${cut === 1 ? '' : 's'} not shown]`);
  // Every output line behind a `| ` (BuildKit puts its timestamps there): a line of a RUN's must never start a line
  // of ours, where a CI runner would take `::add-mask::…` or `::stop-commands::…` as a workflow command.
  out.push(...lines.map((l) => `| ${l}`), '------');
  if (failed.logKey !== undefined) out.push(`the whole log: tsbuild logs ${shortDigest(failed.logKey)}`);
  return `${out.join('\n')}\n`;
}
