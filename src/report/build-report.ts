import type { BuildEvent, CacheOutcome, LayerSummary } from '../events';

/** The `--report FILE` document (version 1). Every instruction of every built stage is a step, FROM included. */
export interface BuildReport {
  version: 1;
  image: { name: string | null; manifestDigest: string; configDigest: string };
  steps: {
    stage: string;
    index: number;
    line: number;
    instruction: string;
    cache: CacheOutcome;
    reason: string | null;
    /** A hit on a record a `--cache-from` cache offered; absent for local hits and misses. */
    imported?: true;
    durationMs: number;
    layer: LayerSummary | null;
  }[];
  summary: { steps: number; hits: number; misses: number; durationMs: number; importedHits?: number };
  /**
   * What `--context-modes` did to the build context's modes; absent when no step read the context (and in reports
   * written before the flag existed).
   */
  contextModes?: ContextModesSummary;
}

export interface ContextModesSummary {
  policy: 'normalize' | 'preserve';
  /** Context entries whose group/other write bits were cleared. */
  normalized: number;
}

/** Collects step events as they come, in the order stages and steps appear in the Dockerfile. */
export class ReportCollector {
  private readonly done: Extract<BuildEvent, { type: 'step-done' }>[] = [];
  private contextModes: ContextModesSummary | undefined;

  readonly sink = (event: BuildEvent): void => {
    if (event.type === 'step-done') this.done.push(event);
    else if (event.type === 'restart') this.done.length = 0;
    else if (event.type === 'context-modes') {
      this.contextModes = { policy: event.policy, normalized: event.normalized };
    }
  };

  build(image: BuildReport['image'], durationMs: number): BuildReport {
    const ordered = [...this.done].sort(
      (a, b) => a.step.stageIndex - b.step.stageIndex || a.step.index - b.step.index,
    );
    const steps = ordered.map((e) => ({
      stage: e.step.stage,
      index: e.step.index,
      line: e.step.line,
      instruction: e.step.instruction,
      cache: e.cache,
      reason: e.reason ?? null,
      ...(e.imported ? { imported: true as const } : {}),
      durationMs: Math.round(e.durationMs),
      layer: e.layer,
    }));
    const hits = steps.filter((s) => s.cache === 'hit').length;
    const importedHits = steps.filter((s) => s.imported === true).length;
    return {
      version: 1,
      image,
      steps,
      summary: {
        steps: steps.length,
        hits,
        misses: steps.length - hits,
        durationMs: Math.round(durationMs),
        ...(importedHits > 0 ? { importedHits } : {}),
      },
      ...(this.contextModes ? { contextModes: this.contextModes } : {}),
    };
  }
}
