import { Args, Flags } from '@oclif/core';
import * as fs from 'node:fs';
import { UserError } from '../../errors';
import { dumpDockerfile, parseDockerfile } from '../../parser';
import { BaseCommand } from '../base-command';

export default class Parse extends BaseCommand {
  static override summary = 'Parse a Dockerfile and print its syntax tree.';

  static override description =
    'Parses FILE exactly as BuildKit (the parser behind `docker build`) does and prints the result. ' +
    '`--format sexp` prints the dump format of BuildKit’s parser tests, one instruction per line. ' +
    '`--format json` prints the whole AST: directives, escape token, warnings, and for each instruction its ' +
    'keyword, flags, arguments, exec or shell form, heredocs, original text and line range.\n\n' +
    'A syntax error prints `FILE:LINE: message` with the offending line beneath and exits with status 2.';

  static override examples = [
    '<%= config.bin %> parse',
    '<%= config.bin %> parse fixtures/example/Dockerfile --format json',
    'cat Dockerfile | <%= config.bin %> parse -',
  ];

  static override args = {
    file: Args.string({
      ignoreStdin: true,
      description: 'Dockerfile to parse, or - for standard input',
      default: 'Dockerfile',
    }),
  };

  static override flags = {
    format: Flags.string({ options: ['sexp', 'json'], default: 'sexp', description: 'output format' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Parse);
    const file = args.file;
    const bytes = readInput(file);
    const dockerfile = parseDockerfile(bytes, { fileName: file === '-' ? 'Dockerfile' : file });
    for (const warning of dockerfile.warnings) {
      process.stderr.write(`${file}:${warning.startLine}: warning: ${warning.short}\n`);
    }
    if (flags.format === 'json') process.stdout.write(`${JSON.stringify(dockerfile, null, 2)}\n`);
    else process.stdout.write(dumpDockerfile(dockerfile));
  }
}

function readInput(file: string): Buffer {
  try {
    return file === '-' ? fs.readFileSync(0) : fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(code);
    throw new UserError(`cannot read Dockerfile ${file}: ${why}`);
  }
}
