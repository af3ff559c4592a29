/**
 * Stage headers (BuildKit's buildDispatchStates and resolveTarget): each FROM's base and platform expanded with
 * the global args, the base bound to an earlier stage of that name, `scratch`, or an image; stage names checked for
 * duplicates; the target picked.
 */
import type { Platform } from '../platform';
import type { ShellLex } from '../parser/shell/lex';
import type { EnvList } from './env-list';
import { PlanFault, type SourceText } from './fault';
import { goQuote } from './go';
import { parseImageRef } from './image-ref';
import { parsePlatform } from './platform';
import type { RawStage } from './structure';
import { withSuggestion } from './suggest';
import type { SourceSpan, StageRef } from './types';

export interface StageHeader {
  index: number;
  name?: string;
  displayName: string;
  span: SourceSpan;
  baseName: string;
  base: StageRef;
  platform: Platform;
  explicitPlatform: boolean;
}

export function stageHeaders(
  raw: readonly RawStage[],
  globalArgs: EnvList,
  targetPlatform: Platform,
  lex: ShellLex,
  src: SourceText,
): StageHeader[] {
  const headers: StageHeader[] = [];
  const byName = new Map<string, StageHeader>();
  const env = globalArgs.toMap();
  raw.forEach(({ from }, index) => {
    const span = from.span;
    const baseName = src.at(span, () => lex.processWord(from.baseName, env));
    if (baseName === '') throw src.error(`base name (${from.baseName}) should not be blank`, span);

    let platform = targetPlatform;
    let explicitPlatform = false;
    if (from.platform !== '') {
      const spec = src.at(span, () => {
        try {
          return lex.processWord(from.platform, env);
        } catch (err) {
          throw new PlanFault(
            `failed to process arguments for platform ${from.platform}: ${(err as Error).message}`,
          );
        }
      });
      if (spec === '') throw src.error(`empty platform value from expression ${from.platform}`, span);
      platform = src.at(span, () => {
        try {
          return parsePlatform(spec, targetPlatform);
        } catch (err) {
          if (err instanceof PlanFault)
            throw new PlanFault(`failed to parse platform ${from.platform}: ${err.message}`);
          throw err;
        }
      });
      explicitPlatform = true;
    }

    // An earlier stage of that exact name wins over `scratch` and over any image.
    const parent = byName.get(baseName);
    let base: StageRef;
    if (parent) {
      base = { kind: 'stage', index: parent.index };
      platform = parent.platform;
      explicitPlatform = false;
    } else if (baseName === 'scratch') {
      base = { kind: 'scratch' };
      platform = targetPlatform;
      explicitPlatform = false;
    } else {
      base = { kind: 'image', ref: baseName, normalized: '' };
    }

    if (from.name !== undefined) {
      const first = byName.get(from.name);
      if (first) {
        throw src.error(
          `duplicate stage name ${goQuote(from.name)}, first defined on line ${first.span.line}`,
          span,
        );
      }
    }
    const header: StageHeader = {
      index,
      name: from.name,
      displayName: from.name ?? `stage-${index}`,
      span,
      baseName,
      base,
      platform,
      explicitPlatform,
    };
    headers.push(header);
    if (from.name !== undefined) byName.set(from.name, header);
  });
  return headers;
}

/** The stage `--target` names (case-insensitively), or the last one. */
export function resolveTarget(
  headers: readonly StageHeader[],
  target: string | undefined,
  src: SourceText,
): number {
  if (target === undefined || target === '') return headers.length - 1;
  const wanted = target.toLowerCase();
  const found = headers.find((h) => h.name === wanted);
  if (found) return found.index;
  const names = headers.flatMap((h) => (h.name === undefined ? [] : [h.name]));
  let message = withSuggestion(`target stage ${goQuote(target)} could not be found`, target, names, true);
  message +=
    names.length > 0 ? `; the stages are: ${names.join(', ')}` : '; no stage has a name (use FROM … AS name)';
  throw src.fileError(message);
}

/** Validates and normalises the image bases (BuildKit does this for every stage, built or not). */
export function resolveImageBases(headers: StageHeader[], src: SourceText): void {
  for (const h of headers) {
    if (h.base.kind !== 'image') continue;
    const ref = h.base.ref;
    const parsed = src.at(h.span, () => imageRef(ref));
    h.base = { kind: 'image', ref, normalized: parsed };
  }
}

/** The normalised reference, with BuildKit's "failed to parse stage name" wrapping. */
export function imageRef(ref: string): string {
  try {
    return parseImageRef(ref).normalized;
  } catch (err) {
    if (err instanceof PlanFault)
      throw new PlanFault(`failed to parse stage name ${goQuote(ref)}: ${err.message}`);
    throw err;
  }
}
