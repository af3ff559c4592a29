/**
 * The last build's step inputs per Dockerfile and target (`history/<hash>.json`), so the next build can say why a
 * step missed by comparing with what the same step had last time.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, isErrno } from './atomic';
import type { JsonValue } from './canonical-json';

export interface HistoryStep {
  /** `<stageIndex>/<stepIndex>`, the step's position in the Dockerfile. */
  position: string;
  key: string;
  inputs: JsonValue;
}

export interface BuildHistory {
  version: 1;
  dockerfile: string;
  target: string;
  steps: HistoryStep[];
}

function historyPath(root: string, dockerfile: string, target: string): string {
  const id = createHash('sha256')
    .update(`${path.resolve(dockerfile)}\0${target}`)
    .digest('hex');
  return path.join(root, 'history', `${id}.json`);
}

export async function loadBuildHistory(
  root: string,
  dockerfile: string,
  target: string,
): Promise<BuildHistory | undefined> {
  try {
    const h = JSON.parse(await fsp.readFile(historyPath(root, dockerfile, target), 'utf8')) as BuildHistory;
    return h.version === 1 ? h : undefined;
  } catch (err) {
    if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

export async function saveBuildHistory(root: string, history: BuildHistory): Promise<void> {
  const file = historyPath(root, history.dockerfile, history.target);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await atomicWriteFile(file, JSON.stringify(history));
}
