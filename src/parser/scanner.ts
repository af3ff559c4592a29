import { decodeLossless } from './go-text';

/** bufio.Scanner's default maximum token size is 64 KiB; with the newline, a line may hold 65535 bytes. */
export const MAX_LINE_BYTES = 65535;

/**
 * Physical lines of a Dockerfile, the way BuildKit's scanner yields them: line endings kept, a final line without
 * a newline still yielded, and scanning stops (with `tooLong` set) at the first line over the size limit.
 */
export class LineScanner {
  private pos = 0;
  private lineNo = 0;
  /** Set when scanning stopped at an over-long line; holds its 1-based number. */
  tooLongLine = 0;

  constructor(private readonly bytes: Uint8Array) {}

  /** The next physical line (with its `\n`), or undefined at end of input or at an over-long line. */
  next(): string | undefined {
    if (this.tooLongLine > 0 || this.pos >= this.bytes.length) return undefined;
    let end = this.bytes.indexOf(0x0a, this.pos);
    const contentEnd = end < 0 ? this.bytes.length : end;
    if (contentEnd - this.pos > MAX_LINE_BYTES) {
      this.tooLongLine = this.lineNo + 1;
      return undefined;
    }
    end = end < 0 ? this.bytes.length : end + 1;
    const line = decodeLossless(this.bytes.subarray(this.pos, end));
    this.pos = end;
    this.lineNo += 1;
    return line;
  }
}
