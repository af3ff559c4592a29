/**
 * What of a planned step goes into its cache key (`cache/step-key.ts`): the expanded instruction without where it
 * was written, what it uses from the stage so far, the build args it depends on, and whether it changes the
 * filesystem (and so becomes the next step's parent).
 */
import type { JsonValue } from '../store/canonical-json';
import type { Step } from '../planner/types';
import type { StepInputs } from '../cache/step-key';

/**
 * Fields of a planned step that describe where it was written, not what it does — and a RUN's proxy settings
 * (HTTP_PROXY … build args), which BuildKit keeps out of the cache key: a build behind a proxy reuses the layers of
 * one without, and a proxy URL (with its credentials) never lands in a record or an exported cache.
 */
const NOT_SEMANTIC = new Set([
  'line',
  'endLine',
  'original',
  'fromOnBuild',
  'context',
  'createdBy',
  'proxyEnv',
]);

/** The instruction as the log shows it: one line, keyword upper-case. */
export function displayInstruction(step: Step): string {
  const text = step.original.replace(/\s*\n\s*/g, ' ').trim();
  const space = text.search(/\s/);
  const keyword = (space < 0 ? text : text.slice(0, space)).toUpperCase();
  const shown = space < 0 ? keyword : keyword + text.slice(space);
  return step.fromOnBuild ? `ONBUILD ${shown}` : shown;
}

export function opInputs(step: Step): StepInputs['op'] {
  const op: StepInputs['op'] = { instruction: displayInstruction(step) };
  for (const [k, v] of Object.entries(step)) {
    if (!NOT_SEMANTIC.has(k) && v !== undefined) op[k] = v as JsonValue;
  }
  // What a step depends on from the stage so far (DESIGN.md): RUN sees the environment, user, workdir and shell;
  // WORKDIR creates its directory as the current user.
  if (step.kind === 'run') {
    op.env = step.context.env.map((e) => `${e.key}=${e.value}`);
    op.user = step.context.user;
    op.workdir = step.context.workdir;
    op.shell = step.context.shell;
  } else if (step.kind === 'workdir') {
    op.user = step.context.user;
  }
  return op;
}

/** Build args in scope, by name, for the steps whose meaning depends on them (ARG itself, RUN). */
export function argInputs(step: Step): Record<string, string> | undefined {
  if (step.kind === 'arg') return Object.fromEntries(step.args.map((a) => [a.key, a.value ?? '(unset)']));
  if (step.kind === 'run')
    return Object.fromEntries(step.context.args.map((a) => [a.key, a.value ?? '(unset)']));
  return undefined;
}

/**
 * Whether a step changes the stage's filesystem (RUN, COPY, ADD, WORKDIR). Only those become the parent of the next
 * step's key: a metadata instruction (LABEL, ENV, ARG, USER, EXPOSE, CMD, …) is keyed on the filesystem below it
 * and changes the image config, never a later filesystem step's key. What a later step reads of it is in that
 * step's own inputs (a RUN's environment, user, shell and build args; a WORKDIR's user), as in BuildKit's LLB.
 */
export function changesFilesystem(step: Step): boolean {
  return step.kind === 'run' || step.kind === 'copy' || step.kind === 'add' || step.kind === 'workdir';
}

/**
 * Whether a COPY/ADD is linked (`--link`): BuildKit then copies onto an empty filesystem and merges the result over
 * the stage, so the layer is keyed and made without the stage's files, and is reused on any base. As in BuildKit,
 * `--chmod` turns the link off (the copy is then an ordinary one).
 */
export function isLinkedCopy(step: Step): boolean {
  return (step.kind === 'copy' || step.kind === 'add') && step.link && step.chmod === undefined;
}
