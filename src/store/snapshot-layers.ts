/**
 * Layers kept only as their snapshot. A RUN's change is committed as the snapshot dir itself (`snapshots/<hex>/`,
 * the overlay upper dir moved into place) and described by its uncompressed tar: digest = diff_id, no blob. The
 * compressed blob is made from the snapshot only when an output needs it (`image/export-layers.ts`). A pulled layer
 * whose compressed blob the collector dropped after unpacking it (its registry can give it again,
 * `blob-origins.ts`) is likewise kept as its snapshot. Wherever the store asks "is this layer here?", such a layer
 * is here while its snapshot is.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readBlobOrigin } from './blob-origins';
import type { BlobStore } from './blob-store';
import { digestHex, type Digest } from './digest';

export interface LayerRef {
  digest: Digest;
  diffId: Digest;
}

/** Whether the layer's bytes live in its snapshot rather than in a blob of their own (until compressed). */
export function isSnapshotLayer(layer: LayerRef): boolean {
  return layer.digest === layer.diffId;
}

/** The snapshot dir of a diff_id, whether or not it exists (the layout `layers/snapshots.ts` writes). */
export function snapshotDir(root: string, diffId: Digest): string {
  return path.join(root, 'snapshots', digestHex(diffId));
}

/** A layer is here when its blob is, or — for a layer that may be kept as its snapshot — when its snapshot is. */
export async function layerAvailable(root: string, blobs: BlobStore, layer: LayerRef): Promise<boolean> {
  if (await blobs.has(layer.digest)) return true;
  return (await mayLackBlob(root, layer)) && snapshotPresent(root, layer.diffId);
}

/**
 * A layer with no blob here whose snapshot holds it: a RUN layer not compressed yet, or a pulled layer whose blob
 * was dropped after it was unpacked.
 */
export async function keptAsSnapshot(root: string, blobs: BlobStore, layer: LayerRef): Promise<boolean> {
  return (
    !(await blobs.has(layer.digest)) &&
    (await mayLackBlob(root, layer)) &&
    (await snapshotPresent(root, layer.diffId))
  );
}

/** Whether the layer's snapshot can stand in for its blob: one built here, or one its registry can give again. */
async function mayLackBlob(root: string, layer: LayerRef): Promise<boolean> {
  return isSnapshotLayer(layer) || (await readBlobOrigin(root, layer.digest)) !== undefined;
}

export async function snapshotPresent(root: string, diffId: Digest): Promise<boolean> {
  try {
    return (await fsp.lstat(snapshotDir(root, diffId))).isDirectory();
  } catch {
    return false;
  }
}

/**
 * How a snapshot was made, as its unsynced note says: `committed` (a RUN's upper dir: its tar is the layer, so the
 * diff_id checks it) or `unpacked` (from a blob: only the blob can make it again).
 */
export type SnapshotOrigin = 'committed' | 'unpacked';

/**
 * Snapshots are not synced when they are made (a sync flushes the whole filesystem: seconds on a busy machine, and
 * BuildKit never does it). Instead each one gets an empty note `unsynced/<boot id>/<hex>.<origin>` before its
 * rename: in the boot that wrote it, the page cache makes it whole for every reader; after a restart, a snapshot
 * with a note from an earlier boot is checked before anything uses it (`layers/snapshot-durability.ts`).
 */
export function unsyncedNotesDir(root: string): string {
  return path.join(root, 'unsynced');
}

export function unsyncedNotePath(
  root: string,
  bootId: string,
  diffId: Digest,
  origin: SnapshotOrigin,
): string {
  return path.join(unsyncedNotesDir(root), bootId, `${digestHex(diffId)}.${origin}`);
}

/**
 * The size of a snapshot (bytes of its files and link targets, each hard-linked file once: what `cache du`
 * counts), written by whoever made it, who knows it from the tar it came from or was hashed as, so the automatic
 * prune after a build never walks thousands of new files to learn it. A cache of a measurement: plain writes.
 */
function snapshotSizePath(root: string, name: string): string {
  return path.join(root, 'gc', 'snapshot-sizes', name);
}

export async function recordSnapshotSize(root: string, diffId: Digest, bytes: number): Promise<void> {
  const file = snapshotSizePath(root, digestHex(diffId));
  try {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await fsp.writeFile(tmp, String(bytes));
    await fsp.rename(tmp, file);
  } catch {
    // only a cache: the prune measures the tree instead
  }
}

/** The size its maker recorded for the snapshot named `name` (a diff_id's hex), or undefined. */
export async function recordedSnapshotSize(root: string, name: string): Promise<number | undefined> {
  try {
    const n = Number((await fsp.readFile(snapshotSizePath(root, name), 'utf8')).trim());
    return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Remove the unsynced notes and recorded sizes of snapshots that are gone (a prune removed them), so neither
 * outlives its snapshot.
 */
export async function dropOrphanSidecars(root: string): Promise<void> {
  const dir = unsyncedNotesDir(root);
  for (const boot of await fsp.readdir(dir).catch(() => [] as string[])) {
    for (const note of await fsp.readdir(path.join(dir, boot)).catch(() => [] as string[])) {
      const hex = note.split('.')[0] ?? '';
      if (!(await snapshotPresent(root, `sha256:${hex}`)))
        await fsp.rm(path.join(dir, boot, note), { force: true });
    }
  }
  const sizes = path.dirname(snapshotSizePath(root, 'x'));
  for (const name of await fsp.readdir(sizes).catch(() => [] as string[])) {
    if (!(await snapshotPresent(root, `sha256:${name}`)))
      await fsp.rm(path.join(sizes, name), { force: true });
  }
}
