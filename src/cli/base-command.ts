import { Command, Errors } from '@oclif/core';
import { TsbuildError } from '../errors';

/** errno codes that mean "this path cannot be used as asked": the user's to fix, told in one line. */
const PATH_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EEXIST: 'it exists already',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many levels of symbolic links',
};

/**
 * Every tsbuild command extends this: a `TsbuildError` becomes one clear message on stderr and the error's exit
 * code, never a stack trace; so does a file-system error (the path, what was being done, why: exit 1 for a full
 * disk, 2 for a path the user gave that cannot be used) and a flag or argument oclif cannot parse (one line and a
 * pointer to --help, not the whole help page). Other errors still propagate so that bugs stay visible.
 */
export abstract class BaseCommand extends Command {
  /** What `whenDone` was given, run once the command has ended. */
  private readonly atEnd: (() => Promise<void>)[] = [];

  /**
   * Runs `fn` once the command has ended, however it ended (after a failure has been reported): for what the
   * command made and must not leave behind, such as a scratch directory. The last one given runs first.
   */
  protected whenDone(fn: () => Promise<void>): void {
    this.atEnd.push(fn);
  }

  protected override async finally(err: Error | undefined): Promise<unknown> {
    for (const fn of this.atEnd.splice(0).reverse()) await fn();
    return super.finally(err);
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (err instanceof TsbuildError) {
      process.stderr.write(`${err.format()}\n`);
      this.exit(err.exitCode);
    }
    const fsError = describeFsError(err);
    if (fsError !== undefined) {
      process.stderr.write(`${fsError.message}\n`);
      this.exit(fsError.exitCode);
    }
    if (err instanceof Errors.CLIError && !(err instanceof Errors.ExitError)) {
      // oclif's usage errors (unknown flag, missing value, bad option, missing argument): one line, not the help.
      const lines = err.message.split('\n');
      const end = lines.findIndex((l) => /^(See more help|Note: )/.test(l.trim()));
      const said = (end < 0 ? lines : lines.slice(0, end))
        .join(' ')
        .replace(/\s+/g, ' ')
        .replace(/^Nonexistent flags?:/, 'unknown flag:')
        .trim();
      process.stderr.write(
        `${said}; see ${[this.config.bin, this.id, '--help'].filter(Boolean).join(' ')}\n`,
      );
      this.exit(2);
    }
    return super.catch(err);
  }
}

function describeFsError(err: Error): { message: string; exitCode: number } | undefined {
  const e = err as NodeJS.ErrnoException;
  const why = e.code !== undefined ? PATH_ERRORS[e.code] : undefined;
  if (why === undefined) return undefined;
  const full = e.code === 'ENOSPC' || e.code === 'EDQUOT';
  if (typeof e.path !== 'string') {
    // A write to an open file names no path: a full disk is still one line (the store is the likely place).
    if (full)
      return { message: `cannot ${e.syscall ?? 'write'}: ${why} (cache prune frees space)`, exitCode: 1 };
    return undefined;
  }
  const shown = e.path.replace(/\/\.([^/]+)\.\d+\.[0-9a-f]+\.tmp$/, '/$1'); // a temp file stands for its target
  const doing = e.syscall !== undefined ? `cannot ${e.syscall} ` : 'cannot use ';
  return { message: `${doing}${shown}: ${why}`, exitCode: full ? 1 : 2 };
}
