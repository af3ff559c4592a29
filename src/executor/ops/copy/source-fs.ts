/**
 * Where COPY/ADD reads from: the build context, or another stage's root filesystem unpacked on disk. Both are a
 * directory plus the entries the build may see, so one copy implementation serves both.
 */
import * as path from 'node:path';
import {
  ContextTree,
  toContextEntry,
  walkContext,
  walkContextScoped,
  withMode,
  type ContextEntry,
} from '../../../context';

/**
 * `--context-modes`: `normalize` clears the group and other write bits of build-context entries, so a checkout
 * made under umask 0002 (a laptop) and one made under 0022 (CI) give the same cache keys and the same layers;
 * `preserve` keeps the modes found on disk, as `docker build` does.
 */
export type ContextModes = 'normalize' | 'preserve';

export interface CopySourceFs {
  /** Absolute directory on disk holding the files. */
  root: string;
  tree: ContextTree;
  entry(relPath: string): ContextEntry | undefined;
  /** True for the build context: files are owned by root in the image unless `--chown` says otherwise. */
  isContext: boolean;
  /** For messages: `build context` or `stage build`. */
  label: string;
  /** How many entries had their group/other write bits cleared (only a context read with `normalize`). */
  normalizedModes: number;
}

export interface SourceOptions {
  /** What to do with the modes of a context's entries (default `preserve`: entries are used as given). */
  modes?: ContextModes;
}

/** The bits a umask of 0002 leaves set and the common 0022 clears. */
const GROUP_OTHER_WRITE = 0o022;

export function sourceFromEntries(
  root: string,
  entries: readonly ContextEntry[],
  isContext: boolean,
  label: string,
  options: SourceOptions = {},
): CopySourceFs {
  let normalizedModes = 0;
  let used = entries;
  // Only the context comes from a checkout whose modes depend on the umask; a stage's or an archive's files have
  // the modes their layer or tar gave them, and those are part of what was built.
  if (isContext && options.modes === 'normalize') {
    used = entries.map((e) => {
      // A symlink's mode is always 0777 on Linux, whatever the umask, and is not what a copy of it gets.
      if (e.type === 'symlink' || (e.mode & GROUP_OTHER_WRITE) === 0) return e;
      normalizedModes++;
      return withMode(e, e.mode & ~GROUP_OTHER_WRITE);
    });
  }
  const byPath = new Map(used.map((e) => [e.path, e]));
  return {
    root,
    tree: new ContextTree(used),
    entry: (p) => byPath.get(p),
    isContext,
    label,
    normalizedModes,
  };
}

/**
 * A stage's unpacked root filesystem as a copy source; files keep their owners. With `scope` (the paths a COPY
 * names), only what those paths can reach is listed (`walkContextScoped`), not the whole filesystem.
 */
export async function sourceFromDirectory(
  root: string,
  label: string,
  scope?: readonly string[],
): Promise<CopySourceFs> {
  const walked = scope === undefined ? await walkContext(root, null) : await walkContextScoped(root, scope);
  return sourceFromEntries(
    path.resolve(root),
    walked.map((w) => toContextEntry(w)),
    false,
    label,
  );
}
