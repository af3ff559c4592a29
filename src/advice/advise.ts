/**
 * Advice on a planned Dockerfile: every rule run over the plan (and, when some step copies the whole context,
 * what the context holds at its root), minus what the `# check=` directive (or `BUILDKIT_DOCKERFILE_CHECK`) skips,
 * in line order; with `error=true`, findings are a violation that fails the check and the build, as in BuildKit.
 * `tsbuild check` and every build call `advise`; the rules are cheap, and the context costs two `lstat`s.
 */
import { BuildError } from '../errors';
import { checkSkipped, readCheckOptions, type CheckOptions } from '../parser';
import type { BuildPlan } from '../planner/types';
import { contextFacts, type ContextLocation } from './context-facts';
import { copiesWholeContext } from './finding';
import { addUrlWithoutChecksum } from './rules/add-url-without-checksum';
import { aptUpdateSeparate } from './rules/apt-update-separate';
import { contextWithoutDockerignore } from './rules/context-without-dockerignore';
import { copyAllBeforeInstall } from './rules/copy-all-before-install';
import { copyLinkCandidate } from './rules/copy-link-candidate';
import { secretsUsedInArgOrEnv } from './rules/secrets-used-in-arg-or-env';
import { volatileArgBeforeSlowSteps } from './rules/volatile-arg';
import type { AdviceInput, Finding, Rule } from './types';

export const RULES: readonly Rule[] = [
  copyAllBeforeInstall,
  volatileArgBeforeSlowSteps,
  aptUpdateSeparate,
  addUrlWithoutChecksum,
  contextWithoutDockerignore,
  copyLinkCandidate,
  secretsUsedInArgOrEnv,
];

/** The findings of every rule the options leave on, by line (then rule name). */
export function adviseOn(input: AdviceInput, options: CheckOptions): Finding[] {
  if (options.skipAll) return [];
  return RULES.filter((r) => !checkSkipped(options, r.name))
    .flatMap((r) => r.check(input))
    .sort((a, b) => a.line - b.line || (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0));
}

/** With `error=true`, findings fail the check and the build: BuildKit's error, naming each rule once. */
export function lintViolation(findings: readonly Finding[], options: CheckOptions): BuildError | undefined {
  if (!options.error || findings.length === 0) return undefined;
  const rules = [...new Set(findings.map((f) => f.rule))];
  return new BuildError(`lint violation found for rules: ${rules.join(', ')}`);
}

export interface AdviseRequest {
  plan: BuildPlan;
  /** The Dockerfile's bytes, for its `# check=` directive. */
  dockerfile: Uint8Array;
  /** The Dockerfile as named in messages. */
  fileName: string;
  /** `--build-arg` values: `BUILDKIT_DOCKERFILE_CHECK` replaces the directive. */
  buildArgs: ReadonlyMap<string, string>;
  /** The build context on disk; null when it is not the user's directory (a tar context, stdin). */
  context: ContextLocation | null;
}

export interface Advice {
  findings: Finding[];
  options: CheckOptions;
  /** Set when `error=true` and there are findings. */
  violation?: BuildError;
}

/** The advice for one Dockerfile and context. A bad `# check=` value is a `UserError` at its line. */
export async function advise(request: AdviseRequest): Promise<Advice> {
  const options = readCheckOptions(request.dockerfile, request.fileName, request.buildArgs);
  const { plan } = request;
  const wantsContext =
    request.context !== null &&
    !options.skipAll &&
    !checkSkipped(options, contextWithoutDockerignore.name) &&
    plan.stages.some((s) => s.steps.some(copiesWholeContext));
  const context = wantsContext && request.context !== null ? await contextFacts(request.context) : undefined;
  const findings = adviseOn({ plan, context }, options);
  return { findings, options, violation: lintViolation(findings, options) };
}

/** A finding as one line, for the build's warnings: `Dockerfile:4: Rule: message (why: …)`. */
export function warningLine(fileName: string, finding: Finding): string {
  return `${fileName}:${finding.line}: ${finding.rule}: ${finding.message} (why: ${finding.why})`;
}
