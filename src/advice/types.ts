/**
 * The advice room's vocabulary: a finding (a rule that fired on one Dockerfile instruction), what the rules read
 * (the plan and, for the one rule that needs it, what the build context holds at its root), and the seam through
 * which a caller adds to each finding what the cache history says it cost.
 */
import type { BuildPlan } from '../planner/types';

export interface Finding {
  /** The rule's CamelCase name, as `# check=skip=` names it. */
  rule: string;
  /** The Dockerfile line the instruction starts on. */
  line: number;
  /** Its last line, when it spans more than one. */
  endLine?: number;
  /**
   * Where the instruction is in the plan, as the build log and the build history count (the history's position
   * is `${stageIndex}/${stepIndex}`): the stage's display name and index, and the step's 1-based place in the
   * stage (FROM is 1). Null for an instruction before the first FROM (a global ARG), which is no step.
   */
  stage: string | null;
  stageIndex: number | null;
  stepIndex: number | null;
  /** What is wrong here and what to do, in one line. */
  message: string;
  /** Why the rule matters, in one line (the same for every finding of the rule). */
  why: string;
}

/** A rule: its name, its one-line why, and the findings it makes of a Dockerfile. */
export interface Rule {
  name: string;
  why: string;
  check(input: AdviceInput): Finding[];
}

/** What the context holds at its root that matters to the cache: `.git` and `node_modules`, and what ignores them. */
export interface ContextFacts {
  /** The ignore file the build applies (`<Dockerfile>.dockerignore` or `.dockerignore`), or null when none. */
  ignoreFile: string | null;
  /** Of `.git` and `node_modules`: those at the context root that the ignore file leaves in the context. */
  included: string[];
}

export interface AdviceInput {
  plan: BuildPlan;
  /** Undefined when not known (a tar context, or a Dockerfile alone on stdin): the context rule stays quiet. */
  context?: ContextFacts;
}

/** Which build a check is about, for an annotator that reads the build history (keyed by Dockerfile and target). */
export interface AnnotationContext {
  /** The store (`--root`). */
  root: string;
  /** The Dockerfile's absolute path, as a build of it records its history. */
  dockerfilePath: string;
  /** The target stage's display name. */
  target: string;
  /** The Dockerfile as the build names it (`Dockerfile`, `build/app.Dockerfile`): the build log's name for it. */
  dockerfileName: string;
  /** `--target` as given (lower-cased), '' for the default: the build log's name for the target. */
  requestedTarget: string;
}

/**
 * Adds a note to findings (say, "the history shows it cost 12 misses"): one entry per finding, in order, undefined
 * where there is nothing to add.
 */
export type FindingAnnotator = (
  findings: readonly Finding[],
  about: AnnotationContext,
) => Promise<readonly (string | undefined)[]>;
