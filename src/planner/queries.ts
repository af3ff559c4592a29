/**
 * Questions the executor asks of a plan. The usual flow is two passes: plan, resolve the base images this lists,
 * then plan again with `PlanOptions.baseImage` answering from those configs, so that base-image ENV, WORKDIR,
 * USER, SHELL and ONBUILD triggers are part of every expansion.
 */
import type { Platform } from '../platform';
import type { BuildPlan } from './types';

export interface BaseImageRequest {
  /** The normalised reference to resolve. */
  ref: string;
  platform: Platform;
  /** The needed stages that start from it. */
  stages: number[];
}

/** The base images of needed stages whose config the plan did not have, one entry per reference and platform. */
export function unresolvedBaseImages(plan: BuildPlan): BaseImageRequest[] {
  const out = new Map<string, BaseImageRequest>();
  for (const stage of plan.stages) {
    if (!stage.needed || stage.base.kind !== 'image' || stage.baseConfigKnown) continue;
    const p = stage.platform;
    const key = `${stage.base.normalized} ${p.os}/${p.architecture}/${p.variant ?? ''}`;
    const entry = out.get(key) ?? { ref: stage.base.normalized, platform: { ...p }, stages: [] };
    entry.stages.push(stage.index);
    out.set(key, entry);
  }
  return [...out.values()];
}
