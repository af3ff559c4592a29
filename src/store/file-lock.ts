/**
 * An inter-process lock on a path, for short critical sections (updating the image index, a cache record).
 *
 * The lock file is created with link(2) from a fully written temp file, so it exists only with its owner
 * record in it (pid, process start time, host, random token) — there is no "empty lock" window.
 *
 * A holder killed with SIGKILL never releases; its lock is stale when its pid is gone or now belongs to a
 * process that started at a different time (pid reuse). Breaking a stale lock is serialised through a
 * second lock (`<lock>.break`) and re-checks, under it, that the lock still holds the very record judged
 * stale, so two waiters that both saw the dead holder cannot delete a lock a third process just took.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isErrno } from './atomic';
import { ownerAlive, processStartTime } from './process';
import { LockTimeoutError } from './errors';

export interface FileLockOptions {
  /** Give up with `LockTimeoutError` after this long (default 60 s). */
  timeoutMs?: number;
}

export interface HeldLock {
  readonly path: string;
  /** Remove the lock if it is still ours. Safe to call twice. */
  release(): Promise<void>;
}

interface LockOwner {
  pid: number;
  /** Kernel start time of the process (jiffies since boot, from /proc), to detect a reused pid. */
  start: string | null;
  host: string;
  token: string;
}

/** A lock file we cannot parse and that is older than this is junk from a foreign writer; break it. */
const UNPARSEABLE_STALE_MS = 10_000;
const MAX_POLL_MS = 100;

export async function withFileLock<T>(
  lockPath: string,
  fn: () => Promise<T>,
  options?: FileLockOptions,
): Promise<T> {
  const lock = await acquireFileLock(lockPath, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

export async function acquireFileLock(lockPath: string, options: FileLockOptions = {}): Promise<HeldLock> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  await fsp.mkdir(path.dirname(lockPath), { recursive: true });
  const me = ownRecord();
  const deadline = Date.now() + timeoutMs;
  let poll = 2;
  for (;;) {
    if (await tryCreate(lockPath, me)) return heldLock(lockPath, me);
    const raw = await readRaw(lockPath);
    if (raw === undefined) continue; // released between our attempt and the read: try again at once
    const owner = parseOwner(raw);
    const stale = owner === undefined ? await olderThan(lockPath, UNPARSEABLE_STALE_MS) : !ownerAlive(owner);
    if (stale) {
      await breakStaleLock(lockPath, raw);
      continue;
    }
    if (Date.now() >= deadline) throw new LockTimeoutError(lockPath, describeOwner(owner));
    await sleep(poll + Math.random() * poll);
    poll = Math.min(poll * 2, MAX_POLL_MS);
  }
}

function heldLock(lockPath: string, me: string): HeldLock {
  let released = false;
  return {
    path: lockPath,
    async release() {
      if (released) return;
      released = true;
      // Only remove the lock if it is still the one we created; never someone else's.
      if ((await readRaw(lockPath)) === me) await fsp.rm(lockPath, { force: true });
    },
  };
}

function ownRecord(): string {
  const owner: LockOwner = {
    pid: process.pid,
    start: processStartTime(process.pid),
    host: os.hostname(),
    token: randomBytes(12).toString('hex'),
  };
  return JSON.stringify(owner);
}

/** Atomically create `lockPath` holding `content`; false if it already exists. */
async function tryCreate(lockPath: string, content: string): Promise<boolean> {
  const tmp = `${lockPath}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await fsp.writeFile(tmp, content, { flag: 'wx' });
  try {
    await fsp.link(tmp, lockPath);
    return true;
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return false;
    throw err;
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

async function breakStaleLock(lockPath: string, staleRaw: string): Promise<void> {
  const breaker = `${lockPath}.break`;
  if (!(await tryCreate(breaker, ownRecord()))) {
    // Another waiter is breaking it. If that waiter died mid-break, its breaker lock is stale in turn.
    const raw = await readRaw(breaker);
    if (raw === undefined) return;
    const owner = parseOwner(raw);
    const stale = owner === undefined ? await olderThan(breaker, UNPARSEABLE_STALE_MS) : !ownerAlive(owner);
    if (stale && (await readRaw(breaker)) === raw) await fsp.rm(breaker, { force: true });
    else await sleep(5);
    return;
  }
  try {
    if ((await readRaw(lockPath)) === staleRaw) await fsp.rm(lockPath, { force: true });
  } finally {
    await fsp.rm(breaker, { force: true });
  }
}

async function readRaw(p: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(p, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

function parseOwner(raw: string): LockOwner | undefined {
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v !== 'object' || v === null) return undefined;
    const o = v as Record<string, unknown>;
    if (typeof o.pid !== 'number' || typeof o.host !== 'string' || typeof o.token !== 'string')
      return undefined;
    return { pid: o.pid, host: o.host, token: o.token, start: typeof o.start === 'string' ? o.start : null };
  } catch {
    return undefined;
  }
}

async function olderThan(p: string, ms: number): Promise<boolean> {
  try {
    const st = await fsp.stat(p);
    return Date.now() - st.mtimeMs > ms;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

function describeOwner(owner: LockOwner | undefined): string {
  return owner === undefined ? 'an unknown owner' : `pid ${owner.pid} on ${owner.host}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
