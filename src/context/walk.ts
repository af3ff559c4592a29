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
import { createLimiter } from './limit';
import type { MatchInfo, PatternMatcher } from './pattern-matcher';
import { entryTypeOf, type WalkEntry } from './types';

export interface WalkOptions {
  /** How many file system calls may be in flight at once (default 32). */
  concurrency?: number;
}

type Limit = <T>(fn: () => Promise<T>) => Promise<T>;

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
  return listDir(root, '', null, false, matcher, createLimiter(options.concurrency ?? 32));
}

/**
 * Everything below one directory that the build sees, in walk order. Subdirectories are walked concurrently
 * and their listings spliced in place. An excluded directory appears exactly when something below it does:
 * that is fsutil's "send the parents of a re-included path" rule.
 */
async function listDir(
  absDir: string,
  relDir: string,
  parentInfo: MatchInfo | null,
  dirExcluded: boolean,
  matcher: PatternMatcher | null,
  limit: Limit,
): Promise<WalkEntry[]> {
  const names = await limit(() => readDir(absDir, relDir, dirExcluded));
  names.sort(compareCodePoints);
  const parts = await Promise.all(
    names.map(async (name): Promise<WalkEntry[]> => {
      const abs = path.join(absDir, name);
      const stat = await limit(() => lstatOrNull(abs));
      if (stat === null) return []; // vanished since readdir: the walk simply does not see it
      const type = entryTypeOf(stat);
      if (type === null) return [];
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      const { excluded, info } = matcher
        ? matcher.matchesUsingParentResults(rel, parentInfo)
        : { excluded: false, info: null };
      if (excluded && (type !== 'dir' || (matcher as PatternMatcher).canSkipDir(rel))) return [];
      const entry: WalkEntry = { path: rel, type, stat };
      if (type === 'symlink') entry.linkTarget = await limit(() => fs.readlink(abs));
      if (type !== 'dir') return [entry];
      // An excluded directory is still entered when an exception might re-include something inside it.
      const below = await listDir(abs, rel, info, excluded, matcher, limit);
      return excluded && below.length === 0 ? [] : [entry, ...below];
    }),
  );
  return parts.flat();
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

async function readDir(absDir: string, relDir: string, excluded: boolean): Promise<string[]> {
  let raw: Buffer[];
  try {
    raw = await fs.readdir(absDir, { encoding: 'buffer' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    // fsutil ignores an unreadable directory that is excluded anyway (it only looked inside for exceptions).
    if ((code === 'EACCES' || code === 'EPERM') && excluded) return [];
    throw new BuildError(
      `cannot read ${relDir === '' ? 'the build context' : relDir}: ${(e as Error).message}`,
    );
  }
  // Paths are strings from here on; a name that is not UTF-8 would silently become a different (missing) file.
  return raw.map((b) => {
    const name = b.toString('utf8');
    if (!Buffer.from(name, 'utf8').equals(b)) {
      const where = relDir === '' ? 'the build context' : relDir;
      throw new BuildError(
        `a file name in ${where} is not valid UTF-8 (${JSON.stringify(name)}); rename it or ignore its directory`,
      );
    }
    return name;
  });
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
