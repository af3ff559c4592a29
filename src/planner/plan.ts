/**
 * The planner's entry points: a parsed Dockerfile and the build options in, a BuildPlan out. The phases follow
 * BuildKit's toDispatchState so that the first error reported is the one BuildKit would report: instructions,
 * global args, stage headers, target, dependency graph, image references, ONBUILD triggers, then each stage's
 * steps in file order.
 */
import type { Dockerfile } from '../parser/ast';
import { ShellLex } from '../parser/shell/lex';
import { applyMetaArgs, automaticArgs, isBuiltinArg, PROXY_ARGS } from './args';
import type { Command } from './commands';
import type { DispatchContext } from './dispatch-context';
import { dispatchCommands } from './dispatch';
import { SourceText } from './fault';
import { commandEdges, findCycle, reachable, type Edge } from './graph';
import { parseTriggers } from './onbuild';
import { hostPlatform, normalizePlatform } from '../platform';
import { resolveImageBases, resolveTarget, stageHeaders, type StageHeader } from './stages';
import { StageState } from './state';
import { shapeOf } from './structure';
import type { BaseImageConfig, BuildPlan, KeyValue, PlanOptions, Stage, Step, StepContext } from './types';

/** Plans the build of `df` (see PlanOptions). Throws UserError, with the Dockerfile location, for a bad Dockerfile. */
export function planBuild(df: Dockerfile, opts: PlanOptions): BuildPlan {
  return planWith(df, opts, new Map());
}

export interface OnBuildContext {
  df: Dockerfile;
  opts: PlanOptions;
  /** The stage whose base image carries the triggers. */
  stage: number;
}

/**
 * Plans again with `triggers` as the ONBUILD triggers of stage `ctx.stage`'s base image, once the executor has
 * resolved that image: the triggers become the stage's first steps and everything after them (in that stage and
 * in stages built on it) is expanded in their light.
 */
export function expandOnBuildTriggers(triggers: readonly string[], ctx: OnBuildContext): BuildPlan {
  return planWith(ctx.df, ctx.opts, new Map([[ctx.stage, [...triggers]]]));
}

function planWith(
  df: Dockerfile,
  opts: PlanOptions,
  triggerOverrides: ReadonlyMap<number, string[]>,
): BuildPlan {
  const src = new SourceText(opts.fileName, opts.lines);
  const targetPlatform = normalizePlatform(opts.platform ?? hostPlatform());
  const buildPlatform = normalizePlatform(opts.buildPlatform ?? hostPlatform());
  const lex = new ShellLex({ escapeToken: df.escapeToken });

  const shape = shapeOf(df, src);
  const lastName = shape.stages[shape.stages.length - 1].from.name ?? '';
  const automatic = automaticArgs(targetPlatform, buildPlatform, opts.target || lastName, opts.buildArgs);
  const { globalArgs, metaArgs } = applyMetaArgs(shape.metaArgs, automatic, opts.buildArgs, lex, src);
  const headers = stageHeaders(shape.stages, globalArgs, targetPlatform, lex, src);
  const target = resolveTarget(headers, opts.target, src);

  const commands: Command[][] = shape.stages.map((s) => [...s.commands]);
  const edges: Edge[][] = commands.map((cmds) =>
    cmds.flatMap((cmd) => src.at(cmd.span, () => commandEdges(cmd, headers, lex))),
  );
  const cycle = findCycle(edges);
  if (cycle)
    throw src.error(`circular dependency detected on stage: ${headers[cycle.stage].displayName}`, cycle.span);
  resolveImageBases(headers, src);

  const configs = headers.map((h) => baseConfig(h, opts));
  const triggerErrors = new Map<number, string>();
  const needed = insertTriggers(
    target,
    headers,
    commands,
    edges,
    configs,
    triggerOverrides,
    lex,
    src,
    triggerErrors,
  );

  const stages: Stage[] = [];
  const finals: StepContext[] = [];
  const proxyEnv = proxyEnvFrom(opts.buildArgs);
  for (const h of headers) {
    const isNeeded = needed.has(h.index);
    const base = h.base;
    const state =
      base.kind === 'stage'
        ? StageState.fromContext(finals[base.index])
        : StageState.fromImage(configs[h.index], h.platform.os);
    const baseConfigKnown =
      base.kind === 'stage'
        ? stages[base.index].baseConfigKnown
        : base.kind === 'scratch' || configs[h.index] !== undefined;
    const ctx: DispatchContext = {
      lex,
      buildArgs: opts.buildArgs,
      globalArgs,
      headers,
      stageIndex: h.index,
      proxyEnv,
      state,
    };
    const entry = state.snapshot();
    const steps: Step[] = [];
    let planError = triggerErrors.get(h.index);
    if (planError === undefined) {
      try {
        dispatchCommands(commands[h.index], ctx, src, (step) => steps.push(step));
      } catch (err) {
        if (isNeeded || !(err instanceof Error)) throw err;
        planError = err.message;
      }
    }
    finals.push(state.snapshot());
    const dependsOn = new Set(edges[h.index].map((e) => e.index));
    if (base.kind === 'stage') dependsOn.add(base.index);
    const stage: Stage = {
      index: h.index,
      displayName: h.displayName,
      line: h.span.line,
      endLine: h.span.endLine,
      original: h.span.original,
      baseName: h.baseName,
      base,
      platform: h.platform,
      explicitPlatform: h.explicitPlatform,
      dependsOn: [...dependsOn].sort((a, b) => a - b),
      needed: isNeeded,
      baseConfigKnown,
      entry,
      steps,
      onBuild: steps.flatMap((s) => (s.kind === 'onbuild' ? [s.trigger] : [])),
    };
    if (h.name !== undefined) stage.name = h.name;
    if (planError !== undefined) stage.planError = planError;
    stages.push(stage);
  }

  return {
    fileName: opts.fileName,
    stages,
    target,
    needed: [...needed].sort((a, b) => a - b),
    metaArgs,
    globalArgs: globalArgs.toArray(),
    unusedBuildArgs: unusedBuildArgs(opts.buildArgs, metaArgs, stages),
    targetPlatform,
    buildPlatform,
  };
}

/** The config of an image base, as far as the caller can tell. */
function baseConfig(h: StageHeader, opts: PlanOptions): BaseImageConfig | undefined {
  if (h.base.kind !== 'image') return undefined;
  const ref = h.base.normalized;
  const config = opts.baseImage?.(ref, h.platform);
  if (config?.onBuild !== undefined || !opts.baseOnBuild) return config;
  const onBuild = opts.baseOnBuild(ref);
  return onBuild === undefined ? config : { ...config, onBuild };
}

/**
 * Puts each stage's ONBUILD triggers (from its base image, or its parent stage's ONBUILD steps) before its own
 * commands, as BuildKit does for reachable stages: a trigger can add `--from` edges, which can make more stages
 * needed, so this repeats until nothing changes. Stages that are not needed get their triggers too, but an error
 * there only marks the stage (`errors`). Returns the stages the target needs.
 */
function insertTriggers(
  target: number,
  headers: readonly StageHeader[],
  commands: Command[][],
  edges: Edge[][],
  configs: readonly (BaseImageConfig | undefined)[],
  overrides: ReadonlyMap<number, string[]>,
  lex: ShellLex,
  src: SourceText,
  errors: Map<number, string>,
): Set<number> {
  const done = new Set<number>();
  const init = (i: number): void => {
    done.add(i);
    const h = headers[i];
    const base = h.base;
    const texts =
      overrides.get(i) ??
      (base.kind === 'stage'
        ? commands[base.index].flatMap((c) => (c.kind === 'onbuild' ? [c.expression] : []))
        : (configs[i]?.onBuild ?? []));
    if (texts.length === 0) return;
    const triggers = src.at(h.span, () => parseTriggers(texts, h.span));
    const newEdges = triggers.flatMap((cmd) => src.at(h.span, () => commandEdges(cmd, headers, lex)));
    commands[i] = [...triggers, ...commands[i]];
    edges[i] = [...newEdges, ...edges[i]];
  };

  let needed = reachable(target, headers, edges);
  for (;;) {
    const pending = [...needed].filter((i) => !done.has(i)).sort((a, b) => a - b);
    if (pending.length === 0) break;
    for (const i of pending) init(i);
    needed = reachable(target, headers, edges);
  }
  for (let i = 0; i < headers.length; i++) {
    if (done.has(i)) continue;
    try {
      init(i);
    } catch (err) {
      if (!(err instanceof Error)) throw err;
      errors.set(i, err.message);
    }
  }
  return needed;
}

/** Proxy build args as RUN receives them: both spellings of each name that is set (later keys in sort order win). */
function proxyEnvFrom(buildArgs: ReadonlyMap<string, string>): KeyValue[] {
  const values = new Map<string, string>();
  for (const key of [...buildArgs.keys()].sort()) {
    const upper = key.toUpperCase();
    if (PROXY_ARGS.includes(upper)) values.set(upper, buildArgs.get(key) as string);
  }
  const out: KeyValue[] = [];
  for (const name of PROXY_ARGS) {
    const value = values.get(name);
    if (value === undefined || value === '') continue;
    out.push({ key: name, value }, { key: name.toLowerCase(), value });
  }
  return out;
}

/** Build args no ARG of the build declares (global ARGs and the ARGs of needed stages count). */
function unusedBuildArgs(
  buildArgs: ReadonlyMap<string, string>,
  metaArgs: readonly { key: string }[],
  stages: readonly Stage[],
): string[] {
  const declared = new Set(metaArgs.map((a) => a.key));
  for (const stage of stages) {
    if (!stage.needed) continue;
    for (const step of stage.steps) if (step.kind === 'arg') for (const a of step.args) declared.add(a.key);
  }
  return [...buildArgs.keys()].filter((k) => !declared.has(k) && !isBuiltinArg(k)).sort();
}
