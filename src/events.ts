/**
 * What the executor tells the outside world while it builds. The report room only listens to these; it never
 * reaches back into the build.
 */

export interface StepRef {
  /** The stage's name, or `stage-N` when it has none. */
  stage: string;
  /** BuildKit names the stage in the log only when the Dockerfile has more than one. */
  showStage: boolean;
  stageIndex: number;
  /** 1-based position of the step in its stage (FROM is 1). */
  index: number;
  /** Steps in the stage, FROM included. */
  total: number;
  /** The Dockerfile line the instruction starts on. */
  line: number;
  /** The instruction as shown in the log, variables expanded: `COPY . /app`. */
  instruction: string;
}

export interface LayerSummary {
  digest: string;
  diffId: string;
  size: number;
}

export type CacheOutcome = 'hit' | 'miss';

export type BuildEvent =
  | { type: 'step-start'; step: StepRef }
  | {
      type: 'step-done';
      step: StepRef;
      cache: CacheOutcome;
      /** Why a miss happened, in words; absent for hits. */
      reason?: string;
      /** A hit on a record a `--cache-from` cache offered (the log says CACHED all the same, as BuildKit's does). */
      imported?: boolean;
      durationMs: number;
      layer: LayerSummary | null;
      /** The step's cache key (`sha256:…`): what `tsbuild logs` and `tsbuild history` name it by. */
      key?: string;
    }
  /** A chunk of a RUN's output as the process wrote it: not split at lines, `\r` left in. */
  | { type: 'step-output'; step: StepRef; stream: 'stdout' | 'stderr'; text: string }
  /** A RUN's whole output was saved in the store under its cache key (after it ran, whether or not it failed). */
  | { type: 'step-log'; step: StepRef; key: string; bytes: number }
  | { type: 'warning'; message: string }
  /**
   * The build starts over (an imported cache could not deliver a blob it offered): the steps reported so far no
   * longer count; `reason` says why, for the log.
   */
  | { type: 'restart'; reason: string }
  | {
      /**
       * The build read its context; `normalized` entries had their group/other write bits cleared
       * (`--context-modes normalize`), so the cache does not depend on the umask of the checkout.
       */
      type: 'context-modes';
      policy: 'normalize' | 'preserve';
      normalized: number;
    }
  | { type: 'build-done'; steps: number; hits: number; misses: number; durationMs: number; imageId: string };

export type EventSink = (event: BuildEvent) => void;

/**
 * The log line for a `context-modes` event, or null when nothing was changed. The umask guess is only a hint:
 * 0002 is what leaves exactly these bits set on a fresh checkout.
 */
export function contextModesLine(normalized: number): string | null {
  if (normalized === 0) return null;
  const files = `${normalized.toLocaleString('en-US')} file${normalized === 1 ? '' : 's'}`;
  return (
    `context: cleared group/other write bits on ${files} ` +
    `(umask 0002?); --context-modes=preserve keeps them`
  );
}

/** `[stage 2/6] COPY . /app`, the way BuildKit labels a step. */
export function stepLabel(step: StepRef): string {
  return `${stepTag(step)} ${step.instruction}`;
}

/** `[stage 2/6]`: the step's position alone, the prefix of its output lines. */
export function stepTag(step: StepRef): string {
  const width = String(step.total).length;
  const prefix = step.showStage ? `${step.stage} ` : '';
  return `[${prefix}${String(step.index).padStart(width)}/${step.total}]`;
}

/** A key that tells steps apart within one build (stages run side by side). */
export function stepId(step: StepRef): string {
  return `${step.stageIndex}/${step.index}`;
}
