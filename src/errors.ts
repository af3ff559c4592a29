/**
 * Typed errors shared by every room. A user mistake is a `UserError` (exit 2) or a `BuildError` (exit 1);
 * the CLI prints these as one clear message and never as a stack trace. Anything else is a bug in tsbuild.
 */

/** Where in a Dockerfile (or other input file) an error points. */
export interface SourceLocation {
  /** The file as the user named it, e.g. `Dockerfile` or `build/app.Dockerfile`. */
  file: string;
  /** 1-based first line of the offending instruction; 0 when the error is about the file as a whole. */
  line: number;
  /** 1-based last line (same as `line` for a one-line instruction). */
  endLine?: number;
  /** The source text of the offending line(s), printed beneath the message. */
  text?: string;
}

export abstract class TsbuildError extends Error {
  abstract readonly exitCode: number;
  readonly location?: SourceLocation;

  constructor(message: string, location?: SourceLocation) {
    super(message);
    this.name = new.target.name;
    this.location = location;
  }

  /** `Dockerfile:12: message` followed by the source line, or just the message when there is no location. */
  format(): string {
    const loc = this.location;
    if (!loc) return this.message;
    const head = loc.line > 0 ? `${loc.file}:${loc.line}: ${this.message}` : `${loc.file}: ${this.message}`;
    if (loc.text === undefined || loc.text === '') return head;
    const lines = loc.text.replace(/\n$/, '').split('\n');
    const first = loc.line > 0 ? loc.line : 1;
    const width = String(first + lines.length - 1).length;
    const quoted = lines.map((l, i) => ` ${String(first + i).padStart(width)} | ${l}`);
    return `${head}\n${quoted.join('\n')}`;
  }
}

/** Bad input: a malformed Dockerfile, a bad flag value, a bad `.dockerignore` pattern. Exit code 2. */
export class UserError extends TsbuildError {
  readonly exitCode = 2;
}

/** The input was fine but the build could not be done: a missing COPY source, a failing RUN. Exit code 1. */
export class BuildError extends TsbuildError {
  readonly exitCode = 1;
}
