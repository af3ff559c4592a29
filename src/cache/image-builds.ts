/**
 * Which step made each entry of a built image's history: per image id (the config digest), the step key and the
 * cache outcome of every history entry the build added, in the config's order, `null` for the entries that came
 * with the base image. `tsbuild history` shows it beside docker's columns. One small file per image,
 * `history/images/<config hex>.json`, written temp → fsync → rename, replaced each time a build gives that image
 * (so it tells what the last build of it did: a rebuild that hit throughout gives the same image id).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, readFileOrUndefined } from '../store/atomic';
import { digestHex, isDigest, type Digest } from '../store/digest';

/** The step behind one history entry. */
export interface ImageBuildStep {
  /** `<stageIndex>/<stepIndex>`, as in the build history. */
  position: string;
  key: Digest;
  cache: 'hit' | 'miss' | 'skipped';
  /** A hit on a `--cache-from` record. */
  imported?: boolean;
}

export interface ImageBuildRecord {
  version: 1;
  imageId: Digest;
  /** The Dockerfile (absolute) and target stage it was built from. */
  dockerfile: string;
  target: string;
  builtAt: string;
  /** One per entry of the config's `history`, in its order; null where the entry is the base image's. */
  history: (ImageBuildStep | null)[];
}

function recordPath(root: string, imageId: Digest): string {
  return path.join(root, 'history', 'images', `${digestHex(imageId)}.json`);
}

export async function saveImageBuild(root: string, record: ImageBuildRecord): Promise<void> {
  const file = recordPath(root, record.imageId);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await atomicWriteFile(file, JSON.stringify(record));
}

/** The last build record of an image id, or undefined (not built here, or a record that does not read). */
export async function loadImageBuild(root: string, imageId: Digest): Promise<ImageBuildRecord | undefined> {
  const text = await readFileOrUndefined(recordPath(root, imageId));
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text.toString('utf8'));
  } catch {
    return undefined;
  }
  return isImageBuildRecord(value) && value.imageId === imageId ? value : undefined;
}

function isImageBuildRecord(v: unknown): v is ImageBuildRecord {
  return (
    typeof v === 'object' &&
    v !== null &&
    'version' in v &&
    v.version === 1 &&
    'imageId' in v &&
    typeof v.imageId === 'string' &&
    isDigest(v.imageId) &&
    'dockerfile' in v &&
    typeof v.dockerfile === 'string' &&
    'target' in v &&
    typeof v.target === 'string' &&
    'builtAt' in v &&
    typeof v.builtAt === 'string' &&
    'history' in v &&
    Array.isArray(v.history) &&
    v.history.every((s: unknown) => s === null || isStep(s))
  );
}

function isStep(v: unknown): v is ImageBuildStep {
  return (
    typeof v === 'object' &&
    v !== null &&
    'position' in v &&
    typeof v.position === 'string' &&
    'key' in v &&
    typeof v.key === 'string' &&
    isDigest(v.key) &&
    'cache' in v &&
    (v.cache === 'hit' || v.cache === 'miss' || v.cache === 'skipped') &&
    (!('imported' in v) || typeof v.imported === 'boolean')
  );
}
