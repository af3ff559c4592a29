/**
 * What every part of one build shares once the Dockerfile is planned: the options, the plan, the store (blobs, key
 * index, lookup, read-only views), the imported caches, the Dockerfile text for locations, the resolved images, and
 * the previous build's key inputs by position (what a miss is explained against).
 */
import { formatPlatform, type Platform } from '../platform';
import type { KeyIndex } from '../cache/key-index';
import type { CacheLookup } from '../cache/lookup';
import type { StepInputs } from '../cache/step-key';
import type { CacheImports } from '../cache/transfer/build-imports';

import type { BuildPlan, Stage } from '../planner/types';
import type { BlobStore } from '../store/blob-store';
import type { BaseImages } from './base-images';
import type { DockerfileText } from './dockerfile-text';
import type { RootfsViews } from './rootfs';
import type { BuildOptions } from './types';

export interface BuildContext {
  opts: BuildOptions;
  plan: BuildPlan;
  blobs: BlobStore;
  index: KeyIndex;
  lookup: CacheLookup;
  views: RootfsViews;
  imports: CacheImports;
  dockerfile: DockerfileText;
  images: BaseImages;
  startedMs: number;
  /** The image's and history's time: SOURCE_DATE_EPOCH when set, else when the build started. */
  created: string;
  previous: ReadonlyMap<string, StepInputs>;
}

/** What a stage `FROM scratch` stands on, for its keys: nothing but its platform. */
export function scratchKey(platform: Platform): string {
  return `scratch:${formatPlatform(platform)}`;
}

/** The `FROM` step's key inputs: the base alone. */
export function fromInputs(parent: string): StepInputs {
  return { parent, op: { instruction: 'FROM', kind: 'from' } };
}

/** The target stage and the stages it is built FROM, in order: what the final image's layers come from. */
export function finalStageChain(plan: BuildPlan): number[] {
  const chain: number[] = [];
  let stage: Stage | undefined = plan.stages[plan.target];
  while (stage) {
    chain.push(stage.index);
    stage = stage.base.kind === 'stage' ? plan.stages[stage.base.index] : undefined;
  }
  return chain;
}

/** The stages some needed COPY/ADD --from reads (their files get unpacked). */
export function copiedFromStages(ctx: BuildContext): Set<number> {
  const out = new Set<number>();
  for (const i of ctx.plan.needed) {
    for (const step of ctx.plan.stages[i].steps) {
      if ((step.kind === 'copy' || step.kind === 'add') && step.from?.kind === 'stage')
        out.add(step.from.index);
    }
  }
  return out;
}

/** `fn` run once, on first call; every call gets the same promise. */
export function lazy<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}
