import { UserError } from '../errors';

/**
 * A Dockerfile that BuildKit's parser would reject. `line`/`endLine` are 1-based physical lines; the CLI prints
 * `Dockerfile:LINE: message` with the offending text beneath.
 */
export class DockerfileSyntaxError extends UserError {
  constructor(
    message: string,
    readonly file: string,
    readonly line: number,
    readonly endLine: number,
    text: string,
  ) {
    super(message, { file, line, endLine, text });
  }
}

/** Raised inside the line parsers, before the location is known; `parse` turns it into a DockerfileSyntaxError. */
export class LineParseError extends Error {}
