/**
 * The build log: one small record per finished build (when, which Dockerfile and target, each step's cache
 * outcome, reason and time), so that `tsbuild cache report` can say over weeks of builds which steps keep missing
 * and why. A CI machine starts empty, so the log travels with the cache (`--cache-to` carries the latest builds of
 * the Dockerfile, `--cache-from` merges them in): it is bounded on both sides.
 *
 * `build-log/<group>/<finished ms>-<id>.json` (the group a hash of Dockerfile and target), one file per build,
 * written temp → fsync → rename: a killed build leaves either the whole record or none. Keeping the bound reads
 * one directory listing, not the records.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, isErrno, readdirOrEmpty } from '../store/atomic';

/** Builds kept per Dockerfile and target in a store; older ones are dropped as new ones come. */
export const MAX_LOGGED_BUILDS = 200;
/** Builds an exported cache carries per Dockerfile and target: the latest ones, however often it is re-exported. */
export const MAX_CARRIED_BUILDS = 50;

export interface LoggedStep {
  /** `<stageIndex>/<stepIndex>`, the step's position in the Dockerfile (FROM is step 1). */
  position: string;
  stage: string;
  index: number;
  line: number;
  instruction: string;
  cache: 'hit' | 'miss';
  /** Why it missed, as the build log said it; absent for hits. */
  reason?: string;
  /** A hit on a record an imported cache offered. */
  imported?: boolean;
  durationMs: number;
}

export interface LoggedBuild {
  version: 1;
  /** Unique per build: what tells a build carried back in an imported cache from one of this store's own. */
  id: string;
  finishedAt: string;
  /** The Dockerfile as the build named it (`Dockerfile`, `build/app.Dockerfile`): the same on every machine. */
  dockerfile: string;
  target: string;
  durationMs: number;
  steps: LoggedStep[];
}

const FILE_RE = /^(\d{13,})-([0-9a-f]{16})\.json$/;

const GROUP_RE = /^[0-9a-f]{16}$/;

function logDir(root: string): string {
  return path.join(root, 'build-log');
}

function groupDir(root: string, build: Pick<LoggedBuild, 'dockerfile' | 'target'>): string {
  const hash = createHash('sha256').update(`${build.dockerfile}\0${build.target}`).digest('hex');
  return path.join(logDir(root), hash.slice(0, 16));
}

export function newBuildId(): string {
  return randomBytes(8).toString('hex');
}

/** Records a finished build, then drops the oldest builds of its Dockerfile and target beyond the bound. */
export async function appendBuildLog(root: string, build: LoggedBuild): Promise<void> {
  await writeEntries(root, [build]);
  await trim(groupDir(root, build));
}

/**
 * Builds an imported cache carried: the ones this store does not have yet are added (their ids say which), so a
 * fresh machine's report covers the builds before it.
 */
export async function mergeBuildLog(root: string, builds: readonly LoggedBuild[]): Promise<number> {
  const known = new Set((await listFiles(root)).map((f) => f.id));
  // Two imported caches often carry the same builds: each is added (and counted) once.
  const fresh: LoggedBuild[] = [];
  for (const b of builds) {
    if (known.has(b.id)) continue;
    known.add(b.id);
    fresh.push(b);
  }
  if (fresh.length === 0) return 0;
  await writeEntries(root, fresh);
  for (const dir of new Set(fresh.map((b) => groupDir(root, b)))) await trim(dir);
  return fresh.length;
}

/** Every logged build, oldest first (files that cannot be read are skipped: a report is not worth failing). */
export async function readBuildLog(root: string): Promise<LoggedBuild[]> {
  const out: LoggedBuild[] = [];
  for (const f of await listFiles(root)) {
    const entry = await readEntry(f.file);
    if (entry) out.push(entry);
  }
  return out.sort(byTime);
}

/** The latest builds of a Dockerfile and target, for an exported cache to carry. */
export async function carriedBuilds(
  root: string,
  dockerfile: string,
  target: string,
): Promise<LoggedBuild[]> {
  const dir = groupDir(root, { dockerfile, target });
  const names = (await readdirOrEmpty(dir)).filter((n) => FILE_RE.test(n)).sort();
  const out: LoggedBuild[] = [];
  for (const name of names.slice(-MAX_CARRIED_BUILDS)) {
    const entry = await readEntry(path.join(dir, name));
    if (entry && entry.dockerfile === dockerfile && entry.target === target) out.push(entry);
  }
  return out;
}

/** Whether a value (from an imported cache, or a file) is a logged build; anything else is dropped. */
export function isLoggedBuild(v: unknown): v is LoggedBuild {
  const o = v as Partial<LoggedBuild> | null | undefined;
  return (
    !!o &&
    o.version === 1 &&
    typeof o.id === 'string' &&
    /^[0-9a-f]{16}$/.test(o.id) &&
    typeof o.finishedAt === 'string' &&
    Date.parse(o.finishedAt) >= 0 &&
    typeof o.dockerfile === 'string' &&
    typeof o.target === 'string' &&
    typeof o.durationMs === 'number' &&
    Array.isArray(o.steps) &&
    o.steps.every(isLoggedStep)
  );
}

function isLoggedStep(v: unknown): v is LoggedStep {
  const s = v as Partial<LoggedStep> | null | undefined;
  return (
    !!s &&
    typeof s.position === 'string' &&
    typeof s.stage === 'string' &&
    typeof s.index === 'number' &&
    typeof s.line === 'number' &&
    typeof s.instruction === 'string' &&
    (s.cache === 'hit' || s.cache === 'miss') &&
    (s.reason === undefined || typeof s.reason === 'string') &&
    typeof s.durationMs === 'number'
  );
}

async function writeEntries(root: string, builds: readonly LoggedBuild[]): Promise<void> {
  for (const b of builds) {
    const dir = groupDir(root, b);
    await fsp.mkdir(dir, { recursive: true });
    const name = `${String(Date.parse(b.finishedAt)).padStart(13, '0')}-${b.id}.json`;
    await atomicWriteFile(path.join(dir, name), `${JSON.stringify(b)}\n`);
  }
}

/** Keeps the newest MAX_LOGGED_BUILDS builds of one Dockerfile and target (the names sort by time). */
async function trim(dir: string): Promise<void> {
  const names = (await readdirOrEmpty(dir)).filter((n) => FILE_RE.test(n)).sort();
  for (const old of names.slice(0, Math.max(0, names.length - MAX_LOGGED_BUILDS)))
    await fsp.rm(path.join(dir, old), { force: true });
}

async function listFiles(root: string): Promise<{ file: string; id: string }[]> {
  const out: { file: string; id: string }[] = [];
  for (const group of await readdirOrEmpty(logDir(root))) {
    if (!GROUP_RE.test(group)) continue;
    const dir = path.join(logDir(root), group);
    for (const name of await readdirOrEmpty(dir)) {
      const m = FILE_RE.exec(name);
      if (m) out.push({ file: path.join(dir, name), id: m[2] });
    }
  }
  return out;
}

async function readEntry(file: string): Promise<LoggedBuild | undefined> {
  try {
    const v: unknown = JSON.parse(await fsp.readFile(file, 'utf8'));
    return isLoggedBuild(v) ? v : undefined;
  } catch (err) {
    if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

function byTime(a: LoggedBuild, b: LoggedBuild): number {
  return Date.parse(a.finishedAt) - Date.parse(b.finishedAt) || a.id.localeCompare(b.id);
}
