/**
 * "In use" markers: how a running build (or pull, or load) tells the garbage collector what it must not delete.
 *
 * Each holder writes `<root>/locks/build-<pid>-<token>.json` with its owner (pid, process start time, host) and the
 * references it needs: cache keys, blob digests, diff_ids, snapshot names. The collector keeps everything a live
 * marker names, and every blob or snapshot written since the oldest live marker was created (what a build
 * produces is protected from the moment it exists, before any record or tag points at it). A marker whose
 * process is gone (killed, crashed) is stale: the collector ignores and removes it, as file-lock.ts does.
 *
 * Creating and extending a marker happens under the GC lock, the same lock `pruneStore` holds from its first read
 * to its last delete. So an `add` either lands before a collection starts (which then sees it) or after it ends;
 * a caller that adds a reference and then finds the thing still there can rely on it staying there.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isErrno } from '../store/atomic';
import { ownerAlive, processStartTime } from '../store/process';
import { withFileLock } from '../store/file-lock';

export interface InUseMarker {
  readonly path: string;
  /** Protect more references (keys, digests, diff_ids). Returns once a collector is sure to see them. */
  add(refs: Iterable<string>): Promise<void>;
  /** Remove the marker. Safe to call twice. */
  release(): Promise<void>;
}

interface MarkerFile {
  version: 1;
  pid: number;
  start: string | null;
  host: string;
  createdAt: string;
  refs: string[];
}

/** What all live markers protect together. */
export interface InUseSet {
  refs: Set<string>;
  /**
   * Creation time (ms) of the oldest live marker: anything written after it may be a live build's output. Compare
   * file mtimes with `MTIME_SLACK_MS` of margin.
   */
  oldestMs: number | undefined;
  markers: number;
  /**
   * The same for the markers other than the asking build's own (`readInUse`'s `self`): what the build that is
   * finishing no longer needs may go, what another build may still be reading may not.
   */
  others: { refs: Set<string>; oldestMs: number | undefined };
}

const MARKER_RE = /^build-\d+-[0-9a-f]+\.json$/;
/** mtimes are whole seconds on some filesystems: a file written just after a marker may look a little older. */
export const MTIME_SLACK_MS = 1000;
/** The GC lock is held for a whole prune; a build waits that out rather than failing. */
const LOCK_OPTIONS = { timeoutMs: 10 * 60 * 1000 };

export function gcLockPath(root: string): string {
  return path.join(root, 'locks', 'gc.lock');
}

/**
 * Start protecting `refs` (and everything written from now on) from garbage collection, until `release`. A build
 * calls this before its first cache lookup and releases after its image is tagged and exported.
 */
export async function markInUse(root: string, refs: Iterable<string> = []): Promise<InUseMarker> {
  const dir = path.join(root, 'locks');
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, `build-${process.pid}-${randomBytes(6).toString('hex')}.json`);
  const marker: MarkerFile = {
    version: 1,
    pid: process.pid,
    start: processStartTime(process.pid),
    host: os.hostname(),
    createdAt: new Date().toISOString(),
    refs: [...new Set(refs)],
  };
  const known = new Set(marker.refs);
  await withFileLock(gcLockPath(root), () => writeMarker(file, marker), LOCK_OPTIONS);
  let released = false;
  return {
    path: file,
    async add(more: Iterable<string>): Promise<void> {
      if (released) return;
      const fresh = [...more].filter((r) => !known.has(r));
      if (fresh.length === 0) return;
      for (const r of fresh) known.add(r);
      marker.refs = [...known];
      await withFileLock(gcLockPath(root), () => writeMarker(file, marker), LOCK_OPTIONS);
    },
    async release(): Promise<void> {
      if (released) return;
      released = true;
      await fsp.rm(file, { force: true });
    },
  };
}

/** The same as `marker.release()`, for callers that prefer a function. */
export async function releaseInUse(marker: InUseMarker): Promise<void> {
  await marker.release();
}

/**
 * Everything live markers protect. Stale markers (their process is gone) are removed on the way. Call it with the
 * GC lock held, or the answer may be out of date by the time it is used.
 */
export async function readInUse(root: string, self?: string): Promise<InUseSet> {
  const dir = path.join(root, 'locks');
  const out: InUseSet = {
    refs: new Set(),
    oldestMs: undefined,
    markers: 0,
    others: { refs: new Set(), oldestMs: undefined },
  };
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return out;
    throw err;
  }
  for (const name of names.filter((n) => MARKER_RE.test(n))) {
    const file = path.join(dir, name);
    let marker: MarkerFile | undefined;
    try {
      marker = parseMarker(await fsp.readFile(file, 'utf8'));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue; // released while we looked
      throw err;
    }
    // A marker is renamed into place whole, so one we cannot parse was not written by us: ignore it.
    if (marker === undefined) continue;
    if (!ownerAlive(marker)) {
      await fsp.rm(file, { force: true });
      continue;
    }
    out.markers++;
    for (const r of marker.refs) out.refs.add(r);
    const created = Date.parse(marker.createdAt);
    if (!Number.isNaN(created)) out.oldestMs = Math.min(out.oldestMs ?? created, created);
    if (self !== undefined && path.resolve(file) === path.resolve(self)) continue;
    for (const r of marker.refs) out.others.refs.add(r);
    if (!Number.isNaN(created)) out.others.oldestMs = Math.min(out.others.oldestMs ?? created, created);
  }
  return out;
}

async function writeMarker(file: string, marker: MarkerFile): Promise<void> {
  // No fsync: a marker only matters while its process lives, and a crash ends that anyway.
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  await fsp.writeFile(tmp, JSON.stringify(marker));
  await fsp.rename(tmp, file);
}

function parseMarker(text: string): MarkerFile | undefined {
  try {
    const v = JSON.parse(text) as Partial<MarkerFile>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string' || !Array.isArray(v.refs)) return undefined;
    return {
      version: 1,
      pid: v.pid,
      start: typeof v.start === 'string' ? v.start : null,
      host: v.host,
      createdAt: typeof v.createdAt === 'string' ? v.createdAt : new Date(0).toISOString(),
      refs: v.refs.filter((r): r is string => typeof r === 'string'),
    };
  } catch {
    return undefined;
  }
}
