/**
 * A stat-keyed hint for file content digests, so unchanged files are not re-read on every build.
 *
 * A cached digest is reused only when size, mtime, ctime, inode and device all still match (DESIGN.md: never
 * size+mtime alone, which is how BuildKit misses edits). ctime cannot be set by users, so an edit that restores
 * size and mtime is still seen. One more hole remains: file systems stamp times with a coarse clock, so a file
 * rewritten within the same tick as it was hashed keeps its stat. Like git's "racy clean" rule, entries whose
 * mtime or ctime is too close to the moment hashing started are not stored, and get hashed again next time.
 *
 * One JSON file per context root under the cache directory, replaced atomically (temp file, fsync, rename).
 * It only ever holds the entries used by the last save, so deleted or ignored files do not accumulate, and it
 * is not rewritten at all when a build used exactly what it holds (the usual no-op rebuild). The entries are
 * one flat array of strings, `[path, stat key, sha256, path, …]`: for a context of 50,000 files that parses in
 * a few tens of milliseconds, where an object per entry took ten times as long.
 */
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { statKey } from './types';

/** Coarser than any common file system's time stamps (FAT: 2 s) plus clock lag. */
export const DEFAULT_RACY_WINDOW_NS = 2_000_000_000n;

export interface DigestCacheOptions {
  /** How recent a change must be for an entry to count as racy (not stored). */
  racyWindowNs?: bigint;
  /** Wall clock in ns since the epoch (tests inject one). */
  now?: () => bigint;
}

interface CacheRecord {
  /** `statKey` of the file as it was hashed. */
  key: string;
  sha256: string;
}

interface CacheFile {
  version: 2;
  root: string;
  /** `[path, key, sha256]` triples, flattened. */
  entries: string[];
}

const FORMAT_VERSION = 2;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export class DigestCache {
  /** Entries read from disk; consulted by `get`. */
  private readonly previous: Map<string, CacheRecord>;
  /** Entries used or recorded since opening; what `save` writes. */
  private readonly current = new Map<string, CacheRecord>();
  /** Whether `current` holds anything that `previous` did not (a new or changed entry). */
  private changed = false;
  private readonly racyWindowNs: bigint;
  private readonly now: () => bigint;

  private constructor(
    /** The JSON file backing this cache. */
    readonly file: string,
    private readonly root: string,
    previous: Map<string, CacheRecord>,
    options: DigestCacheOptions,
  ) {
    this.previous = previous;
    this.racyWindowNs = options.racyWindowNs ?? DEFAULT_RACY_WINDOW_NS;
    this.now = options.now ?? (() => BigInt(Date.now()) * 1_000_000n);
  }

  /** Open (or start) the cache for one context root. A missing or damaged file just means an empty cache. */
  static async open(
    cacheDir: string,
    contextRoot: string,
    options: DigestCacheOptions = {},
  ): Promise<DigestCache> {
    const root = path.resolve(contextRoot);
    const id = createHash('sha256').update(root).digest('hex').slice(0, 32);
    const file = path.join(cacheDir, `context-digests-${id}.json`);
    let previous = new Map<string, CacheRecord>();
    try {
      previous = parseCacheFile(await fs.readFile(file, 'utf8'), root);
    } catch {
      // No cache yet, or a torn/foreign file: start empty; every digest will simply be computed.
    }
    return new DigestCache(file, root, previous, options);
  }

  /**
   * The cached digest of `relPath` if its stat is exactly what it was when hashed, else undefined. `key` is the
   * file's `statKey` (a walk entry's `stat.key`).
   */
  get(relPath: string, key: string): string | undefined {
    const rec = this.current.get(relPath) ?? this.previous.get(relPath);
    if (!rec || rec.key !== key) return undefined;
    this.current.set(relPath, rec);
    return rec.sha256;
  }

  /**
   * Remember a digest computed from the file as it was at `stat` (or at the stat whose `statKey` this is).
   * `hashStartedNs` is the wall clock when reading began; a file changed within the racy window before that is
   * not remembered.
   */
  set(relPath: string, stat: BigIntStats | string, sha256: string, hashStartedNs: bigint = this.now()): void {
    const key = typeof stat === 'string' ? stat : statKey(stat);
    const [, mtimeNs, ctimeNs] = key.split(':').map((n) => BigInt(n));
    const newest = mtimeNs > ctimeNs ? mtimeNs : ctimeNs;
    this.changed = true;
    if (newest + this.racyWindowNs >= hashStartedNs) {
      this.current.delete(relPath);
      return;
    }
    this.current.set(relPath, { key, sha256 });
  }

  /** Wall clock in ns, as the cache sees it (for `set`'s `hashStartedNs`). */
  clock(): bigint {
    return this.now();
  }

  /**
   * Write the entries used since opening, atomically. Skipped when they are exactly the entries on disk: every
   * one was used, and none was added or changed.
   */
  async save(): Promise<void> {
    if (!this.changed && this.current.size === this.previous.size) return;
    const entries: string[] = [];
    for (const [rel, rec] of this.current) entries.push(rel, rec.key, rec.sha256);
    const data: CacheFile = { version: FORMAT_VERSION, root: this.root, entries };
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const fh = await fs.open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(JSON.stringify(data));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fs.rename(tmp, this.file);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
    await syncDir(path.dirname(this.file));
  }
}

/** The records of a cache file for `root`; throws on anything that is not one (the caller starts empty). */
function parseCacheFile(text: string, root: string): Map<string, CacheRecord> {
  const parsed = JSON.parse(text) as Partial<CacheFile>;
  const out = new Map<string, CacheRecord>();
  if (parsed.version !== FORMAT_VERSION || parsed.root !== root || !Array.isArray(parsed.entries)) return out;
  const list: unknown[] = parsed.entries;
  if (list.length % 3 !== 0) return out;
  for (let i = 0; i < list.length; i += 3) {
    const [rel, key, sha256] = [list[i], list[i + 1], list[i + 2]];
    if (typeof rel !== 'string' || typeof key !== 'string' || typeof sha256 !== 'string') continue;
    if (!SHA256_HEX.test(sha256)) continue;
    out.set(rel, { key, sha256 });
  }
  return out;
}

/** fsync a directory so a rename in it survives a crash; not every platform allows it, and that is fine. */
async function syncDir(dir: string): Promise<void> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch {
    // Best effort: the cache is only a hint.
  } finally {
    await fh?.close();
  }
}
