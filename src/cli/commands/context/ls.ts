import { Args, Flags } from '@oclif/core';
import * as path from 'node:path';
import { loadIgnorePatterns, matcherFromIgnoreFile, walkContext } from '../../../context';
// The same order the context room sorts names by (UTF-8 bytes, as Go does), so output is stable across tools.
import { compareCodePoints } from '../../../context/go-path';
import { BaseCommand } from '../../base-command';

export default class ContextLs extends BaseCommand {
  static override summary = 'List the paths of a build context, after .dockerignore: what will be sent.';

  static override description =
    'Walks CONTEXT exactly as a build does and prints every path the build sees (files, directories, ' +
    'symlinks, device nodes), relative and `/`-separated, one per line, sorted by code point.\n\n' +
    'The ignore file is `<Dockerfile>.dockerignore` when it exists, else CONTEXT/.dockerignore. The Dockerfile ' +
    'and the ignore file are listed only when the patterns do not exclude them: the builder always reads them, ' +
    'but COPY can only see them when they are listed.\n\n' +
    'A bad pattern prints `FILE:LINE: message` and exits with status 2.';

  static override examples = [
    '<%= config.bin %> context ls',
    '<%= config.bin %> context ls fixtures/example',
    '<%= config.bin %> context ls . -f build/app.Dockerfile',
  ];

  static override args = {
    context: Args.string({ ignoreStdin: true, description: 'build context directory', default: '.' }),
  };

  static override flags = {
    file: Flags.string({
      char: 'f',
      description: 'Dockerfile whose `<Dockerfile>.dockerignore` applies (default: CONTEXT/Dockerfile)',
    }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ContextLs);
    const contextDir = args.context;
    // As with `docker build -f`, a relative Dockerfile path is relative to the working directory.
    const dockerfile = flags.file ?? path.join(contextDir, 'Dockerfile');
    const matcher = matcherFromIgnoreFile(await loadIgnorePatterns(contextDir, dockerfile));
    const entries = await walkContext(contextDir, matcher);
    const paths = entries.map((e) => e.path).sort(compareCodePoints);
    process.stdout.write(paths.map((p) => `${p}\n`).join(''));
  }
}
