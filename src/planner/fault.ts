import { UserError } from '../errors';
import { ShellExpansionError } from '../parser/shell/lex';
import type { SourceSpan } from './types';

/**
 * A planning error whose location is not known where it is raised (a bad flag value, a bad mount option).
 * BuildKit's `parser.WithLocation` pattern: the code that knows which instruction is being planned catches it and
 * turns it into a UserError pointing at that instruction (see SourceText.error).
 */
export class PlanFault extends Error {}

/** The Dockerfile's text, to quote the offending lines under an error. */
export class SourceText {
  constructor(
    readonly fileName: string,
    private readonly lines: readonly string[] | undefined,
  ) {}

  /** A UserError at `span`, quoting its lines (or, without the file's lines, the instruction text). */
  error(message: string, span: SourceSpan): UserError {
    const text =
      this.lines && span.line > 0 && span.line <= this.lines.length
        ? this.lines.slice(span.line - 1, Math.max(span.line, span.endLine)).join('\n')
        : span.original;
    return new UserError(message, { file: this.fileName, line: span.line, endLine: span.endLine, text });
  }

  /** A UserError about the file as a whole (no line). */
  fileError(message: string): UserError {
    return new UserError(message, { file: this.fileName, line: 0 });
  }

  /**
   * Runs `fn`; a PlanFault or a shell-expansion failure inside it becomes a UserError at `span`. Anything else
   * (a UserError that already has a location, or a bug) passes through untouched.
   */
  at<T>(span: SourceSpan, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof PlanFault || err instanceof ShellExpansionError) throw this.error(err.message, span);
      throw err;
    }
  }
}
