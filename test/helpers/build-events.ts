/** Build events as the executor sends them, for the tests of the views and reports that listen to them. */
import type { BuildEvent, StepRef } from '../../src/events';

/** Step 2 of 3 of a one-stage build, `RUN make`, with whatever the test changes. */
export const step = (over: Partial<StepRef> = {}): StepRef => ({
  stage: 'stage-0',
  showStage: false,
  stageIndex: 0,
  index: 2,
  total: 3,
  line: 2,
  instruction: 'RUN make',
  ...over,
});

export const start = (s: StepRef): BuildEvent => ({ type: 'step-start', step: s });

export const output = (s: StepRef, text: string, stream: 'stdout' | 'stderr' = 'stdout'): BuildEvent => ({
  type: 'step-output',
  step: s,
  stream,
  text,
});

export const hit = (s: StepRef, durationMs = 1): BuildEvent => ({
  type: 'step-done',
  step: s,
  cache: 'hit',
  durationMs,
  layer: null,
});

export const miss = (s: StepRef, durationMs: number, reason?: string): BuildEvent => ({
  type: 'step-done',
  step: s,
  cache: 'miss',
  ...(reason === undefined ? {} : { reason }),
  durationMs,
  layer: null,
});
