/**
 * BuildKit's `# check=…` directive: which build checks are skipped and whether a violation fails the build.
 * `parseCheckOptions` is its `linter.ParseLintOptions`; `readCheckOptions` finds the directive the way its
 * Dockerfile frontend does (`parser.ParseDirective("check", dt)`: a BOM and a `#!` line skipped, `#` comments
 * only), or takes the `BUILDKIT_DOCKERFILE_CHECK` build arg instead, which wins over the directive.
 */
import { UserError } from '../errors';
import { detectDirective } from './directives';
import { goQuote, goTrimSpace } from './go-text';

export interface CheckOptions {
  /** `skip=A,B`: rule names, each trimmed (an empty name can be there; it matches no rule). */
  skip: string[];
  /** `skip=all`. */
  skipAll: boolean;
  /** `error=true`: a violation of a rule not skipped fails the build. */
  error: boolean;
}

/** No `# check=` directive: every rule on, none an error. */
export function defaultCheckOptions(): CheckOptions {
  return { skip: [], skipAll: false, error: false };
}

/** What went wrong reading a check option, in BuildKit's words (the caller says where). */
export class CheckOptionsError extends Error {}

/** Go's `strconv.ParseBool`. */
function goParseBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** `linter.ParseLintOptions`: `skip=A,B` or `skip=all`, `;`, `error=BOOL`; anything else is refused. */
export function parseCheckOptions(value: string): CheckOptions {
  const text = goTrimSpace(value);
  if (text === '') return defaultCheckOptions();
  // strings.SplitN(s, ";", 2): a second `;` stays in the second part (and so fails its option).
  const semi = text.indexOf(';');
  const parts = semi < 0 ? [text] : [text.slice(0, semi), text.slice(semi + 1)];
  const out = defaultCheckOptions();
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new CheckOptionsError(`invalid check option ${goQuote(part)}`);
    const key = goTrimSpace(part.slice(0, eq));
    const v = part.slice(eq + 1);
    if (key === 'skip') {
      const list = goTrimSpace(v);
      if (list === 'all') out.skipAll = true;
      else out.skip = list.split(',').map(goTrimSpace);
    } else if (key === 'error') {
      const bool = goParseBool(goTrimSpace(v));
      if (bool === undefined) {
        throw new CheckOptionsError(
          `failed to parse check option ${goQuote(part)}: strconv.ParseBool: parsing ${goQuote(goTrimSpace(v))}: invalid syntax`,
        );
      }
      out.error = bool;
    } else {
      throw new CheckOptionsError(`invalid check option ${goQuote(key)}`);
    }
  }
  return out;
}

/** The build arg that replaces the directive, as BuildKit's frontend reads it. */
export const CHECK_BUILD_ARG = 'BUILDKIT_DOCKERFILE_CHECK';

/**
 * The check options of a build: the `BUILDKIT_DOCKERFILE_CHECK` build arg when given, else the Dockerfile's
 * `# check=` directive, else none skipped and no error. A bad value is a `UserError` at the directive's line.
 */
export function readCheckOptions(
  dockerfile: Uint8Array,
  fileName: string,
  buildArgs?: ReadonlyMap<string, string>,
): CheckOptions {
  const fromArg = buildArgs?.get(CHECK_BUILD_ARG);
  if (fromArg !== undefined) {
    try {
      return parseCheckOptions(fromArg);
    } catch (err) {
      if (err instanceof CheckOptionsError)
        throw new UserError(`failed to parse build-arg:${CHECK_BUILD_ARG}: ${err.message}`);
      throw err;
    }
  }
  const found = detectDirective('check', dockerfile, false);
  if (found === undefined) return defaultCheckOptions();
  try {
    return parseCheckOptions(found.cmdline);
  } catch (err) {
    if (err instanceof CheckOptionsError) {
      throw new UserError(`failed to parse check options: ${err.message}`, {
        file: fileName,
        line: found.line,
      });
    }
    throw err;
  }
}

/** Whether the options turn `rule` off. */
export function checkSkipped(options: CheckOptions, rule: string): boolean {
  return options.skipAll || options.skip.includes(rule);
}
