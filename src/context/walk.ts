/**
 * The context walk: every path a build can see, the way BuildKit's fsutil sends the context. Top-down, each
 * directory's children in byte order, each path decided with its parent's per-pattern results, excluded
 * directories pruned only when no exception could reach inside them, and excluded directories that hold a
 * re-included path listed anyway (just before their first included descendant) so that path has a parent.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { BuildError, UserError } from '../errors';
import { compareCodePoints } from './go-path';
import { mapLimit } from './limit';
import type { MatchInfo, PatternMatcher } from './pattern-matcher';
import { entryTypeOf, type WalkEntry } from './types';

export interface WalkOptions {
  /** How many `lstat` calls may run at once inside one directory. */
  concurrency?: number;
}

interface Ancestor {
  entry: WalkEntry;
  listed: boolean;
}

/**
 * List the context: files, directories, symlinks (not followed) and device nodes, relative and `/`-separated,
 * in walk order (parents before children, siblings sorted by code point). Pass `matcher: null` for no
 * `.dockerignore`. The root itself is not listed.
 */
export async function walkContext(
  contextDir: string,
  matcher: PatternMatcher | null,
  options: WalkOptions = {},
): Promise<WalkEntry[]> {
  const root = await resolveRoot(contextDir);
  const concurrency = options.concurrency ?? 32;
  const out: WalkEntry[] = [];

  const visit = async (absDir: string, relDir: string, parentInfo: MatchInfo | null, chain: Ancestor[]) => {
    const names = await readDir(absDir, relDir, chain);
    names.sort(compareCodePoints);
    const stats = await mapLimit(names, concurrency, (name) => lstatOrNull(path.join(absDir, name)));
    for (let i = 0; i < names.length; i++) {
      const stat = stats[i];
      if (stat === null) continue; // vanished since readdir: the walk simply does not see it
      const type = entryTypeOf(stat);
      if (type === null) continue;
      const rel = relDir === '' ? names[i] : `${relDir}/${names[i]}`;
      const abs = path.join(absDir, names[i]);
      const { excluded, info } = matcher
        ? matcher.matchesUsingParentResults(rel, parentInfo)
        : { excluded: false, info: null };
      const entry: WalkEntry = { path: rel, type, stat };
      if (type === 'symlink') entry.linkTarget = await fs.readlink(abs);
      if (excluded) {
        // Not listed; but an exception may still re-include something inside, so look unless fsutil wouldn't.
        if (type === 'dir' && !(matcher as PatternMatcher).canSkipDir(rel)) {
          await visit(abs, rel, info, [...chain, { entry, listed: false }]);
        }
        continue;
      }
      for (const a of chain) {
        if (!a.listed) {
          out.push(a.entry);
          a.listed = true;
        }
      }
      out.push(entry);
      if (type === 'dir') await visit(abs, rel, info, [...chain, { entry, listed: true }]);
    }
  };

  await visit(root, '', null, []);
  return out;
}

/** The context directory with symlinks resolved (as fsutil does), checked to be a directory. */
export async function resolveRoot(contextDir: string): Promise<string> {
  let root: string;
  try {
    root = await fs.realpath(contextDir);
  } catch (e) {
    throw new UserError(`build context ${contextDir} not found: ${(e as Error).message}`);
  }
  const st = await fs.stat(root);
  if (!st.isDirectory()) throw new UserError(`build context ${contextDir} is not a directory`);
  return root;
}

async function readDir(absDir: string, relDir: string, chain: Ancestor[]): Promise<string[]> {
  try {
    return await fs.readdir(absDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    // fsutil ignores an unreadable directory that is excluded anyway (it only looked inside for exceptions).
    const self = chain[chain.length - 1];
    if ((code === 'EACCES' || code === 'EPERM') && self && !self.listed) return [];
    throw new BuildError(
      `cannot read ${relDir === '' ? 'the build context' : relDir}: ${(e as Error).message}`,
    );
  }
}

async function lstatOrNull(abs: string) {
  try {
    return await fs.lstat(abs, { bigint: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new BuildError(`cannot stat ${abs}: ${(e as Error).message}`);
  }
}
