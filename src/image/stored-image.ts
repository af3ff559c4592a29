/**
 * An image as the local store holds it: its manifest digest, its config and its layers (each blob named with the
 * diff id the config gives it). What a base image is to a build, what `inspect` and `pull` print, and the layer
 * shape the cache records keep.
 */
import type { Platform } from '../platform';
import type { BlobStore } from '../store/blob-store';
import type { Digest } from '../store/digest';
import {
  isIndexMediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
  type Descriptor,
  type ImageConfig,
} from './oci-types';
import { selectManifest } from './registry/platform-match';

/** One layer of an image: its blob, the digest of its uncompressed tar (diff id), size and media type. */
export interface LayerRecord {
  digest: Digest;
  diffId: Digest;
  size: number;
  mediaType: string;
}

export interface StoredImage {
  manifestDigest: Digest;
  /** The config blob's digest: the image id, as docker names an image. */
  configDigest: Digest;
  config: ImageConfig;
  layers: LayerRecord[];
}

/**
 * A manifest (or the platform's manifest of an index) with its config and layers, all read verified. An index with
 * a single entry gives that entry whatever platform it names, as a single-platform image pulled under another
 * platform's name would; otherwise the entry is chosen as the registry pull chooses it.
 */
export async function loadImage(
  blobs: BlobStore,
  target: Descriptor,
  platform: Platform,
): Promise<StoredImage | undefined> {
  let desc = target;
  if (isIndexMediaType(desc.mediaType)) {
    const index = parseIndex(await blobs.readAll(desc.digest));
    const match =
      selectManifest(index, platform) ?? (index.manifests.length === 1 ? index.manifests[0] : undefined);
    if (!match) return undefined;
    desc = match;
  }
  const manifest = parseManifest(await blobs.readAll(desc.digest));
  const config = parseImageConfig(await blobs.readAll(manifest.config.digest));
  const layers: LayerRecord[] = manifest.layers.map((l, i) => ({
    digest: l.digest,
    diffId: config.rootfs.diff_ids[i],
    size: l.size,
    mediaType: l.mediaType,
  }));
  return { manifestDigest: desc.digest, configDigest: manifest.config.digest, config, layers };
}
