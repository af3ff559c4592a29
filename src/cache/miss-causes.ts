/**
 * A miss's first cause, from the reason the build log gave it. Most misses say only "parent step missed": the
 * cause is then the one of the miss above it in the same stage, so `RUN npm ci` missing after `COPY
 * package*.json ./` missed on an edited lockfile is counted as a miss from `package-lock.json`, not as a mystery.
 */
import type { LoggedStep } from './build-log';

export type CauseKind =
  | 'files'
  | 'build-arg'
  | 'base'
  | 'instruction'
  | 'settings'
  | 'env'
  | 'from-source'
  | 'mount-source'
  | 'no-cache'
  | 'first-build'
  | 'record-gone'
  | 'unknown';

export interface MissCause {
  kind: CauseKind;
  /** In words, to be counted and ranked: `source edits under src/`, `package-lock.json`, `build arg VERSION`. */
  label: string;
}

/** Top-level files a cause names one by one; more are "source edits". */
const MAX_NAMED_FILES = 3;

/** The reasons that point at the step before instead of naming a cause of their own. */
const INHERITED = new Set(['parent step missed', 'parent step changed']);

/** Each missed step's first cause, by position, within one build. */
export function firstCauses(steps: readonly LoggedStep[]): Map<string, MissCause> {
  const ordered = [...steps].sort((a, b) => stageOf(a) - stageOf(b) || a.index - b.index);
  const out = new Map<string, MissCause>();
  let stage = -1;
  let above: MissCause | undefined;
  for (const s of ordered) {
    if (stageOf(s) !== stage) {
      stage = stageOf(s);
      above = undefined;
    }
    if (s.cache !== 'miss') continue;
    const own = ownCause(s.reason ?? '');
    const cause = own ?? above ?? { kind: 'unknown', label: 'a parent step changed' };
    out.set(s.position, cause);
    above = cause;
  }
  return out;
}

/** The cause a reason names itself; undefined when it only points at the step before. */
export function ownCause(reason: string): MissCause | undefined {
  // Several causes are joined with `; `: the first is the one counted.
  const first = reason.split('; ')[0].trim();
  if (INHERITED.has(first)) return undefined;
  if (first === '--no-cache') return { kind: 'no-cache', label: '--no-cache' };
  if (first === 'no earlier build of this step') return { kind: 'first-build', label: 'the first build' };
  if (first.startsWith('inputs unchanged')) return { kind: 'record-gone', label: 'a pruned cache record' };
  const arg = /^build arg (\S+) changed/.exec(first);
  if (arg) return { kind: 'build-arg', label: `build arg ${arg[1]}` };
  const stageBase = /^stage (\S+) changed(:| below the linked layers$)/.exec(first);
  if (stageBase) return { kind: 'base', label: `stage ${stageBase[1]}` };
  if (/^(base image( \S+)?|scratch) changed(:| below the linked layers$)/.test(first))
    return { kind: 'base', label: 'the base image digest' };
  if (first.startsWith('the --from source changed'))
    return { kind: 'from-source', label: 'its --from stage' };
  if (first.startsWith('the source of a bind mount changed'))
    return { kind: 'mount-source', label: "a bind mount's source" };
  // An ENV value edited: the ENV step says `ENV NAME a → b`, every RUN below it `settings changed: env NAME a → b`;
  // both are the one edit, counted under its name.
  const envEdit = /^ENV (\S+) /.exec(first);
  if (envEdit) return { kind: 'env', label: `ENV ${envEdit[1]}` };
  const envOnly = /^settings changed: env (\S+) /.exec(first);
  if (
    envOnly &&
    first
      .slice('settings changed: '.length)
      .split(', ')
      .every((p) => p.startsWith('env '))
  )
    return { kind: 'env', label: `ENV ${envOnly[1]}` };
  if (first.startsWith('settings changed')) return { kind: 'settings', label: 'changed flags' };
  if (first.startsWith('instruction changed') || /^LABEL \S+ /.test(first))
    return { kind: 'instruction', label: 'an edit of the instruction' };
  const files = filesCause(first);
  if (files) return files;
  return { kind: 'unknown', label: first };
}

/** `3 files changed: src/a.js (content), src/b.js (added), …` → `source edits under src/`, or the one file. */
function filesCause(reason: string): MissCause | undefined {
  if (reason === 'source files changed') return { kind: 'files', label: 'source edits' };
  const m = /^(\d+) files? changed: (.*)$/.exec(reason);
  if (!m) return undefined;
  const paths = [
    ...m[2].matchAll(
      /(?:^|, )(.+?) \((?:added|removed|content|mode [^)]*|owner [^)]*|type [^)]*|link target)\)/g,
    ),
  ].map((x) => x[1]);
  if (paths.length === 0) return { kind: 'files', label: 'source edits' };
  // Edits under one directory count together however many of its files changed (src/a.js one day, src/b.js the
  // next); files at the top (a lockfile) are named themselves. Files of different directories are neither: named
  // by path (src/a.js, test/a.test.js), each day's pair would be a cause of its own.
  const dir = commonDir(paths);
  if (dir !== '') return { kind: 'files', label: `source edits under ${dir}/` };
  const allTop = paths.every((p) => !p.includes('/'));
  if (allTop && Number(m[1]) === paths.length && paths.length <= MAX_NAMED_FILES)
    return { kind: 'files', label: paths.join(', ') };
  return { kind: 'files', label: 'source edits' };
}

function commonDir(paths: readonly string[]): string {
  const split = paths.map((p) => p.split('/').slice(0, -1));
  const first = split[0] ?? [];
  let n = 0;
  while (n < first.length && split.every((parts) => parts[n] === first[n])) n++;
  return first.slice(0, n).join('/');
}

function stageOf(s: LoggedStep): number {
  return Number(s.position.split('/')[0]);
}
