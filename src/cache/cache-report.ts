/**
 * `tsbuild cache report`: over the logged builds of a Dockerfile and target, per step how often it ran, hit and
 * missed, what its misses cost, and their first causes ranked. Pure: logged builds in, numbers out.
 */
import type { LoggedBuild } from './build-log';
import { firstCauses, type CauseKind } from './miss-causes';

export interface CauseCount {
  kind: CauseKind;
  label: string;
  /** Misses it caused. */
  count: number;
  /** What those misses took. */
  costMs: number;
}

export interface StepSummary {
  /** `<stage>/<index>` as the build log numbers it (FROM is 1). */
  step: string;
  stage: string;
  index: number;
  /** As the latest build had it. */
  instruction: string;
  line: number;
  builds: number;
  hits: number;
  misses: number;
  /** hits / builds, 0…1. */
  hitRate: number;
  /** The median time of its misses; null when it never missed. */
  medianMissMs: number | null;
  /** The time its misses took, all together. */
  missCostMs: number;
  /** First causes of its misses, most frequent first. */
  causes: CauseCount[];
  /** The reasons as the build logs gave them, most frequent first. */
  reasons: { reason: string; count: number }[];
}

export interface DockerfileReport {
  dockerfile: string;
  target: string;
  builds: number;
  /** The first and last build counted (ISO times). */
  from: string;
  to: string;
  steps: StepSummary[];
  hits: number;
  misses: number;
  hitRate: number;
  missCostMs: number;
  /** First causes over all steps, by the time they cost. */
  causes: (CauseCount & { steps: string[] })[];
}

export interface ReportFilter {
  /** Only builds finished at or after this time (ms since the epoch). */
  sinceMs?: number;
  /** Only this Dockerfile, as builds named it (`Dockerfile`, `build/app.Dockerfile`). */
  dockerfile?: string;
  target?: string;
}

/** One report per Dockerfile and target, the most recently built first. */
export function summarizeBuilds(
  builds: readonly LoggedBuild[],
  filter: ReportFilter = {},
): DockerfileReport[] {
  const groups = new Map<string, LoggedBuild[]>();
  for (const b of builds) {
    if (filter.sinceMs !== undefined && Date.parse(b.finishedAt) < filter.sinceMs) continue;
    if (filter.dockerfile !== undefined && b.dockerfile !== filter.dockerfile) continue;
    if (filter.target !== undefined && b.target !== filter.target) continue;
    const id = `${b.dockerfile}\0${b.target}`;
    groups.set(id, [...(groups.get(id) ?? []), b]);
  }
  return [...groups.values()]
    .map((g) => summarizeGroup([...g].sort((a, b) => Date.parse(a.finishedAt) - Date.parse(b.finishedAt))))
    .sort((a, b) => b.to.localeCompare(a.to));
}

interface StepTally {
  stage: string;
  index: number;
  instruction: string;
  line: number;
  builds: number;
  hits: number;
  missTimes: number[];
  causes: Map<string, CauseCount>;
  reasons: Map<string, number>;
}

function summarizeGroup(builds: readonly LoggedBuild[]): DockerfileReport {
  const tallies = new Map<string, StepTally>();
  const order: string[] = [];
  for (const build of builds) {
    const causes = firstCauses(build.steps);
    for (const s of build.steps) {
      const id = `${s.stage}/${s.index}`;
      let t = tallies.get(id);
      if (!t) {
        t = { ...s, builds: 0, hits: 0, missTimes: [], causes: new Map(), reasons: new Map() };
        tallies.set(id, t);
        order.push(id);
      }
      // The latest build names the step as it is now.
      t.instruction = s.instruction;
      t.line = s.line;
      t.builds++;
      if (s.cache === 'hit') {
        t.hits++;
        continue;
      }
      t.missTimes.push(s.durationMs);
      const reason = s.reason ?? 'unknown';
      t.reasons.set(reason, (t.reasons.get(reason) ?? 0) + 1);
      const cause = causes.get(s.position) ?? { kind: 'unknown' as const, label: reason };
      const c = t.causes.get(cause.label) ?? { ...cause, count: 0, costMs: 0 };
      c.count++;
      c.costMs += s.durationMs;
      t.causes.set(cause.label, c);
    }
  }
  const steps = order
    .map((id) => stepSummary(id, tallies.get(id)))
    .filter((s): s is StepSummary => s !== undefined)
    .sort((a, b) => stageRank(a, builds) - stageRank(b, builds) || a.index - b.index);
  const overall = new Map<string, CauseCount & { steps: string[] }>();
  for (const s of steps) {
    for (const c of s.causes) {
      const o = overall.get(c.label) ?? { kind: c.kind, label: c.label, count: 0, costMs: 0, steps: [] };
      o.count += c.count;
      o.costMs += c.costMs;
      o.steps.push(s.step);
      overall.set(c.label, o);
    }
  }
  const hits = steps.reduce((n, s) => n + s.hits, 0);
  const runs = steps.reduce((n, s) => n + s.builds, 0);
  return {
    dockerfile: builds[0].dockerfile,
    target: builds[0].target,
    builds: builds.length,
    from: builds[0].finishedAt,
    to: builds[builds.length - 1].finishedAt,
    steps,
    hits,
    misses: runs - hits,
    hitRate: runs === 0 ? 1 : hits / runs,
    missCostMs: steps.reduce((n, s) => n + s.missCostMs, 0),
    causes: [...overall.values()].sort((a, b) => b.costMs - a.costMs || b.count - a.count),
  };
}

function stepSummary(id: string, t: StepTally | undefined): StepSummary | undefined {
  if (!t) return undefined;
  const misses = t.builds - t.hits;
  return {
    step: id,
    stage: t.stage,
    index: t.index,
    instruction: t.instruction,
    line: t.line,
    builds: t.builds,
    hits: t.hits,
    misses,
    hitRate: t.hits / t.builds,
    medianMissMs: median(t.missTimes),
    missCostMs: t.missTimes.reduce((n, ms) => n + ms, 0),
    causes: [...t.causes.values()].sort((a, b) => b.count - a.count || b.costMs - a.costMs),
    reasons: [...t.reasons.entries()]
      .map(([reason, count]) => ({ reason, count }))
      .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
  };
}

/** Stages in the order the latest build ran them (its step positions say the stage's index). */
function stageRank(s: StepSummary, builds: readonly LoggedBuild[]): number {
  for (let i = builds.length - 1; i >= 0; i--) {
    const found = builds[i].steps.find((x) => x.stage === s.stage);
    if (found) return Number(found.position.split('/')[0]);
  }
  return Number.MAX_SAFE_INTEGER;
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
}
