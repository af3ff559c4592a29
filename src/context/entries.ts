/**
 * `contextEntries`: the walk plus content digests, reduced to exactly what a COPY/ADD cache key may depend on
 * (DESIGN.md "inputs"): path, type, mode, owner, size, link target, content sha256. Never times or inodes.
 */
import { DigestCache } from './digest-cache';
import { hashEntries } from './hash';
import type { PatternMatcher } from './pattern-matcher';
import { linkIdOf, type ContextEntry, type WalkEntry } from './types';
import { resolveRoot, walkContext } from './walk';

export interface ContextEntriesOptions {
  /** The `.dockerignore` matcher; null or absent for none. */
  matcher?: PatternMatcher | null;
  /** Directory for the stat-keyed digest cache; without it every file is read. */
  cacheDir?: string | null;
  /** Large files (over 1 MiB) hashed at once (default 4); smaller ones are read one after another. */
  concurrency?: number;
}

/**
 * Each entry's modification time (whole seconds since the epoch) as its stat said, kept beside the entry and
 * never in it: a COPY writes it into the layer, but no cache key may depend on it (DESIGN.md "never mtime").
 */
const mtimes = new WeakMap<ContextEntry, number>();

/** The mtime (seconds) of an entry made by `toContextEntry`, or undefined for entries made any other way. */
export function entryMtime(entry: ContextEntry): number | undefined {
  return mtimes.get(entry);
}

/** A copy of an entry with another mode (e.g. normalised), keeping the mtime the walk saw. */
export function withMode(entry: ContextEntry, mode: number): ContextEntry {
  const out = { ...entry, mode };
  const mtime = mtimes.get(entry);
  if (mtime !== undefined) mtimes.set(out, mtime);
  return out;
}

/** Turn walked entries and their digests into key material. */
export function toContextEntry(entry: WalkEntry, sha256?: string, stat = entry.stat): ContextEntry {
  const { path, type } = entry;
  // A file's record is one literal with its digest, so all 50,000 of them share one compact shape.
  const out: ContextEntry =
    sha256 !== undefined
      ? { path, type, mode: stat.mode, uid: stat.uid, gid: stat.gid, size: stat.size, sha256 }
      : { path, type, mode: stat.mode, uid: stat.uid, gid: stat.gid, size: type === 'file' ? stat.size : 0 };
  if (entry.linkTarget !== undefined) out.linkTarget = entry.linkTarget;
  if (type === 'char-device' || type === 'block-device') out.rdev = stat.rdev;
  if (type === 'file') {
    const linkId = linkIdOf(stat);
    if (linkId !== undefined) out.linkId = linkId;
  }
  mtimes.set(out, stat.mtime);
  return out;
}

/** Every path of the build context (walk order) with the metadata and digests a cache key hashes. */
export async function contextEntries(
  root: string,
  options: ContextEntriesOptions = {},
): Promise<ContextEntry[]> {
  const realRoot = await resolveRoot(root);
  const walked = await walkContext(realRoot, options.matcher ?? null);
  const cache = options.cacheDir ? await DigestCache.open(options.cacheDir, realRoot) : null;
  const { digests } = await hashEntries(realRoot, walked, { cache, concurrency: options.concurrency });
  await cache?.save();
  return walked.map((entry) => {
    const d = digests.get(entry.path);
    // The stat taken while hashing is the one the digest belongs to; prefer it if the file changed since the walk.
    return d ? toContextEntry(entry, d.sha256, d.stat) : toContextEntry(entry);
  });
}
