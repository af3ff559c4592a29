/**
 * Turns the entries of a new layer into a blob in the store (and its listing): one streaming pass writes the
 * deterministic tar, hashes it (the diff_id), compresses it and hashes the compressed bytes (the digest). Nothing
 * is held whole. A RUN's layer on an overlay is committed as its snapshot instead (`commitRunLayer`), and a COPY's
 * is written into one (`writeFilesLayer`).
 */
import type { BlobCompression } from '../../store/compression';
import type { BlobStore } from '../../store/blob-store';
import type { Digest } from '../../store/digest';
import { storeLayer } from '../../layers/compress';
import { splitDev } from '../../layers/diff';
import type { LayerRecord } from '../../image/stored-image';
import { createLayerTar, type LayerEntry } from '../../layers/tar-writer';
import { listingCollector, saveListing } from '../../layers/listing';
import { commitLayerEntries, commitUpperDir } from '../../layers/snapshots';
import { layerMediaType } from '../../image/oci-types';
import type { CopyEntry } from './copy/plan-copy';
import type { FilesLayerForm } from '../layer-use';

export function toTarEntry(e: CopyEntry): LayerEntry {
  // Object literals of one fixed shape each: a spread of shared metadata gave every one of 50,000 entries its
  // own hidden class (tens of megabytes of V8 maps).
  const { mode, uid, gid, mtime, path } = e;
  switch (e.type) {
    case 'file':
      return { type: 'file', path, mode, uid, gid, mtime, content: e.content ?? (e.sourcePath as string) };
    case 'dir':
      return { type: 'dir', path, mode, uid, gid, mtime };
    case 'symlink':
      return { type: 'symlink', path, mode, uid, gid, mtime, target: e.linkTarget ?? '' };
    case 'hardlink':
      return { type: 'hardlink', path, mode, uid, gid, mtime, target: e.linkTarget ?? '' };
    case 'fifo':
      return { type: 'fifo', path, mode, uid, gid, mtime };
    case 'char-device':
    case 'block-device': {
      const { major, minor } = splitDev(BigInt(e.rdev ?? 0));
      return { type: e.type === 'char-device' ? 'char' : 'block', path, mode, uid, gid, mtime, major, minor };
    }
  }
}

/**
 * Write the layer of `entries` into the store, and its listing (gathered from the same tar pass), so that the
 * stage's view of its filesystem after this step never reads the blob back.
 */
export async function writeLayer(
  root: string,
  blobs: BlobStore,
  entries: readonly LayerEntry[],
  compression: BlobCompression,
  sourceDateEpoch?: number,
): Promise<LayerRecord> {
  const listing = listingCollector();
  const tar = createLayerTar(entries, { sourceDateEpoch, onHeader: listing.onHeader });
  const stored = await storeLayer(tar, blobs, { compression });
  await saveListing(root, stored.diffId, listing.entries);
  return {
    digest: stored.digest,
    diffId: stored.diffId,
    size: stored.size,
    mediaType: layerMediaType(compression),
  };
}

/**
 * A COPY's, ADD's or WORKDIR's layer, described by its uncompressed tar (digest = diff_id) and compressed only when
 * an output needs it, as a RUN's layer is. As `form` says (`layer-use.ts`): written straight into its snapshot
 * (`commitLayerEntries`), or stored as the uncompressed tar, unpacked later if something stacks on it. Where a
 * snapshot could not hold the layer exactly, the tar is stored instead.
 */
export async function writeFilesLayer(
  root: string,
  blobs: BlobStore,
  entries: readonly LayerEntry[],
  form: FilesLayerForm,
  sourceDateEpoch?: number,
): Promise<LayerRecord> {
  const committed =
    form === 'snapshot' ? await commitLayerEntries(root, entries, sourceDateEpoch) : undefined;
  if (committed === undefined) return writeLayer(root, blobs, entries, 'none', sourceDateEpoch);
  return snapshotLayerRecord(committed);
}

/**
 * A RUN's layer from its overlay upper dir: the dir becomes the layer's snapshot and the record describes the
 * uncompressed tar (digest = diff_id). Nothing is compressed until an output needs it (`image/export-layers.ts`).
 */
export async function commitRunLayer(
  root: string,
  upperDir: string,
  entries: readonly LayerEntry[],
  sourceDateEpoch?: number,
): Promise<LayerRecord> {
  return snapshotLayerRecord(await commitUpperDir(root, upperDir, entries, sourceDateEpoch));
}

/** A layer kept as its snapshot is described by its uncompressed tar: digest = diff_id, the tar's size. */
function snapshotLayerRecord(committed: { diffId: Digest; size: number }): LayerRecord {
  return {
    digest: committed.diffId,
    diffId: committed.diffId,
    size: committed.size,
    mediaType: layerMediaType('none'),
  };
}
