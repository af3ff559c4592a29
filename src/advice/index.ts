/**
 * The advice room: static rules over a parsed and planned Dockerfile (and, for one rule, what the build context
 * holds at its root) that say what costs cache and how to fix it, each finding with its rule, line, place in the
 * plan, message and one-line why. `tsbuild check` prints them; a build warns of them once, after planning.
 *
 *   const advice = await advise({ plan, dockerfile: bytes, fileName, buildArgs, context: { dir, dockerfilePath } });
 *   advice.findings;   // [{ rule: 'CopyAllBeforeInstall', line: 5, stage: 'build', stageIndex: 0, stepIndex: 4, … }]
 *   advice.violation;  // a BuildError when `# check=error=true` and there are findings
 */
export {
  advise,
  adviseOn,
  lintViolation,
  RULES,
  warningLine,
  type Advice,
  type AdviseRequest,
} from './advise';
export { contextFacts, VOLATILE_ENTRIES, type ContextLocation } from './context-facts';
export type { AdviceInput, AnnotationContext, ContextFacts, Finding, FindingAnnotator, Rule } from './types';
