/**
 * Whether an ARG or ENV looks per-build: a value CI sets anew on every build (a commit, a date, a build number),
 * by its name and its default. Heuristics, meant to be conservative: `NODE_VERSION=20` is a pin, not a per-build
 * value; `VERSION=dev` (a placeholder CI overrides) is one.
 */

/** Names that say what they hold changes with every commit or build; matched on the upper-cased name. */
const PER_BUILD_NAMES: readonly RegExp[] = [
  /(?:^|_)(?:GIT|VCS|SCM|SOURCE|SRC|HEAD)_?(?:COMMIT|SHA1?|HASH|REV|REVISION|REF)(?:_|$)/,
  /(?:^|_)COMMIT(?:_|$)/,
  /(?:^|_)REVISION(?:_|$)/,
  /(?:^|_)BUILD_?(?:DATE|TIME|TIMESTAMP|NUMBER|NUM|ID|TAG|URL)(?:_|$)/,
  /(?:^|_)(?:TIMESTAMP|BUILDTIME|BUILDDATE)(?:_|$)/,
  /^(?:DATE|NOW)$/,
  // GitLab's predefined variables that change per commit, pipeline or job (not CI_REGISTRY, CI_PROJECT_NAME…).
  /^CI_(?:COMMIT|PIPELINE|JOB|BUILD|MERGE_REQUEST|CONCURRENT)_/,
  /^GITHUB_(?:SHA|RUN_ID|RUN_NUMBER|RUN_ATTEMPT|REF|REF_NAME|HEAD_REF|JOB)$/,
  /^(?:CIRCLE_SHA1|CIRCLE_BUILD_NUM|TRAVIS_COMMIT|TRAVIS_BUILD_(?:NUMBER|ID)|BUILDKITE_(?:COMMIT|BUILD_NUMBER|BUILD_ID))$/,
  /^(?:BITBUCKET_(?:COMMIT|BUILD_NUMBER)|DRONE_(?:COMMIT(?:_SHA)?|BUILD_NUMBER)|BUILD_BUILDID|BUILD_SOURCEVERSION)$/,
  /^CODEBUILD_(?:RESOLVED_SOURCE_VERSION|BUILD_NUMBER|BUILD_ID)$/,
];

/** Names that are per-build only when their default says so (`VERSION=dev`), not when it pins (`GO_VERSION=1.22`). */
const VERSION_NAME = /(?:^|_)(?:VERSION|VER|RELEASE|TAG)(?:_|$)/;

/** Defaults that are placeholders for a value CI passes in. */
const CI_PLACEHOLDER =
  /^(?:|dev|devel|develop|development|local|unknown|snapshot|latest|head|master|main|none|null|undefined|nightly|edge|ci|0|0\.0\.0(?:[-+.].*)?|.*[-+.](?:dev|snapshot|local|dirty)(?:[-+.].*)?)$/i;

/** A value that reads like one build's: a commit id (7 to 40 hex digits, letters and digits) or a date and time. */
export function valueLooksPerBuild(value: string): boolean {
  if (/^[0-9a-f]{7,40}$/i.test(value) && /[0-9]/.test(value) && /[a-f]/i.test(value)) return true;
  return /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.test(value);
}

export function nameLooksPerBuild(name: string): boolean {
  const upper = name.toUpperCase();
  return PER_BUILD_NAMES.some((p) => p.test(upper));
}

/** The variables a text refers to (`$NAME`, `${NAME…}`). */
export function referencedNames(text: string): string[] {
  return [...text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]);
}

export interface DeclaredValue {
  /** The default as written (unexpanded), if any: ARG's `=…`, ENV's value. */
  written?: string;
  /** The value this build gives it, when it came from `--build-arg`. */
  buildArg?: string;
}

/** Whether NAME, declared with this default (and this build's value), looks like it changes every build. */
export function looksPerBuild(name: string, declared: DeclaredValue): boolean {
  if (declared.buildArg !== undefined && valueLooksPerBuild(declared.buildArg)) return true;
  const written = declared.written;
  const refersToPerBuild = written !== undefined && referencedNames(written).some(nameLooksPerBuild);
  if (refersToPerBuild) return true;
  if (nameLooksPerBuild(name)) return true;
  if (!VERSION_NAME.test(name.toUpperCase()) || written === undefined) return false;
  return CI_PLACEHOLDER.test(written) || (!written.includes('$') && valueLooksPerBuild(written));
}
