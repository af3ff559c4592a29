/**
 * The two-pass flow of `queries.ts` in one call: plan, ask for the config of each needed stage's base image, plan
 * again with those configs, so that a base image's ENV, WORKDIR, USER, SHELL and ONBUILD are part of every
 * expansion. The asking is the caller's (it resolves images); the planning stays pure.
 */
import type { Dockerfile } from '../parser';
import { planBuild } from './plan';
import type { BaseImageConfig, BuildPlan, PlanOptions, Stage } from './types';

/**
 * `baseConfig` is asked once per needed stage that starts from an image, in stage order, with the image's
 * normalised reference; a plan without such stages is returned after one pass.
 */
export async function planWithBaseImages(
  df: Dockerfile,
  options: PlanOptions,
  baseConfig: (stage: Stage, normalizedRef: string) => Promise<BaseImageConfig | undefined>,
): Promise<BuildPlan> {
  const first = planBuild(df, options);
  const configs = new Map<string, BaseImageConfig | undefined>();
  for (const stage of first.stages) {
    if (!stage.needed || stage.base.kind !== 'image') continue;
    configs.set(stage.base.normalized, await baseConfig(stage, stage.base.normalized));
  }
  if (configs.size === 0) return first;
  return planBuild(df, { ...options, baseImage: (ref) => configs.get(ref) });
}
