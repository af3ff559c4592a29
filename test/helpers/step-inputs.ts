/** Step key inputs and miss reasons without a build, for the tests of explain.ts and of what reads its words. */
import { explainMiss, type ExplainContext } from '../../src/cache/explain';
import type { StepInputs } from '../../src/cache/step-key';

/** A digest of one repeated hex digit: `D('1')` is `sha256:111…`. */
export const D = (c: string): string => `sha256:${c.repeat(64)}`;

/** `RUN make` on parent `D('1')`, with whatever the test changes. */
export function inputs(over: Partial<StepInputs> = {}, op: Partial<StepInputs['op']> = {}): StepInputs {
  return { parent: D('1'), op: { instruction: 'RUN make', ...op }, ...over };
}

/** The reason the build log would give: `explainMiss` with a step that is neither first nor after a miss. */
export function missReason(ctx: Partial<ExplainContext> & Pick<ExplainContext, 'current'>): string {
  return explainMiss({
    previous: undefined,
    parentMissed: false,
    isFirstStep: false,
    noCache: false,
    ...ctx,
  });
}
