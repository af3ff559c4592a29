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
 * It only ever holds the entries used by the last save, so deleted or ignored files do not accumulate.
 */
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** Coarser than any common file system's time stamps (FAT: 2 s) plus clock lag. */
export const DEFAULT_RACY_WINDOW_NS = 2_000_000_000n;

export interface DigestCacheOptions {
  /** How recent a change must be for an entry to count as racy (not stored). */
  racyWindowNs?: bigint;
  /** Wall clock in ns since the epoch (tests inject one). */
  now?: () => bigint;
}

/** The stat fields that must all be unchanged for a cached digest to be trusted. */
interface StatKey {
  size: string;
  mtimeNs: string;
  ctimeNs: string;
  ino: string;
  dev: string;
}

interface CacheRecord extends StatKey {
  sha256: string;
}

interface CacheFile {
  version: 1;
  root: string;
  entries: Record<string, CacheRecord>;
}

function statKey(stat: BigIntStats): StatKey {
  return {
    size: stat.size.toString(),
    mtimeNs: stat.mtimeNs.toString(),
    ctimeNs: stat.ctimeNs.toString(),
    ino: stat.ino.toString(),
    dev: stat.dev.toString(),
  };
}

function sameKey(a: StatKey, b: StatKey): boolean {
  return (
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs &&
    a.ino === b.ino &&
    a.dev === b.dev
  );
}

function isRecord(v: unknown): v is CacheRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    ['size', 'mtimeNs', 'ctimeNs', 'ino', 'dev'].every((k) => typeof r[k] === 'string') &&
    typeof r.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(r.sha256)
  );
}

export class DigestCache {
  /** Entries read from disk; consulted by `get`. */
  private readonly previous: Map<string, CacheRecord>;
  /** Entries used or recorded since opening; what `save` writes. */
  private readonly current = new Map<string, CacheRecord>();
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
    const previous = new Map<string, CacheRecord>();
    try {
      const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<CacheFile>;
      if (
        parsed.version === 1 &&
        parsed.root === root &&
        typeof parsed.entries === 'object' &&
        parsed.entries
      ) {
        for (const [rel, rec] of Object.entries(parsed.entries)) if (isRecord(rec)) previous.set(rel, rec);
      }
    } catch {
      // No cache yet, or a torn/foreign file: start empty; every digest will simply be computed.
    }
    return new DigestCache(file, root, previous, options);
  }

  /** The cached digest of `relPath` if its stat is exactly what it was when hashed, else undefined. */
  get(relPath: string, stat: BigIntStats): string | undefined {
    const rec = this.current.get(relPath) ?? this.previous.get(relPath);
    if (!rec || !sameKey(rec, statKey(stat))) return undefined;
    this.current.set(relPath, rec);
    return rec.sha256;
  }

  /**
   * Remember a digest computed from the file as it was at `stat`. `hashStartedNs` is the wall clock when
   * reading began; a file changed within the racy window before that is not remembered.
   */
  set(relPath: string, stat: BigIntStats, sha256: string, hashStartedNs: bigint = this.now()): void {
    const newest = stat.mtimeNs > stat.ctimeNs ? stat.mtimeNs : stat.ctimeNs;
    if (newest + this.racyWindowNs >= hashStartedNs) {
      this.current.delete(relPath);
      return;
    }
    this.current.set(relPath, { ...statKey(stat), sha256 });
  }

  /** Wall clock in ns, as the cache sees it (for `set`'s `hashStartedNs`). */
  clock(): bigint {
    return this.now();
  }

  /** Write the entries used since opening, atomically. */
  async save(): Promise<void> {
    const data: CacheFile = { version: 1, root: this.root, entries: Object.fromEntries(this.current) };
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
