/**
 * `RUN --mount=type=cache` directories: persistent across steps and builds under `<root>/cache-mounts/`, one
 * folder per cache id, never part of a layer. Sharing as BuildKit's:
 *
 * - `shared` (default): everyone uses the same directory at the same time;
 * - `locked`: one user at a time, the others wait;
 * - `private`: a user that finds the directory busy gets another instance of the cache (created on demand), so
 *   concurrent writers never see each other.
 *
 * A new cache directory gets `mode`/`uid`/`gid` (default 0755 root) and, with `from=`, a copy of that source; without
 * `from=`, a new `data` instance may be filled from an imported cache (`restore`). It is made in a temp dir and
 * renamed into place, so no user ever sees a half-seeded or half-restored cache.
 */
import { pathExists } from '../../store/fs-probe';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { LockTimeoutError } from '../../store/errors';
import { acquireFileLock, withFileLock, type HeldLock } from '../../store/file-lock';
import { BuildError } from '../../errors';

const execFileAsync = promisify(execFile);

/** A `locked` cache may be held for a whole long RUN: wait up to a day before giving up. */
const LOCKED_WAIT_MS = 24 * 60 * 60 * 1000;

/** Fills a new, empty cache directory with an imported cache's content. */
export type CacheRestore = (emptyDir: string) => Promise<void>;

/** The restore for cache `id`, when an imported cache has one (what a build hands the RUN steps). */
export type CacheMountRestorer = (id: string) => CacheRestore | undefined;

export interface CacheDirRequest {
  id: string;
  sharing: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
  /** A host directory whose content seeds a new cache (`from=`). */
  seed?: string;
  /**
   * Fills the `data` instance when it is created without `seed`. Called at most once per cache, in a fresh empty
   * temp dir that only becomes the cache after it returned; when it throws, the cache starts empty (see `warning`).
   */
  restore?: CacheRestore;
}

export interface CacheDir {
  /** The directory to mount. */
  dir: string;
  /** Give the directory back (releases a `locked`/`private` hold). */
  release(): Promise<void>;
  /** Set when `restore` failed and the cache was created empty instead: for the build log. */
  warning?: string;
}

/** An instance directory as `ensureInstance` made or found it. */
interface Made {
  dir: string;
  warning?: string;
}

export function cacheMountsDir(root: string): string {
  return path.join(root, 'cache-mounts');
}

/** The folder name of cache `id` under `cache-mounts/`: ids are free text, so hashed into a safe fixed name. */
export function cacheMountKey(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 32);
}

function cacheLockPath(root: string, key: string, instance: string): string {
  return path.join(root, 'locks', `cache-${key}-${instance}.lock`);
}

export async function acquireCacheDir(root: string, req: CacheDirRequest): Promise<CacheDir> {
  const key = cacheMountKey(req.id);
  const base = path.join(cacheMountsDir(root), key);
  const lockPath = (instance: string): string => cacheLockPath(root, key, instance);
  await fsp.mkdir(base, { recursive: true, mode: 0o700 });
  await fsp.writeFile(path.join(base, 'id'), `${req.id}\n`);

  if (req.sharing === 'shared') {
    const made = await ensureInstance(root, base, 'data', req);
    return { ...made, release: async () => undefined };
  }
  if (req.sharing === 'locked') {
    const lock = await acquireFileLock(lockPath('data'), { timeoutMs: LOCKED_WAIT_MS });
    return held(await ensureInstance(root, base, 'data', req).catch(releasing(lock)), lock);
  }
  for (let n = 0; ; n++) {
    const instance = n === 0 ? 'data' : `private-${n}`;
    let lock: HeldLock;
    try {
      lock = await acquireFileLock(lockPath(instance), { timeoutMs: 0 });
    } catch (err) {
      if (err instanceof LockTimeoutError) continue; // busy: try the next instance
      throw err;
    }
    return held(await ensureInstance(root, base, instance, req).catch(releasing(lock)), lock);
  }
}

/**
 * The `data` instance of cache `id`, held as a `locked` user holds it, for reading it whole (export): no `locked`
 * or `private` user writes to it meanwhile (`shared` users take no hold and still may). Undefined when the cache
 * was never created here.
 */
export async function holdCacheData(root: string, id: string): Promise<CacheDir | undefined> {
  const key = cacheMountKey(id);
  const dir = path.join(cacheMountsDir(root), key, 'data');
  if (!(await pathExists(dir))) return undefined;
  const lock = await acquireFileLock(cacheLockPath(root, key, 'data'), { timeoutMs: LOCKED_WAIT_MS });
  return held({ dir }, lock);
}

function held(made: Made, lock: HeldLock): CacheDir {
  return { ...made, release: () => lock.release() };
}

function releasing(lock: HeldLock): (err: unknown) => Promise<never> {
  return async (err) => {
    await lock.release();
    throw err;
  };
}

/** The instance directory, created (with owner, mode and seed or restored content) the first time. */
async function ensureInstance(
  root: string,
  base: string,
  instance: string,
  req: CacheDirRequest,
): Promise<Made> {
  const dir = path.join(base, instance);
  if (await pathExists(dir)) return { dir };
  // A restore may fetch and unpack a large archive; another user waits for it rather than failing after the lock's
  // default minute (a dead creator's lock is broken as stale, so the wait cannot outlive it).
  const createLock = path.join(base, `.create-${instance}.lock`);
  const create = async (): Promise<Made> => {
    if (await pathExists(dir)) return { dir };
    let warning: string | undefined;
    const tmp = path.join(root, 'tmp', `cache-${process.pid}-${randomBytes(4).toString('hex')}`);
    await fsp.mkdir(path.dirname(tmp), { recursive: true });
    try {
      if (req.seed !== undefined) {
        // cp -a keeps owners, modes, links and xattrs of the seed; never follows its symlinks.
        await execFileAsync('cp', ['-a', '--no-dereference', '--', `${req.seed}/.`, `${tmp}/`]).catch(
          async (err) => {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT')
              throw new BuildError('cp is needed to seed a cache');
            throw new BuildError(
              `cannot seed cache ${req.id}: ${(err as { stderr?: string }).stderr ?? err}`,
            );
          },
        );
      } else {
        await fsp.mkdir(tmp);
        // Only `data` is ever exported, so only `data` is restored; `private-N` instances start empty.
        if (instance === 'data' && req.restore !== undefined) warning = await restoreInto(tmp, req);
      }
      await fsp.chown(tmp, req.uid ?? 0, req.gid ?? 0);
      await fsp.chmod(tmp, req.mode ?? 0o755);
      await fsp.rename(tmp, dir);
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true });
      throw err;
    }
    return warning === undefined ? { dir } : { dir, warning };
  };
  return withFileLock(createLock, create, { timeoutMs: LOCKED_WAIT_MS });
}

/**
 * Run the restore into `tmp`. An imported cache only saves time, so one that cannot be restored (damaged, gone from
 * the registry) must not fail the build: the half-written content is dropped and the cache starts empty.
 */
async function restoreInto(tmp: string, req: CacheDirRequest): Promise<string | undefined> {
  try {
    await req.restore?.(tmp);
    return undefined;
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true });
    await fsp.mkdir(tmp);
    const reason = err instanceof Error ? err.message : String(err);
    return `cache mount ${req.id}: the imported cache could not be restored, it starts empty: ${reason}`;
  }
}
