import { UserError } from '../../src/errors';
import { parseDockerfile } from '../../src/parser';
import { planBuild } from '../../src/planner';
import type { BuildPlan, PlanOptions, Stage, Step, StepKind, StepOfKind } from '../../src/planner';

export const AMD64 = { os: 'linux', architecture: 'amd64' };

/** Plans `text` (a Dockerfile) with test defaults: linux/amd64 for both platforms, no build args. */
export function plan(
  text: string,
  opts: Partial<PlanOptions> & { args?: Record<string, string> } = {},
): BuildPlan {
  const df = parseDockerfile(text);
  const { args, ...rest } = opts;
  return planBuild(df, {
    fileName: 'Dockerfile',
    buildArgs: new Map(Object.entries(args ?? {})),
    platform: AMD64,
    buildPlatform: AMD64,
    lines: text.split('\n'),
    ...rest,
  });
}

/** The error planning `text` throws (fails the test when there is none or it is not a UserError). */
export function planError(text: string, opts: Parameters<typeof plan>[1] = {}): UserError {
  try {
    plan(text, opts);
  } catch (err) {
    if (err instanceof UserError) return err;
    throw err;
  }
  throw new Error('expected planning to fail');
}

/** The last stage. */
export function lastStage(p: BuildPlan): Stage {
  return p.stages[p.stages.length - 1];
}

/** The steps of the last stage. */
export function steps(text: string, opts: Parameters<typeof plan>[1] = {}): Step[] {
  return lastStage(plan(text, opts)).steps;
}

/** The only step of the last stage of a given kind (fails when there is not exactly one). */
export function only<K extends StepKind>(list: Step[], kind: K): StepOfKind<K> {
  const found = list.filter((s): s is StepOfKind<K> => s.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} step, found ${found.length}`);
  return found[0];
}

/** The value of `key` in an env snapshot. */
export function envOf(list: readonly { key: string; value: string }[], key: string): string | undefined {
  return list.find((e) => e.key === key)?.value;
}
