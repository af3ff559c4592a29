/**
 * RUN (BuildKit's dispatchRun and dispatchRunMounts): the command is never expanded, only the `--mount` values
 * are; heredocs turn into the script the shell runs; mounts get their defaults and absolute targets.
 */
import { chompHeredocContent } from '../parser/heredoc';
import type { RunCommand, RunFile } from './commands';
import { expandWord, type DispatchContext, type StepBody } from './dispatch-context';
import { PlanFault } from './fault';
import { goClean } from '../go/path';
import { goPathBase, goPathJoin, goQuote } from './go';
import { namedSource } from './graph';
import { parseMount, type ParsedMount } from './mounts';
import { heredocOf } from './parse-command';
import { mountTarget } from './paths';
import { commandLine, withShell } from './steps-config';
import type { ArgInScope, InlineFile, KeyValue, RunMount, RunStep, StageRef } from './types';

export function runStep(cmd: RunCommand, ctx: DispatchContext): StepBody<RunStep> {
  const mounts = cmd.mounts.map((spec) =>
    resolveMount(
      parseMount(spec, (w) => expandWord(ctx, w)),
      ctx,
    ),
  );
  const { args, inlineFiles } = applyHeredocs(cmd.cmdLine.args, cmd.cmdLine.prependShell, cmd.files);
  const argv = cmd.cmdLine.prependShell ? withShell({ args, prependShell: true }, ctx) : args;
  return {
    kind: 'run',
    command: commandLine(cmd.cmdLine),
    argv,
    heredocs: cmd.files.map((f) => ({
      name: f.name,
      fileDescriptor: f.fileDescriptor,
      content: f.chomp ? chompHeredocContent(f.data) : f.data,
      rawContent: f.data,
      chomp: f.chomp,
      expand: f.expand,
    })),
    inlineFiles,
    mounts,
    network: cmd.network,
    security: cmd.security,
    devices: cmd.devices.map((d) => ({ ...d })),
    proxyEnv: ctx.proxyEnv.map((p) => ({ ...p })),
    createdBy: `RUN ${runCommandString(argv, ctx.state.args, ctx.state.env.toMap())} # buildkit`,
  };
}

/**
 * A lone heredoc (`RUN <<EOF`) runs its body, or, when the body starts with `#!`, a 0755 file holding it at
 * `/dev/pipes/NAME`; any other use of heredocs hands `line\nBODY\nNAME…` to the shell as written.
 */
function applyHeredocs(
  args: readonly string[],
  prependShell: boolean,
  files: readonly RunFile[],
): { args: string[]; inlineFiles: InlineFile[] } {
  if (files.length === 0) return { args: [...args], inlineFiles: [] };
  if (args.length !== 1 || !prependShell) {
    throw new PlanFault(`parsing produced an invalid run command: [${args.join(' ')}]`);
  }
  if (heredocOf(args[0])) {
    const data = files[0].chomp ? chompHeredocContent(files[0].data) : files[0].data;
    if (data.startsWith('#!')) {
      const path = goPathJoin('/dev/pipes/', files[0].name);
      return { args: [path], inlineFiles: [{ path, content: data, mode: 0o755 }] };
    }
    return { args: [data], inlineFiles: [] };
  }
  let script = args[0];
  for (const f of files) script += `\n${f.data}${f.name}`;
  return { args: [script], inlineFiles: [] };
}

function resolveMount(m: ParsedMount, ctx: DispatchContext): RunMount {
  const uid = m.uid;
  const gid = m.gid;
  if (m.type === 'secret') {
    const id = m.source !== '' ? m.source : m.cacheId !== '' ? m.cacheId : goPathBase(m.target);
    const target =
      m.target !== '' ? m.target : m.env === undefined ? `/run/secrets/${goPathBase(id)}` : undefined;
    const secret: RunMount = {
      type: 'secret',
      id,
      required: m.required,
      mode: m.mode ?? 0o400,
      uid: uid ?? 0,
      gid: gid ?? 0,
    };
    if (target !== undefined) secret.target = target;
    if (m.env !== undefined) secret.env = m.env;
    return secret;
  }
  if (m.type === 'ssh') {
    const ssh: RunMount = {
      type: 'ssh',
      id: m.cacheId !== '' ? m.cacheId : 'default',
      required: m.required,
      mode: m.mode ?? 0o600,
      uid: uid ?? 0,
      gid: gid ?? 0,
    };
    if (m.target !== '') ssh.target = m.target;
    return ssh;
  }
  const target = mountTarget(ctx.state.workdir, m.target);
  if (target === '/') throw new PlanFault(`invalid mount target ${goQuote(target)}`);
  if (m.type === 'tmpfs') {
    return m.sizeLimit === undefined || m.sizeLimit <= 0
      ? { type: 'tmpfs', target }
      : { type: 'tmpfs', target, size: m.sizeLimit };
  }
  const from = m.from === '' ? undefined : mountSource(m.from, ctx);
  const source = goPathJoin('/', m.source);
  if (m.type === 'cache') {
    const cache: RunMount = {
      type: 'cache',
      target,
      id: m.cacheId !== '' ? m.cacheId : goClean(m.target),
      sharing: m.sharing ?? 'shared',
      source,
      readOnly: m.readOnly,
    };
    if (from) cache.from = from;
    if (m.mode !== undefined) cache.mode = m.mode;
    if (uid !== undefined) cache.uid = uid;
    if (gid !== undefined) cache.gid = gid;
    return cache;
  }
  const bind: RunMount = { type: 'bind', target, source, readOnly: m.readOnly };
  if (from) bind.from = from;
  return bind;
}

/** `from=` of a mount: a stage by name (defined before this one), else an image. */
function mountSource(from: string, ctx: DispatchContext): StageRef {
  const ref = namedSource(from, ctx.headers);
  if (ref.kind === 'stage' && ref.index >= ctx.stageIndex) {
    throw new PlanFault(
      `cannot mount from stage ${goQuote(from)}, it needs to be defined before current stage ${goQuote(ctx.headers[ctx.stageIndex].displayName)}`,
    );
  }
  return ref;
}

/**
 * BuildKit's history text for RUN: `|N K=V …` for the N ARGs in scope (values as the environment has them),
 * then the argv joined by spaces.
 */
export function runCommandString(
  argv: readonly string[],
  args: readonly ArgInScope[],
  env: ReadonlyMap<string, string>,
): string {
  const pairs: KeyValue[] = args.map((a) => ({ key: a.key, value: env.get(a.key) ?? a.value ?? '' }));
  const prefix = pairs.length > 0 ? [`|${pairs.length}`, ...pairs.map((p) => `${p.key}=${p.value}`)] : [];
  return [...prefix, ...argv].join(' ');
}
