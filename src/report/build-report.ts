import { stepId, type BuildEvent, type CacheOutcome, type LayerSummary, type StepRef } from '../events';
import { StepOutputs } from './step-output';
import { newBuildId, type LoggedBuild } from '../cache/build-log';

/** A step's output kept in the report up to this many characters (the store's log file has all of it). */
export const MAX_REPORT_OUTPUT_CHARS = 1024 * 1024;

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
    /** The step's cache key; absent in reports written before it was recorded. */
    key?: string;
    /** A RUN's output as lines (stdout and stderr in the order they came); absent when it printed nothing. */
    output?: string[];
    /** The output was longer than the report keeps: `tsbuild logs KEY` prints all of it. */
    outputTruncated?: true;
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
  private readonly outputs = new StepOutputs();
  private readonly lines = new Map<string, { step: StepRef; lines: string[]; chars: number; cut: boolean }>();
  private readonly logs = new Map<string, { step: StepRef; key: string }>();

  readonly sink = (event: BuildEvent): void => {
    if (event.type === 'step-done') {
      this.keep(event.step, this.outputs.finish(event.step));
      this.done.push(event);
    } else if (event.type === 'step-output') this.keep(event.step, this.outputs.push(event));
    else if (event.type === 'step-log')
      this.logs.set(stepId(event.step), { step: event.step, key: event.key });
    else if (event.type === 'restart') {
      this.done.length = 0;
      this.lines.clear();
      this.logs.clear();
    } else if (event.type === 'context-modes') {
      this.contextModes = { policy: event.policy, normalized: event.normalized };
    }
  };

  /**
   * The steps that started output but never finished: after a failed build, the step that failed (and any cut
   * short with it), each with its output and the key its whole log is saved under.
   */
  unfinished(): { step: StepRef; output: string[]; logKey: string | undefined }[] {
    const finished = new Set(this.done.map((e) => stepId(e.step)));
    for (const step of this.outputs.pendingSteps()) this.keep(step, this.outputs.finish(step));
    const ids = new Set([...this.lines.keys(), ...this.logs.keys()]);
    return [...ids]
      .filter((id) => !finished.has(id))
      .flatMap((id) => {
        const kept = this.lines.get(id);
        const log = this.logs.get(id);
        const step = kept?.step ?? log?.step;
        return step ? [{ step, output: kept?.lines ?? [], logKey: log?.key }] : [];
      });
  }

  private keep(step: StepRef, lines: readonly string[]): void {
    if (lines.length === 0) return;
    const id = stepId(step);
    let kept = this.lines.get(id);
    if (!kept) {
      kept = { step, lines: [], chars: 0, cut: false };
      this.lines.set(id, kept);
    }
    for (const line of lines) {
      if (kept.chars + line.length > MAX_REPORT_OUTPUT_CHARS) {
        kept.cut = true;
        return;
      }
      kept.lines.push(line);
      kept.chars += line.length + 1;
    }
  }

  build(image: BuildReport['image'], durationMs: number): BuildReport {
    const steps = this.orderedDone().map((e) => ({
      stage: e.step.stage,
      index: e.step.index,
      line: e.step.line,
      instruction: e.step.instruction,
      cache: e.cache,
      reason: e.reason ?? null,
      ...(e.imported ? { imported: true as const } : {}),
      durationMs: Math.round(e.durationMs),
      layer: e.layer,
      ...(e.key !== undefined ? { key: e.key } : {}),
      ...this.outputOf(e.step),
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

  /**
   * The build as the build log keeps it (`tsbuild cache report`): the same steps, outcomes, reasons and times as
   * the report, under the Dockerfile's name as the build gave it.
   */
  loggedBuild(where: { dockerfile: string; target: string }, durationMs: number): LoggedBuild {
    return {
      version: 1,
      id: newBuildId(),
      finishedAt: new Date().toISOString(),
      dockerfile: where.dockerfile,
      target: where.target,
      durationMs: Math.round(durationMs),
      steps: this.orderedDone().map((e) => ({
        position: `${e.step.stageIndex}/${e.step.index}`,
        stage: e.step.stage,
        index: e.step.index,
        line: e.step.line,
        instruction: e.step.instruction,
        cache: e.cache,
        ...(e.reason !== undefined && e.cache === 'miss' ? { reason: e.reason } : {}),
        ...(e.imported ? { imported: true } : {}),
        durationMs: Math.round(e.durationMs),
      })),
    };
  }

  /** The finished steps in Dockerfile order (stages finish in any order). */
  private orderedDone(): Extract<BuildEvent, { type: 'step-done' }>[] {
    return [...this.done].sort(
      (a, b) => a.step.stageIndex - b.step.stageIndex || a.step.index - b.step.index,
    );
  }

  private outputOf(step: StepRef): { output?: string[]; outputTruncated?: true } {
    const kept = this.lines.get(stepId(step));
    if (!kept) return {};
    return { output: kept.lines, ...(kept.cut ? { outputTruncated: true as const } : {}) };
  }
}
