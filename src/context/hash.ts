/**
 * Content digests for context files: streamed (a file is never held in memory), several at a time, and
 * consulting the stat-keyed `DigestCache` first.
 */
import { createHash } from 'node:crypto';
import { constants, promises as fs, type BigIntStats } from 'node:fs';
import * as path from 'node:path';
import { BuildError } from '../errors';
import type { DigestCache } from './digest-cache';
import { mapLimit } from './limit';
import type { WalkEntry } from './types';

const READ_CHUNK = 1 << 16;
const ATTEMPTS = 3;

export interface FileDigest {
  sha256: string;
  /** The file's stat while it was read (what the digest describes). */
  stat: BigIntStats;
}

function sameContentStat(a: BigIntStats, b: BigIntStats): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino;
}

/**
 * sha256 of one regular file. Opened without following symlinks (a file swapped for a link since the walk is
 * an error, not a read of the target), and re-read if it changed while being read.
 */
export async function hashFile(absPath: string): Promise<FileDigest> {
  for (let attempt = 1; ; attempt++) {
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(absPath, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (e) {
      throw new BuildError(`cannot read ${absPath}: ${(e as Error).message}`);
    }
    try {
      const before = await fh.stat({ bigint: true });
      if (!before.isFile()) throw new BuildError(`${absPath} is no longer a regular file`);
      const hash = createHash('sha256');
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
      }
      const after = await fh.stat({ bigint: true });
      if (sameContentStat(before, after)) return { sha256: hash.digest('hex'), stat: before };
      if (attempt >= ATTEMPTS) throw new BuildError(`${absPath} kept changing while it was being read`);
    } finally {
      await fh.close();
    }
  }
}

export interface HashOptions {
  cache?: DigestCache | null;
  /** Files read at once (default 16). */
  concurrency?: number;
}

export interface HashResult {
  /** Digest (and the stat it belongs to) of every file entry, by path. */
  digests: Map<string, FileDigest>;
  /** The paths that had to be read (cache misses), in entry order. */
  hashed: string[];
}

/**
 * Digest every `file` entry of a walk (other entries are skipped). Cache hits need the walk's stat to match
 * the recorded one; misses are read and recorded. Does not save the cache.
 */
export async function hashEntries(
  root: string,
  entries: readonly WalkEntry[],
  options: HashOptions = {},
): Promise<HashResult> {
  const cache = options.cache ?? null;
  const files = entries.filter((e) => e.type === 'file');
  const hashed: boolean[] = new Array<boolean>(files.length).fill(false);
  const results = await mapLimit(files, options.concurrency ?? 16, async (entry, i): Promise<FileDigest> => {
    const cached = cache?.get(entry.path, entry.stat);
    if (cached !== undefined) return { sha256: cached, stat: entry.stat };
    const started = cache ? cache.clock() : 0n;
    const digest = await hashFile(path.join(root, ...entry.path.split('/')));
    hashed[i] = true;
    cache?.set(entry.path, digest.stat, digest.sha256, started);
    return digest;
  });
  const digests = new Map<string, FileDigest>();
  files.forEach((f, i) => digests.set(f.path, results[i]));
  return { digests, hashed: files.filter((_, i) => hashed[i]).map((f) => f.path) };
}
