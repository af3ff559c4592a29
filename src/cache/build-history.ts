/**
 * The last two builds' step inputs per Dockerfile and target (`history/<hash>.json`, and the one before it in
 * `history/<hash>.prev.json`), so the next build can say why a step missed by comparing with what the same step had
 * last time, and `tsbuild cache explain` can compare the last two builds after the fact.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, isErrno } from '../store/atomic';
import type { Digest } from '../store/digest';
import type { StepInputs } from './step-key';

export interface HistoryStep {
  /** `<stageIndex>/<stepIndex>`, the step's position in the Dockerfile. */
  position: string;
  key: Digest;
  inputs: StepInputs;
  /**
   * What the build did with the step: hit a record, missed it, or skipped it (a stage keyed ahead, never run).
   * Absent in histories written before it was recorded; `cache explain` then infers it.
   */
  cache?: 'hit' | 'miss' | 'skipped';
  /** For a miss: why, as the build log said it. */
  reason?: string;
  /** For a hit: the record came from a `--cache-from` cache, not from this store's own builds. */
  imported?: boolean;
  /**
   * What the steps after it stand on, when that is not its own key: the content key of a COPY --from, the merge of a
   * COPY --link with what was below.
   */
  resultKey?: string;
}

export interface BuildHistory {
  version: 1;
  dockerfile: string;
  target: string;
  steps: HistoryStep[];
  /** When the build finished (ISO time); set by `saveBuildHistory`, absent in files written before it was. */
  savedAt?: string;
}

/** One Dockerfile+target's remembered builds: the latest and, when there was one, the build before it. */
export interface HistoryPair {
  current: BuildHistory;
  previous: BuildHistory | undefined;
}

const CURRENT_RE = /^[0-9a-f]{64}\.json$/;

function historyDir(root: string): string {
  return path.join(root, 'history');
}

function historyPath(root: string, dockerfile: string, target: string): string {
  const id = createHash('sha256')
    .update(`${path.resolve(dockerfile)}\0${target}`)
    .digest('hex');
  return path.join(historyDir(root), `${id}.json`);
}

function previousPath(currentPath: string): string {
  return currentPath.replace(/\.json$/, '.prev.json');
}

async function readHistory(file: string): Promise<BuildHistory | undefined> {
  try {
    const h = JSON.parse(await fsp.readFile(file, 'utf8')) as BuildHistory;
    return h.version === 1 && Array.isArray(h.steps) ? h : undefined;
  } catch (err) {
    if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

export async function loadBuildHistory(
  root: string,
  dockerfile: string,
  target: string,
): Promise<BuildHistory | undefined> {
  return readHistory(historyPath(root, dockerfile, target));
}

/** The build before the latest one of this Dockerfile and target. */
export async function loadPreviousBuildHistory(
  root: string,
  dockerfile: string,
  target: string,
): Promise<BuildHistory | undefined> {
  return readHistory(previousPath(historyPath(root, dockerfile, target)));
}

/** Remember a finished build; the build it replaces is kept as the previous one. */
export async function saveBuildHistory(root: string, history: BuildHistory): Promise<void> {
  const file = historyPath(root, history.dockerfile, history.target);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  let before: string | undefined;
  try {
    before = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  // Previous first: a crash in between leaves the same build in both slots, never loses the latest.
  if (before !== undefined) await atomicWriteFile(previousPath(file), before);
  await atomicWriteFile(
    file,
    JSON.stringify({ ...history, savedAt: history.savedAt ?? new Date().toISOString() }),
  );
}

/** Every remembered Dockerfile+target, latest build first. */
export async function listBuildHistories(root: string): Promise<HistoryPair[]> {
  let names: string[];
  try {
    names = await fsp.readdir(historyDir(root));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
  const pairs: HistoryPair[] = [];
  for (const name of names.filter((n) => CURRENT_RE.test(n)).sort()) {
    const file = path.join(historyDir(root), name);
    const current = await readHistory(file);
    if (current) pairs.push({ current, previous: await readHistory(previousPath(file)) });
  }
  return pairs.sort((a, b) => (b.current.savedAt ?? '').localeCompare(a.current.savedAt ?? ''));
}
