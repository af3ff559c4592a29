/**
 * `SecretsUsedInArgOrEnv`: BuildKit's own check, which the planner makes (planner/checks.ts); here as a finding
 * like the others, so that `tsbuild check` lists it, `# check=skip=` and `error=true` treat it alike, and a build
 * warns of it once, with the rest.
 */
import { buildChecks } from '../../planner';
import { stepFinding } from '../finding';
import type { AdviceInput, Finding, Rule } from '../types';

export const secretsUsedInArgOrEnv: Rule = {
  name: 'SecretsUsedInArgOrEnv',
  why: 'ARG and ENV values stay in the image config and history, readable by anyone who has the image; pass secrets with RUN --mount=type=secret',
  check({ plan }: AdviceInput): Finding[] {
    return buildChecks(plan).map((w): Finding => {
      for (const stage of plan.stages) {
        const i = stage.steps.findIndex((s) => !s.fromOnBuild && s.line === w.line);
        if (i >= 0) return { ...stepFinding(secretsUsedInArgOrEnv, stage, i, w.message), rule: w.rule };
      }
      // A global ARG (before the first FROM) is no step of any stage.
      return {
        rule: w.rule,
        line: w.line,
        stage: null,
        stageIndex: null,
        stepIndex: null,
        message: w.message,
        why: secretsUsedInArgOrEnv.why,
      };
    });
  },
};
