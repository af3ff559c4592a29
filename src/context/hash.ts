/**
 * Content digests for context files, consulting the stat-keyed `DigestCache` first.
 *
 * A file is never held in memory whole: small files are read synchronously in one go into a shared buffer (on a
 * warm page cache a thread-pool round trip per `open`/`read`/`close` costs more than the system call itself),
 * large ones are streamed a chunk at a time with the event loop free in between.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import { constants, type BigIntStats } from 'node:fs';
import * as path from 'node:path';
import { BuildError } from '../errors';
import type { DigestCache } from './digest-cache';
import { mapLimit } from './limit';
import type { WalkEntry } from './types';

/** Files up to this size are read with blocking calls; larger ones stream asynchronously. */
const SYNC_MAX = 1 << 20;
const READ_CHUNK = 1 << 20;
const ATTEMPTS = 3;

export interface FileDigest {
  sha256: string;
  /** The file's stat while it was read (what the digest describes). */
  stat: BigIntStats;
}

function sameContentStat(a: BigIntStats, b: BigIntStats): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino;
}

/** One buffer for every synchronous read: only one such read runs at a time (they never await). */
let sharedBuffer: Buffer | undefined;

function openNoFollow(absPath: string): number {
  try {
    // Without following symlinks: a file swapped for a link since the walk is an error, not a read of the target.
    return fs.openSync(absPath, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    throw new BuildError(`cannot read ${absPath}: ${(e as Error).message}`);
  }
}

/**
 * Hash a small file synchronously. Returns undefined (having read nothing) when the file turns out to be
 * larger than `SYNC_MAX`; the caller then streams it.
 */
function hashSmallFile(absPath: string): FileDigest | undefined {
  const buf = (sharedBuffer ??= Buffer.allocUnsafe(SYNC_MAX));
  for (let attempt = 1; ; attempt++) {
    const fd = openNoFollow(absPath);
    try {
      const before = fs.fstatSync(fd, { bigint: true });
      if (!before.isFile()) throw new BuildError(`${absPath} is no longer a regular file`);
      if (before.size > BigInt(SYNC_MAX)) return undefined;
      const hash = createHash('sha256');
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        hash.update(buf.subarray(0, n));
      }
      const after = fs.fstatSync(fd, { bigint: true });
      if (sameContentStat(before, after)) return { sha256: hash.digest('hex'), stat: before };
      if (attempt >= ATTEMPTS) throw new BuildError(`${absPath} kept changing while it was being read`);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/**
 * sha256 of one regular file. Opened without following symlinks (a file swapped for a link since the walk is
 * an error, not a read of the target), and re-read if it changed while being read.
 */
export async function hashFile(absPath: string): Promise<FileDigest> {
  return hashSmallFile(absPath) ?? hashLargeFile(absPath);
}

async function hashLargeFile(absPath: string): Promise<FileDigest> {
  for (let attempt = 1; ; attempt++) {
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(absPath, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (e) {
      throw new BuildError(`cannot read ${absPath}: ${(e as Error).message}`);
    }
    try {
      const before = await fh.stat({ bigint: true });
      if (!before.isFile()) throw new BuildError(`${absPath} is no longer a regular file`);
      const hash: Hash = createHash('sha256');
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
  /** Large files read at once (default 4). */
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
  const digests = new Map<string, FileDigest>();
  const hashed: string[] = [];
  const large: WalkEntry[] = [];
  let sinceYield = 0;
  for (const entry of entries) {
    if (entry.type !== 'file') continue;
    const cached = cache?.get(entry.path, entry.stat);
    if (cached !== undefined) {
      digests.set(entry.path, { sha256: cached, stat: entry.stat });
      continue;
    }
    hashed.push(entry.path);
    if (entry.stat.size > BigInt(SYNC_MAX)) {
      large.push(entry);
      continue;
    }
    const started = cache ? cache.clock() : 0n;
    const abs = path.join(root, ...entry.path.split('/'));
    const digest = hashSmallFile(abs);
    if (digest === undefined) {
      large.push(entry); // grew since the walk
      continue;
    }
    cache?.set(entry.path, digest.stat, digest.sha256, started);
    digests.set(entry.path, digest);
    // Blocking reads add up on a cold context: let the event loop breathe every few megabytes.
    sinceYield += Number(digest.stat.size) + 4096;
    if (sinceYield >= 16 << 20) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  await mapLimit(large, options.concurrency ?? 4, async (entry) => {
    const started = cache ? cache.clock() : 0n;
    const digest = await hashLargeFile(path.join(root, ...entry.path.split('/')));
    cache?.set(entry.path, digest.stat, digest.sha256, started);
    digests.set(entry.path, digest);
  });
  // Map order is entry order for the callers that iterate it.
  if (large.length > 0) {
    const ordered = new Map<string, FileDigest>();
    for (const e of entries) {
      const d = digests.get(e.path);
      if (d !== undefined) ordered.set(e.path, d);
    }
    return { digests: ordered, hashed };
  }
  return { digests, hashed };
}
