/**
 * The planner room: a parsed Dockerfile and the build options → a typed, fully expanded build plan with
 * BuildKit's Dockerfile semantics. Pure: no file system, no images, no network. Base-image configs come in
 * through PlanOptions.baseImage; see queries.ts for the two-pass flow.
 */
export type * from './types';
export { planBuild, expandOnBuildTriggers, type OnBuildContext } from './plan';
export { buildChecks, looksLikeSecret, skippedChecks, type CheckWarning } from './checks';
export { applyChmod } from './chmod';
export { parsePlatform, parsePlatformOption } from './platform';
export { parseImageRef, type ParsedImageRef } from './image-ref';
export { formatGoDuration } from './duration';
export { unresolvedBaseImages, type BaseImageRequest } from './queries';
export { planWithBaseImages } from './plan-with-bases';
