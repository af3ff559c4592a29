import { Args, Flags } from '@oclif/core';
import { annotateFromHistory } from '../advice-history';
import { BaseCommand } from '../base-command';
import { parseKeyValues, storeRoot } from '../build-options';
import { checkJson, checkText } from '../check-output';
import { runCheck } from '../check-run';
import { repeatableString } from '../flags';

export default class Check extends BaseCommand {
  static override summary = 'Advice on layer order: what in the Dockerfile costs cache, and how to fix it.';

  static override description =
    'Runs static rules over the Dockerfile (as planned with the build args and target) and its context: ' +
    'CopyAllBeforeInstall, VolatileArgBeforeSlowSteps, AptUpdateSeparate, AddUrlWithoutChecksum, ' +
    'ContextWithoutDockerignore, CopyLinkCandidate, and BuildKit’s SecretsUsedInArgOrEnv. Each finding prints as ' +
    '`Dockerfile:LINE: Rule: message` with a one-line why; a build warns of the same findings. ' +
    '`# check=skip=Rule1,Rule2` (or `skip=all`) turns rules off and `# check=error=true` makes findings an error ' +
    '(exit 1), as with BuildKit; the BUILDKIT_DOCKERFILE_CHECK build arg replaces the directive. ' +
    'Exit 0 when there are only warnings, 2 for a Dockerfile that cannot be read, parsed or planned.';

  static override examples = [
    '<%= config.bin %> check',
    '<%= config.bin %> check -f build/app.Dockerfile --target prod .',
    '<%= config.bin %> check Dockerfile --format json',
  ];

  static override args = {
    context: Args.string({
      description: 'build context as `build` takes it (a directory, a tarball URL, or -), or a Dockerfile',
      default: '.',
      ignoreStdin: true,
    }),
  };

  static override flags = {
    file: Flags.string({
      char: 'f',
      description: 'Dockerfile path (default: CONTEXT/Dockerfile), or - to read it from stdin',
    }),
    format: Flags.string({ options: ['text', 'json'], default: 'text', description: 'output format' }),
    'build-arg': repeatableString({
      description: 'build-time variable (NAME=VALUE, or NAME from the environment), as the build gets it',
    }),
    target: Flags.string({ description: 'the stage the build would build' }),
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Check);
    const result = await runCheck(
      {
        context: args.context,
        file: flags.file,
        root: storeRoot(flags.root),
        buildArgs: parseKeyValues(flags['build-arg'], '--build-arg', true),
        target: flags.target,
        stdin: () => process.stdin,
        warn: (line) => process.stderr.write(`${line}\n`),
      },
      annotateFromHistory,
    );
    const render = flags.format === 'json' ? checkJson : checkText;
    process.stdout.write(render(result.fileName, result.findings, result.notes));
    if (result.violation) throw result.violation;
  }
}
