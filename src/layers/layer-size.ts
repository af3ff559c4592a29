/**
 * A layer's uncompressed size as `docker images` and `docker history` count it: the bytes of the files it unpacks
 * to and of its symlinks' targets, each hard-linked file once, directories and whiteouts nothing (moby's
 * `directory.Size` over a layer's diff dir; `memberTreeBytes` per tar member, `cache du`'s measure of a snapshot).
 *
 * The number is a fact about the diff_id, so it is noted once per layer, `layer-sizes/<diff_id hex>` (written temp →
 * fsync → rename), and outlives the layer's snapshot: a later listing reads one small file per layer. Where the note
 * is missing it is taken, cheapest first, from the size the snapshot's maker recorded, from a walk of the snapshot,
 * or from the tar headers of the layer's blob (a decompression, once); a layer that is in none of those (left in
 * its registry) has no known size here.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, readdirOrEmpty, readFileOrUndefined } from '../store/atomic';
import type { BlobStore } from '../store/blob-store';
import { digestHex, type Digest } from '../store/digest';
import { lstatOrUndefined } from '../store/fs-probe';
import { recordedSnapshotSize, snapshotDir, snapshotPresent } from '../store/snapshot-layers';
import { decompressLayer } from './compress';
import { memberTreeBytes } from './snapshot-unpack';
import { readTar } from './tar-reader';

export interface SizedLayer {
  digest: Digest;
  diffId: Digest;
}

function notePath(root: string, diffId: Digest): string {
  return path.join(root, 'layer-sizes', digestHex(diffId));
}

async function readNote(root: string, diffId: Digest): Promise<number | undefined> {
  const text = await readFileOrUndefined(notePath(root, diffId));
  if (text === undefined) return undefined;
  const n = Number(text.toString('utf8').trim());
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined; // a damaged note is no note
}

async function writeNote(root: string, diffId: Digest, bytes: number): Promise<void> {
  const file = notePath(root, diffId);
  try {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await atomicWriteFile(file, String(bytes));
  } catch {
    // only a note: the next listing measures again (a read-only store, a full disk)
  }
}

/**
 * The uncompressed size of `layer`, or undefined when neither its snapshot nor its blob is in the store. Measured
 * at most once per layer (then noted).
 */
export async function uncompressedLayerSize(
  root: string,
  blobs: BlobStore,
  layer: SizedLayer,
): Promise<number | undefined> {
  const noted = await readNote(root, layer.diffId);
  if (noted !== undefined) return noted;
  const measured = await measure(root, blobs, layer);
  if (measured !== undefined) await writeNote(root, layer.diffId, measured);
  return measured;
}

async function measure(root: string, blobs: BlobStore, layer: SizedLayer): Promise<number | undefined> {
  const recorded = await recordedSnapshotSize(root, digestHex(layer.diffId));
  if (recorded !== undefined) return recorded;
  if (await snapshotPresent(root, layer.diffId)) return treeBytes(snapshotDir(root, layer.diffId), new Set());
  if (!(await blobs.has(layer.digest))) return undefined; // an uncompressed tar blob reads as well
  let bytes = 0;
  for await (const { header } of readTar(decompressLayer(blobs.open(layer.digest))))
    bytes += memberTreeBytes(header.type, header);
  return bytes;
}

/** What a snapshot dir holds by the same count: regular files' and symlinks' sizes, each inode once. */
async function treeBytes(p: string, seen: Set<string>): Promise<number> {
  const st = await lstatOrUndefined(p);
  if (st === undefined) return 0;
  const id = `${st.dev}:${st.ino}`;
  if (seen.has(id)) return 0;
  seen.add(id);
  if (st.isFile() || st.isSymbolicLink()) return st.size;
  if (!st.isDirectory()) return 0;
  let total = 0;
  for (const name of await readdirOrEmpty(p)) total += await treeBytes(path.join(p, name), seen);
  return total;
}
