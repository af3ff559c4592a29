/**
 * Compression when an output needs it. A layer built here is described by its uncompressed tar (digest = diff_id),
 * kept as its snapshot (`cache/snapshot-layers.ts`) or as that tar; it is compressed from either the first time
 * something is pushed, exported or saved, checked against its diff_id on the way, and the compressed blob is
 * remembered by diff_id (`cache/compressed-notes.ts`), so it is never compressed twice while the blob is kept. Same tar, same compressor: the same digests as a layer compressed
 * when it was built.
 *
 * `exportableImage` gives the manifest an output writes: the image's own when every layer is compressed already, else
 * the same manifest with the compressed layers in place of the uncompressed ones (config and diff_ids unchanged, so
 * the image id is too).
 */
import type { BlobStore } from '../store/blob-store';
import { readCompressedNote, writeCompressedNote } from '../store/compressed-notes';
import { isSnapshotLayer, type LayerRef } from '../store/snapshot-layers';
import { storeLayer } from '../layers/compress';
import type { Compression } from '../store/compression';
import { snapshotLayerTar } from '../layers/snapshots';
import {
  isManifestMediaType,
  layerMediaType,
  MediaType,
  parseImageConfig,
  parseManifest,
  serializeManifest,
  type Descriptor,
} from './oci-types';

export interface ExportableLayer extends LayerRef {
  size: number;
  mediaType: string;
}

/**
 * The layer with a compressed blob: itself when it is compressed already, else compressed (once) from its
 * uncompressed tar or its snapshot.
 */
export async function compressedLayer<L extends ExportableLayer>(
  root: string,
  blobs: BlobStore,
  layer: L,
  compression: Compression,
  flavour: 'oci' | 'docker' = 'oci',
): Promise<L> {
  if (!isSnapshotLayer(layer)) return layer;
  const mediaType = layerMediaType(compression, flavour);
  const known = await readCompressedNote(root, layer.diffId, compression);
  if (known !== undefined && (await blobs.has(known.digest))) return { ...layer, ...known, mediaType };
  // The uncompressed tar as stored (a COPY's layer nothing stacked on), else made from the snapshot; either read
  // is checked against the diff_id (the blob's digest is it).
  const tar = (await blobs.has(layer.digest))
    ? blobs.open(layer.digest)
    : await snapshotLayerTar(root, layer.diffId);
  const stored = await storeLayer(tar, blobs, { compression });
  const made = { digest: stored.digest, size: stored.size };
  await writeCompressedNote(root, layer.diffId, compression, made);
  return { ...layer, ...made, mediaType };
}

/**
 * The uncompressed tar of a layer kept only as its snapshot, for an output that wants layers uncompressed (a docker
 * archive): its size is the record's, and the bytes are checked against the diff_id as they stream
 * (`snapshotLayerTar`). Undefined for a layer with a blob of its own.
 */
export async function snapshotTarSource(
  root: string,
  blobs: BlobStore,
  layer: ExportableLayer,
): Promise<{ size: number; open: () => AsyncIterable<Uint8Array> } | undefined> {
  if (!isSnapshotLayer(layer) || (await blobs.has(layer.digest))) return undefined;
  return {
    size: layer.size,
    open: async function* () {
      yield* await snapshotLayerTar(root, layer.diffId);
    },
  };
}

/** The manifest to write out for `target`: every layer with a blob in the store (compressed where needed). */
export async function exportableImage(
  root: string,
  blobs: BlobStore,
  target: Descriptor,
  compression: Compression = 'gzip',
): Promise<Descriptor> {
  if (!isManifestMediaType(target.mediaType)) return target; // indexes come from registries, whole
  const manifest = parseManifest(await blobs.readAll(target.digest));
  const diffIds = parseImageConfig(await blobs.readAll(manifest.config.digest)).rootfs.diff_ids;
  const flavour = manifest.mediaType === MediaType.dockerManifest ? 'docker' : 'oci';
  // Docker v2 manifests cannot carry zstd layers.
  const chosen: Compression = flavour === 'docker' ? 'gzip' : compression;
  let changed = false;
  const layers: Descriptor[] = [];
  for (const [i, l] of manifest.layers.entries()) {
    const diffId = diffIds[i];
    if (diffId === undefined) {
      layers.push(l);
      continue;
    }
    const c = await compressedLayer(root, blobs, { ...l, diffId }, chosen, flavour);
    if (c.digest !== l.digest) changed = true;
    layers.push({ mediaType: c.mediaType, digest: c.digest, size: c.size });
  }
  if (!changed) return target;
  const stored = await blobs.put(serializeManifest({ ...manifest, layers }));
  return { mediaType: target.mediaType, digest: stored.digest, size: stored.size };
}
