/**
 * What the build log says a piece of advice cost: for a finding of `tsbuild check`, the misses of the steps it is
 * about whose first cause is the one the rule names (a `COPY . .` before `npm ci` costs the install's misses from
 * source edits, not its misses from a base image bump). The advice room knows the rules, the cache room the
 * history; they meet here.
 */
import type { Finding, FindingAnnotator } from '../advice';
import { readBuildLog } from '../cache/build-log';
import { summarizeBuilds, type DockerfileReport, type StepSummary } from '../cache/cache-report';
import type { CauseKind } from '../cache/miss-causes';
import { formatDuration } from '../cache/units';

export interface AdviceCost {
  misses: number;
  missCostMs: number;
}

interface RuleScope {
  /** `step`: the finding's own step; `after`: it and every later step of its stage (an ARG's reach). */
  steps: 'step' | 'after';
  /** The first causes the rule is about; every cause when absent. */
  kinds?: readonly CauseKind[];
}

/** Rules without an entry are not matched to misses (their cost is not a cache cost, or not measurable). */
const SCOPES: Readonly<Record<string, RuleScope>> = {
  CopyAllBeforeInstall: { steps: 'step', kinds: ['files'] },
  VolatileArgBeforeSlowSteps: { steps: 'after', kinds: ['build-arg', 'env'] },
  AptUpdateSeparate: { steps: 'step' },
  AddUrlWithoutChecksum: { steps: 'step' },
  ContextWithoutDockerignore: { steps: 'after', kinds: ['files'] },
  CopyLinkCandidate: { steps: 'step', kinds: ['base'] },
};

/** Per finding, in order, what the history shows it cost in the report's builds (zero when nothing matched). */
export function adviceCosts(
  findings: readonly Finding[],
  report: DockerfileReport | undefined,
): AdviceCost[] {
  return findings.map((f) => {
    const scope = SCOPES[f.rule];
    if (!report || !scope || f.stage === null || f.stepIndex === null) return { misses: 0, missCostMs: 0 };
    const index = f.stepIndex;
    const steps = report.steps.filter(
      (s) => s.stage === f.stage && (scope.steps === 'after' ? s.index >= index : s.index === index),
    );
    return steps.reduce<AdviceCost>(
      (sum, s) => {
        const c = matchingMisses(s, scope);
        return { misses: sum.misses + c.misses, missCostMs: sum.missCostMs + c.missCostMs };
      },
      { misses: 0, missCostMs: 0 },
    );
  });
}

function matchingMisses(s: StepSummary, scope: RuleScope): AdviceCost {
  const causes = scope.kinds ? s.causes.filter((c) => scope.kinds?.includes(c.kind)) : s.causes;
  return {
    misses: causes.reduce((n, c) => n + c.count, 0),
    missCostMs: causes.reduce((n, c) => n + c.costMs, 0),
  };
}

/**
 * `tsbuild check`'s note per finding: what it cost in the builds of this Dockerfile and target the store's build
 * log holds ("12 misses from it in the last 40 builds, 3m 10s lost").
 */
export const annotateFromHistory: FindingAnnotator = async (findings, about) => {
  const [report] = summarizeBuilds(await readBuildLog(about.root), {
    dockerfile: about.dockerfileName,
    target: about.requestedTarget,
  });
  if (!report) return findings.map(() => undefined);
  return adviceCosts(findings, report).map((c) =>
    c.misses > 0
      ? `${c.misses} miss${c.misses === 1 ? '' : 'es'} from it in the last ${report.builds} build` +
        `${report.builds === 1 ? '' : 's'}, ${formatDuration(c.missCostMs)} lost`
      : undefined,
  );
};
