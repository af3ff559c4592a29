/**
 * `ContextWithoutDockerignore`: the Dockerfile copies the whole context (`COPY . .`, `ADD . …`) and the context holds
 * `.git` or `node_modules` at its root, which no `.dockerignore` leaves out. Every commit rewrites `.git` and every
 * install `node_modules`, so the copy misses on each one (and ships them in the image). Reported once, at the first
 * such copy; quiet when what the context holds is not known.
 */
import { copiesWholeContext, quote, stepFinding } from '../finding';
import type { AdviceInput, Finding, Rule } from '../types';

export const contextWithoutDockerignore: Rule = {
  name: 'ContextWithoutDockerignore',
  why: 'every commit changes .git and every install changes node_modules, so a copy of the whole context misses on each one and carries them into the image',
  check({ plan, context }: AdviceInput): Finding[] {
    if (context === undefined || context.included.length === 0) return [];
    for (const stage of plan.stages) {
      const i = stage.steps.findIndex((s) => !s.fromOnBuild && copiesWholeContext(s));
      if (i < 0) continue;
      const held = context.included.join(' and ');
      const ignore =
        context.ignoreFile === null
          ? 'there is no .dockerignore'
          : `${context.ignoreFile.replace(/^.*\//, '')} does not leave ${context.included.length > 1 ? 'them' : 'it'} out`;
      const message =
        `${quote(stage.steps[i])} copies the whole context, which holds ${held}, and ${ignore}: ` +
        `add ${context.included.map((n) => `${n}/`).join(' and ')} to .dockerignore`;
      return [stepFinding(contextWithoutDockerignore, stage, i, message)];
    }
    return [];
  },
};
