/**
 * The Dockerfile's shape: every instruction parsed and checked (in file order, so the first bad line is the one
 * reported), the global ARGs before the first FROM, and each FROM with the instructions under it.
 */
import type { Dockerfile } from '../parser/ast';
import type { ArgCommand, Command, FromCommand } from './commands';
import type { SourceText } from './fault';
import { parseCommand } from './parse-command';
import type { SourceSpan } from './types';

export interface RawStage {
  from: FromCommand;
  commands: Command[];
}

export interface DockerfileShape {
  metaArgs: ArgCommand[];
  stages: RawStage[];
}

export function shapeOf(df: Dockerfile, src: SourceText): DockerfileShape {
  const metaArgs: ArgCommand[] = [];
  const stages: RawStage[] = [];
  for (const ins of df.instructions) {
    const span: SourceSpan = { line: ins.startLine, endLine: ins.endLine, original: ins.original };
    const cmd = src.at(span, () => parseCommand(ins, span, false));
    if (cmd.kind === 'from') {
      stages.push({ from: cmd, commands: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].commands.push(cmd);
    } else if (cmd.kind === 'arg') {
      metaArgs.push(cmd);
    } else {
      throw src.error('no build stage in current context', span);
    }
  }
  if (stages.length === 0) throw src.fileError('dockerfile contains no stages to build');
  return { metaArgs, stages };
}
