/**
 * `VolatileArgBeforeSlowSteps`: an ARG or ENV that looks per-build (a commit, a date, a build number; see
 * volatile.ts) declared in a stage before RUN steps that do not use it. BuildKit puts every ARG declared in the
 * stage (and every ENV) into each later RUN's environment, and so into its cache key: a new value re-runs all of
 * them, used or not. Declared just before the first step that uses it (a LABEL at the end, often), it costs
 * nothing before that step.
 */
import type { Stage, Step } from '../../planner/types';
import { linesList, stepFinding } from '../finding';
import { runText } from '../shell-commands';
import type { AdviceInput, Finding, Rule } from '../types';
import { looksPerBuild } from '../volatile';

interface Declared {
  kind: 'ARG' | 'ENV';
  name: string;
}

export const volatileArgBeforeSlowSteps: Rule = {
  name: 'VolatileArgBeforeSlowSteps',
  why: 'a declared ARG (and any ENV) is in the environment of every later RUN in the stage, so in its cache key: a value that changes every build re-runs them all',
  check({ plan }: AdviceInput): Finding[] {
    const out: Finding[] = [];
    for (const stage of plan.stages) {
      stage.steps.forEach((step, i) => {
        if (step.fromOnBuild) return;
        for (const declared of perBuildDeclarations(step)) {
          const message = adviceFor(declared, stage, i);
          if (message !== undefined) out.push(stepFinding(volatileArgBeforeSlowSteps, stage, i, message));
        }
      });
    }
    return out;
  },
};

function perBuildDeclarations(step: Step): Declared[] {
  if (step.kind === 'arg') {
    return step.args
      .filter((a) =>
        looksPerBuild(a.key, {
          written: a.default,
          buildArg: a.source === 'build-arg' ? a.value : undefined,
        }),
      )
      .map((a) => ({ kind: 'ARG', name: a.key }));
  }
  if (step.kind === 'env') {
    return step.vars
      .filter((v) => looksPerBuild(v.key, { written: writtenEnvValue(step.original, v.key) ?? v.value }))
      .map((v) => ({ kind: 'ENV', name: v.key }));
  }
  return [];
}

/** The value of KEY as written in an ENV instruction (`ENV A=$X B=c`, or the legacy `ENV A value`). */
function writtenEnvValue(original: string, key: string): string | undefined {
  const rest = original.replace(/^\s*\S+\s+/, '');
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pair = new RegExp(`(?:^|\\s)${escaped}=("[^"]*"|'[^']*'|\\S*)`).exec(rest);
  if (pair) return pair[1].replace(/^(["'])(.*)\1$/, '$2');
  const legacy = new RegExp(`^${escaped}\\s+(.*)$`, 's').exec(rest);
  return legacy?.[1];
}

/** Does the step's text refer to NAME (`$NAME`, `${NAME…}`)? */
function refersTo(step: Step, name: string): boolean {
  const text = step.kind === 'run' ? runText(step) : step.original;
  return new RegExp(`\\$(?:\\{)?${name}(?![A-Za-z0-9_])`).test(text);
}

/** The advice for one declaration, or undefined when no RUN before its first use depends on it for nothing. */
function adviceFor(declared: Declared, stage: Stage, at: number): string | undefined {
  const later = stage.steps.slice(at + 1).map((step, k) => ({ step, index: at + 1 + k }));
  // A step whose own key the value changes: a RUN sees it in its environment; COPY/ADD/WORKDIR only if they name it.
  const firstUse = later.find(
    ({ step }) => ['run', 'copy', 'add', 'workdir'].includes(step.kind) && refersTo(step, declared.name),
  );
  const before = later.filter(
    ({ step, index }) => step.kind === 'run' && (!firstUse || index < firstUse.index),
  );
  if (before.length === 0) return undefined;
  const runs = before.length === 1 ? '1 RUN step' : `${before.length} RUN steps`;
  const head =
    `${declared.kind} ${declared.name} looks per-build and comes before ${runs} that do not use it ` +
    `(${linesList(before.map(({ step }) => step.line))}): each new value re-runs them`;
  if (firstUse) {
    return `${head}; declare it just before line ${firstUse.step.line}, the first step that uses it`;
  }
  const metaUse = later.find(({ step }) => refersTo(step, declared.name));
  if (metaUse) {
    return `${head}; declare it as late as possible: just before line ${metaUse.step.line}, which uses it`;
  }
  const lastRun = before[before.length - 1].step.line;
  return `${head}; declare it as late as possible (after line ${lastRun}, the last RUN), or drop it`;
}
