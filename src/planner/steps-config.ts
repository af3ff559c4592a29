/**
 * Steps that only change the image config or the stage's state: ENV, LABEL, ARG, WORKDIR, USER, VOLUME,
 * EXPOSE, STOPSIGNAL, SHELL, CMD, ENTRYPOINT, HEALTHCHECK, MAINTAINER, ONBUILD. Each expands what BuildKit
 * expands for it (RUN-like commands and HEALTHCHECK are never expanded) and records BuildKit's history text.
 */
import type {
  ArgCommand,
  CmdCommand,
  CmdLine,
  EntrypointCommand,
  EnvCommand,
  ExposeCommand,
  HealthcheckCommand,
  LabelCommand,
  MaintainerCommand,
  OnbuildCommand,
  ShellCommand,
  StopSignalCommand,
  UserCommand,
  VolumeCommand,
  WorkdirCommand,
} from './commands';
import { NON_ENV_ARGS } from './args';
import { expandWord, type DispatchContext, type StepBody } from './dispatch-context';
import { formatGoDuration } from './duration';
import { parsePortSpecs } from './expose';
import { PlanFault } from './fault';
import { goList, goQuotedList } from './go';
import { normalizeWorkdir } from './paths';
import { validateSignal } from './signal';
import type {
  ArgDeclaration,
  ArgStep,
  CmdStep,
  CommandLine,
  EntrypointStep,
  EnvStep,
  ExposeStep,
  HealthcheckStep,
  KeyValue,
  LabelStep,
  MaintainerStep,
  OnbuildStep,
  ShellStep,
  StopSignalStep,
  UserStep,
  VolumeStep,
  WorkdirStep,
} from './types';

/** ENV: every key and value expanded against the environment before the instruction, then set in order. */
export function envStep(cmd: EnvCommand, ctx: DispatchContext): StepBody<EnvStep> {
  const vars = expandPairs(cmd.pairs, ctx);
  for (const v of vars) ctx.state.env.set(v.key, v.value);
  return { kind: 'env', vars, createdBy: `ENV ${vars.map((v) => `${v.key}=${v.value}`).join(' ')}` };
}

export function labelStep(cmd: LabelCommand, ctx: DispatchContext): StepBody<LabelStep> {
  const labels = expandPairs(cmd.pairs, ctx);
  return { kind: 'label', labels, createdBy: `LABEL ${labels.map((v) => `${v.key}=${v.value}`).join(' ')}` };
}

function expandPairs(pairs: readonly { key: string; value: string }[], ctx: DispatchContext): KeyValue[] {
  return pairs.map((p) => ({ key: expandWord(ctx, p.key), value: expandWord(ctx, p.value) }));
}

/**
 * ARG, one name at a time (a later default sees an earlier one): the --build-arg value as given, else the
 * default expanded, else the global value of that name; a name with a value joins the environment.
 */
export function argStep(cmd: ArgCommand, ctx: DispatchContext): StepBody<ArgStep> {
  const args: ArgDeclaration[] = [];
  for (const pair of cmd.args) {
    const given = ctx.buildArgs.get(pair.key);
    let value: string | undefined;
    let source: ArgDeclaration['source'] = 'unset';
    if (given !== undefined) {
      value = given;
      source = 'build-arg';
    } else if (pair.value !== undefined) {
      value = expandWord(ctx, pair.value);
      source = 'default';
    } else {
      value = ctx.globalArgs.get(pair.key);
      if (value !== undefined) source = 'global';
    }
    if (value !== undefined && !NON_ENV_ARGS.has(pair.key)) ctx.state.env.set(pair.key, value);
    ctx.state.declareArg(pair.key, value);
    const decl: ArgDeclaration = { key: pair.key, source };
    if (pair.value !== undefined) decl.default = pair.value;
    if (value !== undefined) decl.value = value;
    args.push(decl);
  }
  const text = args.map((a) => (a.value === undefined ? a.key : `${a.key}=${a.value}`)).join(' ');
  return { kind: 'arg', args, createdBy: `ARG ${text}` };
}

export function workdirStep(cmd: WorkdirCommand, ctx: DispatchContext): StepBody<WorkdirStep> {
  const path = expandWord(ctx, cmd.path);
  const resolved = normalizeWorkdir(ctx.state.workdir, path);
  ctx.state.workdir = resolved;
  return { kind: 'workdir', path, resolved, createdBy: `WORKDIR ${resolved}` };
}

export function volumeStep(cmd: VolumeCommand, ctx: DispatchContext): StepBody<VolumeStep> {
  const volumes = cmd.volumes.map((v) => expandWord(ctx, v));
  if (volumes.some((v) => v === '')) throw new PlanFault('VOLUME specified can not be an empty string');
  return { kind: 'volume', volumes, createdBy: `VOLUME ${goList(volumes)}` };
}

/** EXPOSE: each (sorted) word expanded and split again, then normalised to `port/proto`. */
export function exposeStep(cmd: ExposeCommand, ctx: DispatchContext): StepBody<ExposeStep> {
  const env = ctx.state.env.toMap();
  const words = cmd.ports.flatMap((p) => ctx.lex.processWords(p, env));
  const ports = parsePortSpecs(words);
  return { kind: 'expose', ports, createdBy: `EXPOSE ${goList(ports)}` };
}

export function stopSignalStep(cmd: StopSignalCommand, ctx: DispatchContext): StepBody<StopSignalStep> {
  const signal = expandWord(ctx, cmd.signal);
  validateSignal(signal);
  return { kind: 'stopsignal', signal, createdBy: `STOPSIGNAL ${signal}` };
}

/** The public form of a command line. */
export function commandLine(line: CmdLine): CommandLine {
  return line.prependShell
    ? { form: 'shell', script: line.args.join(' ') }
    : { form: 'exec', args: [...line.args] };
}

/** Shell form wrapped in the stage's shell; exec form as written. */
export function withShell(line: CmdLine, ctx: DispatchContext): string[] {
  return line.prependShell ? [...ctx.state.shell, line.args.join(' ')] : [...line.args];
}

export function cmdStep(cmd: CmdCommand, ctx: DispatchContext): StepBody<CmdStep> {
  const argv = withShell(cmd.cmdLine, ctx);
  return { kind: 'cmd', command: commandLine(cmd.cmdLine), argv, createdBy: `CMD ${goQuotedList(argv)}` };
}

export function entrypointStep(cmd: EntrypointCommand, ctx: DispatchContext): StepBody<EntrypointStep> {
  if (cmd.cmdLine === null) {
    return {
      kind: 'entrypoint',
      command: { form: 'exec', args: [] },
      argv: null,
      createdBy: 'ENTRYPOINT []',
    };
  }
  const argv = withShell(cmd.cmdLine, ctx);
  return {
    kind: 'entrypoint',
    command: commandLine(cmd.cmdLine),
    argv,
    createdBy: `ENTRYPOINT ${goQuotedList(argv)}`,
  };
}

/** HEALTHCHECK is not expanded; its history text is Go's `%+v` of the config. */
export function healthcheckStep(cmd: HealthcheckCommand): StepBody<HealthcheckStep> {
  const { test, interval, timeout, startPeriod, startInterval, retries } = cmd;
  const text =
    `{Test:${goList(test)} Interval:${formatGoDuration(interval)} Timeout:${formatGoDuration(timeout)} ` +
    `StartPeriod:${formatGoDuration(startPeriod)} StartInterval:${formatGoDuration(startInterval)} Retries:${retries}}`;
  return {
    kind: 'healthcheck',
    test: [...test],
    interval,
    timeout,
    startPeriod,
    startInterval,
    retries,
    createdBy: `HEALTHCHECK ${text}`,
  };
}

export function userStep(cmd: UserCommand, ctx: DispatchContext): StepBody<UserStep> {
  const user = expandWord(ctx, cmd.user);
  ctx.state.user = user;
  return { kind: 'user', user, createdBy: `USER ${user}` };
}

export function shellStep(cmd: ShellCommand, ctx: DispatchContext): StepBody<ShellStep> {
  ctx.state.shell = [...cmd.shell];
  return { kind: 'shell', shell: [...cmd.shell], createdBy: `SHELL ${goList(cmd.shell)}` };
}

/** MAINTAINER is not expanded. */
export function maintainerStep(cmd: MaintainerCommand): StepBody<MaintainerStep> {
  return { kind: 'maintainer', maintainer: cmd.maintainer, createdBy: `MAINTAINER ${cmd.maintainer}` };
}

/** ONBUILD is stored, not expanded, and writes no history. */
export function onbuildStep(cmd: OnbuildCommand): StepBody<OnbuildStep> {
  return { kind: 'onbuild', trigger: cmd.expression };
}
