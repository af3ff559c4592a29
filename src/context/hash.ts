/**
 * Content digests for context files, consulting the stat-keyed `DigestCache` first.
 *
 * A file is never held in memory whole: small files are read synchronously in one go into a shared buffer (on a
 * warm page cache a thread-pool round trip per `open`/`read`/`close` costs more than the system call itself),
 * large ones are streamed a chunk at a time with the event loop free in between.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { constants, type BigIntStats } from 'node:fs';
import * as path from 'node:path';
import { BuildError } from '../errors';
import type { DigestCache } from './digest-cache';
import { hashInWorkers, hashThreads } from './hash-workers';
import { mapLimit } from '../store/map-limit';
import { entryStat, statKey, type EntryStat, type WalkEntry } from './types';

/** Files up to this size are read with blocking calls; larger ones stream asynchronously. */
const SYNC_MAX = 1 << 20;
const SYNC_MAX_BIG = BigInt(SYNC_MAX);
const READ_CHUNK = 1 << 20;
/** Below this many small misses (or bytes), starting worker threads costs more than it saves. */
const WORKER_MIN_FILES = 256;
const WORKER_MIN_BYTES = 4 << 20;
const ATTEMPTS = 3;

export interface FileDigest {
  sha256: string;
  /** The file's stat while it was read (what the digest describes). */
  stat: EntryStat;
}

/** A digest with the full stat it was taken at (for the digest cache's racy-window check). */
interface Hashed {
  sha256: string;
  stat: BigIntStats;
  /** `statKey(stat)`. */
  key: string;
}

/** One buffer for every synchronous read: only one such read runs at a time (they never await). */
let sharedBuffer: Buffer | undefined;

// `crypto.hash` (Node 20.12+) digests a buffer in one call, without a Hash object per file.
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'hex') => string }).hash;

function sha256Hex(data: Uint8Array): string {
  return oneShot ? oneShot('sha256', data, 'hex') : crypto.createHash('sha256').update(data).digest('hex');
}

function openNoFollow(absPath: string): number {
  try {
    // Without following symlinks: a file swapped for a link since the walk is an error, not a read of the
    // target. Non-blocking, so a file swapped for a FIFO cannot hang the open.
    return fs.openSync(absPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    throw new BuildError(`cannot read ${absPath}: ${(e as Error).message}`);
  }
}

/**
 * Hash a small file synchronously, reading it whole into the shared buffer. `walkedKey` is the `statKey` the
 * walk saw: when the file still has exactly that stat after the read, nothing wrote to it in between (a write
 * always moves ctime), so the file need not be stat'ed before reading as well. Returns undefined when the file
 * turns out to be larger than `SYNC_MAX`; the caller then streams it.
 */
function hashSmallFile(absPath: string, walkedKey?: string): Hashed | undefined {
  const buf = (sharedBuffer ??= Buffer.allocUnsafe(SYNC_MAX + 1));
  for (let attempt = 1; ; attempt++) {
    const fd = openNoFollow(absPath);
    try {
      let before: string | undefined = attempt === 1 ? walkedKey : undefined;
      if (before === undefined) {
        const st = fs.fstatSync(fd, { bigint: true });
        if (!st.isFile()) throw new BuildError(`${absPath} is no longer a regular file`);
        if (st.size > SYNC_MAX_BIG) return undefined;
        before = statKey(st);
      }
      let total = 0;
      for (;;) {
        const n = readOrFail(fd, buf, total, absPath);
        if (n === 0) break;
        total += n;
        if (total > SYNC_MAX) return undefined; // grew past the buffer since it was stat'ed
      }
      const after = fs.fstatSync(fd, { bigint: true });
      const key = statKey(after);
      if (key === before && after.size === BigInt(total)) {
        if (!after.isFile()) throw new BuildError(`${absPath} is no longer a regular file`);
        return { sha256: sha256Hex(buf.subarray(0, total)), stat: after, key };
      }
      if (attempt >= ATTEMPTS) throw new BuildError(`${absPath} kept changing while it was being read`);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** `readSync`, with a path that stopped being a regular file since the walk (a directory, a FIFO) said so. */
function readOrFail(fd: number, buf: Buffer, offset: number, absPath: string): number {
  try {
    return fs.readSync(fd, buf, offset, buf.length - offset, null);
  } catch (e) {
    if (!fs.fstatSync(fd).isFile()) throw new BuildError(`${absPath} is no longer a regular file`);
    throw new BuildError(`cannot read ${absPath}: ${(e as Error).message}`);
  }
}

/**
 * sha256 of one regular file. Opened without following symlinks (a file swapped for a link since the walk is
 * an error, not a read of the target), and re-read if it changed while being read.
 */
export async function hashFile(absPath: string): Promise<FileDigest> {
  const { sha256, stat } = hashSmallFile(absPath) ?? (await hashLargeFile(absPath));
  return { sha256, stat: entryStat(stat) };
}

async function hashLargeFile(absPath: string): Promise<Hashed> {
  for (let attempt = 1; ; attempt++) {
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(absPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      throw new BuildError(`cannot read ${absPath}: ${(e as Error).message}`);
    }
    try {
      const before = await fh.stat({ bigint: true });
      if (!before.isFile()) throw new BuildError(`${absPath} is no longer a regular file`);
      const hash = crypto.createHash('sha256');
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
      }
      const after = await fh.stat({ bigint: true });
      const key = statKey(before);
      if (key === statKey(after)) return { sha256: hash.digest('hex'), stat: before, key };
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
  /** Worker threads for small files when there are many to read (default: one per core; 0 for none). */
  threads?: number;
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
  const results = new Array<FileDigest | undefined>(files.length);
  const hashed: string[] = [];
  const small: number[] = [];
  const large: number[] = [];
  let smallBytes = 0;
  files.forEach((entry, i) => {
    const cached = cache?.get(entry.path, entry.stat.key);
    if (cached !== undefined) {
      results[i] = { sha256: cached, stat: entry.stat };
      return;
    }
    hashed.push(entry.path);
    if (entry.stat.size > SYNC_MAX) large.push(i);
    else {
      small.push(i);
      smallBytes += entry.stat.size;
    }
  });
  const abs = (entry: WalkEntry): string => path.join(root, ...entry.path.split('/'));

  // Many misses (a cold context): every core reads and hashes. What a worker cannot vouch for is done below.
  const threads = options.threads ?? hashThreads();
  if (threads > 0 && small.length >= WORKER_MIN_FILES && smallBytes >= WORKER_MIN_BYTES) {
    const started = cache ? cache.clock() : 0n;
    const fromWorkers = await hashInWorkers(
      small.length,
      (k) => ({ abs: abs(files[small[k]]), key: files[small[k]].stat.key }),
      threads,
      SYNC_MAX,
    );
    fromWorkers.forEach((sha256, k) => {
      if (sha256 === null) return;
      const entry = files[small[k]];
      cache?.set(entry.path, entry.stat.key, sha256, started);
      results[small[k]] = { sha256, stat: entry.stat };
    });
  }

  let sinceYield = 0;
  for (const i of small) {
    if (results[i] !== undefined) continue;
    const entry = files[i];
    const started = cache ? cache.clock() : 0n;
    const result = hashSmallFile(abs(entry), entry.stat.key);
    if (result === undefined) {
      large.push(i); // grew since the walk
      continue;
    }
    cache?.set(entry.path, result.key, result.sha256, started);
    // Unchanged since the walk (the usual case): its stat is the walk's.
    const stat = result.key === entry.stat.key ? entry.stat : entryStat(result.stat);
    results[i] = { sha256: result.sha256, stat };
    // Blocking reads add up on a cold context: let the event loop breathe every few megabytes.
    sinceYield += stat.size + 4096;
    if (sinceYield >= 16 << 20) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  await mapLimit(large, options.concurrency ?? 4, async (i) => {
    const entry = files[i];
    const started = cache ? cache.clock() : 0n;
    const result = await hashLargeFile(abs(entry));
    cache?.set(entry.path, result.key, result.sha256, started);
    results[i] = { sha256: result.sha256, stat: entryStat(result.stat) };
  });

  // In entry order, for the callers that iterate the map.
  const digests = new Map<string, FileDigest>();
  files.forEach((entry, i) => digests.set(entry.path, results[i] as FileDigest));
  return { digests, hashed };
}
