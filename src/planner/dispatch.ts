/**
 * Plans one stage's steps in order: each command is expanded against the stage's state as it stands, turned
 * into a step that carries a snapshot of that state, and then applied to the state.
 */
import type { Command } from './commands';
import type { DispatchContext, StepBody } from './dispatch-context';
import type { SourceText } from './fault';
import { copyStep } from './steps-copy';
import {
  argStep,
  cmdStep,
  entrypointStep,
  envStep,
  exposeStep,
  healthcheckStep,
  labelStep,
  maintainerStep,
  onbuildStep,
  shellStep,
  stopSignalStep,
  userStep,
  volumeStep,
  workdirStep,
} from './steps-config';
import { runStep } from './steps-run';
import type { Step } from './types';

/** Plans `commands` in `ctx` (whose state they change); `onStep` sees each step as soon as it is planned. */
export function dispatchCommands(
  commands: readonly Command[],
  ctx: DispatchContext,
  src: SourceText,
  onStep: (step: Step) => void,
): void {
  for (const cmd of commands) {
    const context = ctx.state.snapshot();
    const body = src.at(cmd.span, () => stepBody(cmd, ctx));
    const step = {
      ...body,
      line: cmd.span.line,
      endLine: cmd.span.endLine,
      original: cmd.span.original,
      fromOnBuild: cmd.fromOnBuild,
      context,
    } as Step;
    onStep(step);
  }
}

function stepBody(cmd: Command, ctx: DispatchContext): StepBody<Step> {
  switch (cmd.kind) {
    case 'env':
      return envStep(cmd, ctx);
    case 'label':
      return labelStep(cmd, ctx);
    case 'arg':
      return argStep(cmd, ctx);
    case 'workdir':
      return workdirStep(cmd, ctx);
    case 'user':
      return userStep(cmd, ctx);
    case 'volume':
      return volumeStep(cmd, ctx);
    case 'expose':
      return exposeStep(cmd, ctx);
    case 'stopsignal':
      return stopSignalStep(cmd, ctx);
    case 'shell':
      return shellStep(cmd, ctx);
    case 'cmd':
      return cmdStep(cmd, ctx);
    case 'entrypoint':
      return entrypointStep(cmd, ctx);
    case 'healthcheck':
      return healthcheckStep(cmd);
    case 'maintainer':
      return maintainerStep(cmd);
    case 'onbuild':
      return onbuildStep(cmd);
    case 'run':
      return runStep(cmd, ctx);
    case 'add':
    case 'copy':
      return copyStep(cmd, ctx);
  }
}
