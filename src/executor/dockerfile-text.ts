/**
 * The Dockerfile a build reads: its bytes parsed once, and its lines kept so that an error about a step can quote
 * the instruction it is about (the file name, the line range and the text). A Dockerfile that cannot be read is a
 * user's mistake, said in one line.
 */
import { promises as fsp } from 'node:fs';
import { BuildError, TsbuildError, UserError, type SourceLocation } from '../errors';
import { parseDockerfile, type Dockerfile } from '../parser';
import { isErrno } from '../store/atomic';

/** A step's place in the Dockerfile, with its text. */
export interface StepLocation {
  file: string;
  line: number;
  endLine: number;
  text: string;
}

export class DockerfileText {
  private constructor(
    readonly fileName: string,
    readonly parsed: Dockerfile,
    readonly lines: string[],
    /** The bytes as read, for what BuildKit reads from them rather than from the AST (the `# check=` directive). */
    readonly bytes: Buffer,
  ) {}

  /** Reads and parses `file` (named `fileName` in messages). */
  static async read(file: string, fileName: string): Promise<DockerfileText> {
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(file);
    } catch (err) {
      const why = isErrno(err, 'EISDIR')
        ? 'it is a directory'
        : isErrno(err, 'EACCES')
          ? 'permission denied'
          : 'no such file';
      throw new UserError(`failed to read Dockerfile: ${fileName}: ${why}`);
    }
    return DockerfileText.parse(bytes, fileName);
  }

  /** Parses a Dockerfile that came as bytes (from stdin, say), named `fileName` in messages. */
  static parse(bytes: Buffer, fileName: string): DockerfileText {
    const lines = bytes.toString('utf8').split(/\r?\n/);
    return new DockerfileText(fileName, parseDockerfile(bytes, { fileName }), lines, bytes);
  }

  /** Where lines `line`–`endLine` are, with their text, for an error about them. */
  location(line: number, endLine: number): StepLocation {
    return { file: this.fileName, line, endLine, text: this.lines.slice(line - 1, endLine).join('\n') };
  }

  /** Runs `fn`; an error it raises without a Dockerfile location (a sandbox failure, say) gets `location`. */
  async locate<T>(location: SourceLocation, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof TsbuildError && !err.location) throw new BuildError(err.message, location);
      throw err;
    }
  }
}
