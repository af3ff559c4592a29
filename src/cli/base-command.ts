import { Command } from '@oclif/core';
import { TsbuildError } from '../errors';

/**
 * Every tsbuild command extends this: a `TsbuildError` becomes one clear message on stderr and the error's exit
 * code, never a stack trace. Unknown errors still propagate so that bugs stay visible.
 */
export abstract class BaseCommand extends Command {
  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (err instanceof TsbuildError) {
      process.stderr.write(`${err.format()}\n`);
      this.exit(err.exitCode);
    }
    return super.catch(err);
  }
}
