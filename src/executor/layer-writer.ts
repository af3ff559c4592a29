/**
 * Turns the entries of a new layer into a blob in the store: one streaming pass writes the deterministic tar,
 * hashes it (the diff_id), compresses it and hashes the compressed bytes (the digest). Nothing is held whole.
 */
import type { BlobStore } from '../cache/blob-store';
import { storeLayer } from '../layers/compress';
import type { LayerRecord } from '../cache/key-index';
import { createLayerTar, type LayerEntry } from '../layers/tar-writer';
import { layerMediaType } from '../image/oci-types';
import type { CopyEntry } from './copy/plan-copy';

export type Compression = 'gzip' | 'zstd';

export function toTarEntry(e: CopyEntry): LayerEntry {
  const meta = { mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime };
  switch (e.type) {
    case 'file':
      return { ...meta, type: 'file', path: e.path, content: e.content ?? (e.sourcePath as string) };
    case 'dir':
      return { ...meta, type: 'dir', path: e.path };
    case 'symlink':
      return { ...meta, type: 'symlink', path: e.path, target: e.linkTarget ?? '' };
    case 'hardlink':
      return { ...meta, type: 'hardlink', path: e.path, target: e.linkTarget ?? '' };
    case 'fifo':
      return { ...meta, type: 'fifo', path: e.path };
    case 'char-device':
    case 'block-device':
      return { ...meta, type: e.type === 'char-device' ? 'char' : 'block', path: e.path, major: 0, minor: 0 };
  }
}

export async function writeLayer(
  blobs: BlobStore,
  entries: readonly LayerEntry[],
  compression: Compression,
  sourceDateEpoch?: number,
): Promise<LayerRecord> {
  const stored = await storeLayer(createLayerTar(entries, { sourceDateEpoch }), blobs, { compression });
  return {
    digest: stored.digest,
    diffId: stored.diffId,
    size: stored.size,
    mediaType: layerMediaType(compression),
  };
}
