/**
 * `RUN --mount=type=cache` directories: persistent across steps and builds under `<root>/cache-mounts/`, one
 * folder per cache id, never part of a layer. Sharing as BuildKit's:
 *
 * - `shared` (default): everyone uses the same directory at the same time;
 * - `locked`: one user at a time, the others wait;
 * - `private`: a user that finds the directory busy gets another instance of the cache (created on demand), so
 *   concurrent writers never see each other.
 *
 * A new cache directory gets `mode`/`uid`/`gid` (default 0755 root) and, with `from=`, a copy of that source. It is
 * made in a temp dir and renamed into place, so no user ever sees a half-seeded cache.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { isErrno } from '../../cache/atomic';
import { LockTimeoutError } from '../../cache/errors';
import { acquireFileLock, withFileLock, type HeldLock } from '../../cache/file-lock';
import { BuildError } from '../../errors';

const execFileAsync = promisify(execFile);

/** A `locked` cache may be held for a whole long RUN: wait up to a day before giving up. */
const LOCKED_WAIT_MS = 24 * 60 * 60 * 1000;

export interface CacheDirRequest {
  id: string;
  sharing: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
  /** A host directory whose content seeds a new cache (`from=`). */
  seed?: string;
}

export interface CacheDir {
  /** The directory to mount. */
  dir: string;
  /** Give the directory back (releases a `locked`/`private` hold). */
  release(): Promise<void>;
}

export function cacheMountsDir(root: string): string {
  return path.join(root, 'cache-mounts');
}

export async function acquireCacheDir(root: string, req: CacheDirRequest): Promise<CacheDir> {
  const key = createHash('sha256').update(req.id).digest('hex').slice(0, 32);
  const base = path.join(cacheMountsDir(root), key);
  const lockPath = (instance: string): string => path.join(root, 'locks', `cache-${key}-${instance}.lock`);
  await fsp.mkdir(base, { recursive: true, mode: 0o700 });
  await fsp.writeFile(path.join(base, 'id'), `${req.id}\n`);

  if (req.sharing === 'shared') {
    return { dir: await ensureInstance(root, base, 'data', req), release: async () => undefined };
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

function held(dir: string, lock: HeldLock): CacheDir {
  return { dir, release: () => lock.release() };
}

function releasing(lock: HeldLock): (err: unknown) => Promise<never> {
  return async (err) => {
    await lock.release();
    throw err;
  };
}

/** The instance directory, created (with owner, mode and seed) the first time. */
async function ensureInstance(
  root: string,
  base: string,
  instance: string,
  req: CacheDirRequest,
): Promise<string> {
  const dir = path.join(base, instance);
  if (await exists(dir)) return dir;
  return withFileLock(path.join(base, `.create-${instance}.lock`), async () => {
    if (await exists(dir)) return dir;
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
      }
      await fsp.chown(tmp, req.uid ?? 0, req.gid ?? 0);
      await fsp.chmod(tmp, req.mode ?? 0o755);
      await fsp.rename(tmp, dir);
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true });
      throw err;
    }
    return dir;
  });
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}
