/**
 * Where COPY/ADD reads from: the build context, or another stage's root filesystem unpacked on disk. Both are a
 * directory plus the entries the build may see, so one copy implementation serves both.
 */
import * as path from 'node:path';
import { ContextTree, toContextEntry, walkContext, type ContextEntry } from '../../context';

export interface CopySourceFs {
  /** Absolute directory on disk holding the files. */
  root: string;
  tree: ContextTree;
  entry(relPath: string): ContextEntry | undefined;
  /** True for the build context: files are owned by root in the image unless `--chown` says otherwise. */
  isContext: boolean;
  /** For messages: `build context` or `stage build`. */
  label: string;
}

export function sourceFromEntries(
  root: string,
  entries: readonly ContextEntry[],
  isContext: boolean,
  label: string,
): CopySourceFs {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  return {
    root,
    tree: new ContextTree(entries),
    entry: (p) => byPath.get(p),
    isContext,
    label,
  };
}

/** A stage's unpacked root filesystem as a copy source; files keep their owners. */
export async function sourceFromDirectory(root: string, label: string): Promise<CopySourceFs> {
  const walked = await walkContext(root, null);
  return sourceFromEntries(
    path.resolve(root),
    walked.map((w) => toContextEntry(w)),
    false,
    label,
  );
}
