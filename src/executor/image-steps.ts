/**
 * The step behind each entry of the built image's history. The final image's config is its base's (an image's
 * history, or nothing for scratch) with one entry appended per step of the target stage and of the stages it is
 * built FROM, in Dockerfile order, for every step that has a `created_by` (`ops/image-config.ts applyStep`); the
 * solver's history names each step by its position. So the entries past the base's are the chain's steps, each
 * found in the build's history by position.
 */
import type { HistoryStep } from '../cache/build-history';
import type { ImageBuildStep } from '../cache/image-builds';
import type { ImageConfig } from '../image/oci-types';
import type { BuildPlan } from '../planner/types';
import { finalStageChain } from './build-context';

export function imageHistorySteps(
  plan: BuildPlan,
  history: readonly HistoryStep[],
  config: ImageConfig,
): (ImageBuildStep | null)[] {
  const byPosition = new Map(history.map((s) => [s.position, s]));
  const built: (ImageBuildStep | null)[] = [];
  for (const index of finalStageChain(plan).reverse()) {
    plan.stages[index].steps.forEach((step, i) => {
      if (step.createdBy === undefined) return;
      const position = `${index}/${i + 2}`;
      const s = byPosition.get(position);
      built.push(
        s === undefined
          ? null
          : {
              position,
              key: s.key,
              cache: s.cache ?? 'miss',
              ...(s.imported === true ? { imported: true } : {}),
            },
      );
    });
  }
  const entries = config.history?.length ?? 0;
  // The base's entries come first; a config with fewer entries than steps (never made by applyStep) maps nothing.
  if (built.length > entries) return Array<null>(entries).fill(null);
  return [...Array<null>(entries - built.length).fill(null), ...built];
}
