/**
 * Images from a scanned `docker save` archive: `manifest.json` lists, per image, its config file, its
 * layer files in order and its `RepoTags`. The archive has no registry manifest, so one is made here.
 *
 * Layers in these archives are uncompressed tars (older writers may gzip them). They are stored as they
 * are, with Docker's uncompressed layer media type, not recompressed: the blob's digest then *is* the
 * config's diff_id, so checking the archive is exact and free; loading spends no CPU on compression; and
 * `save --format docker` gives back the same bytes. The price is size: such an image is pushed
 * uncompressed (valid, and accepted by registries, Docker and podman, but larger on the wire).
 */
import { createHash } from 'node:crypto';
import type { BlobStore } from '../../store/blob-store';
import type { Digest } from '../../store/digest';
import { decompressLayer, detectCompression } from '../../layers/compress';
import type { BlobCompression } from '../../store/compression';
import { ImageFormatError } from '../errors';
import { MediaType, parseImageConfig, serializeManifest, type Descriptor } from '../oci-types';
import { formatReference, parseDockerReference } from '../reference';
import { blobFor, metadataFile, type ScannedArchive } from './archive-scan';
import type { ArchiveImage } from './types';

interface ManifestItem {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

export function isDockerArchive(archive: ScannedArchive): boolean {
  return metadataFile(archive, 'manifest.json') !== undefined;
}

export async function readDockerArchive(archive: ScannedArchive, store: BlobStore): Promise<ArchiveImage[]> {
  const images: ArchiveImage[] = [];
  for (const [i, item] of parseManifestJson(metadataFile(archive, 'manifest.json') as Buffer).entries()) {
    const what = `image ${i + 1} of the archive (${item.RepoTags[0] ?? item.Config})`;
    const config = await blobFor(archive, store, item.Config);
    const parsed = parseImageConfig(await store.readAll(config.digest));
    const diffIds = parsed.rootfs.diff_ids;
    if (diffIds.length !== item.Layers.length) {
      throw new ImageFormatError(
        `${what}: ${item.Layers.length} layer files but ${diffIds.length} diff_ids in its config`,
      );
    }
    const layers: { digest: Digest; size: number; compression: BlobCompression }[] = [];
    for (const [n, file] of item.Layers.entries()) {
      const blob = await blobFor(archive, store, file);
      const compression = await blobCompression(store, blob.digest);
      const diffId = diffIds[n] as Digest;
      const actual = compression === 'none' ? blob.digest : await uncompressedDigest(store, blob.digest);
      if (actual !== diffId) {
        throw new ImageFormatError(
          `${what}: layer ${file} has content ${actual}, but its config says ${diffId}`,
        );
      }
      layers.push({ digest: blob.digest, size: blob.size, compression });
    }
    // Docker's manifest format cannot say zstd; such an image gets an OCI manifest instead.
    const oci = layers.some((l) => l.compression === 'zstd');
    const manifestBytes = serializeManifest({
      schemaVersion: 2,
      mediaType: oci ? MediaType.ociManifest : MediaType.dockerManifest,
      config: {
        mediaType: oci ? MediaType.ociConfig : MediaType.dockerConfig,
        digest: config.digest,
        size: config.size,
      },
      layers: layers.map((l) => ({
        mediaType: layerType(l.compression, oci),
        digest: l.digest,
        size: l.size,
      })),
    });
    const stored = await store.put(manifestBytes);
    const manifest: Descriptor = {
      mediaType: oci ? MediaType.ociManifest : MediaType.dockerManifest,
      digest: stored.digest,
      size: stored.size,
    };
    images.push({ manifest, names: item.RepoTags.map(normalizeTag) });
  }
  return images;
}

function parseManifestJson(data: Buffer): ManifestItem[] {
  let v: unknown;
  try {
    v = JSON.parse(data.toString('utf8'));
  } catch {
    throw new ImageFormatError("the archive's manifest.json is not JSON");
  }
  if (!Array.isArray(v)) throw new ImageFormatError("the archive's manifest.json is not a list of images");
  return v.map((item: unknown, i) => {
    const o = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const strings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
    if (typeof o.Config !== 'string' || !strings(o.Layers)) {
      throw new ImageFormatError(`manifest.json entry ${i + 1} needs Config (a path) and Layers (paths)`);
    }
    const tags = o.RepoTags === null || o.RepoTags === undefined ? [] : o.RepoTags;
    if (!strings(tags))
      throw new ImageFormatError(`manifest.json entry ${i + 1}: RepoTags must be a list of names`);
    return { Config: o.Config, Layers: o.Layers, RepoTags: tags };
  });
}

function normalizeTag(tag: string): string {
  try {
    const ref = parseDockerReference(tag);
    if (ref.digest !== undefined) throw new Error('a digest is not a tag');
    return formatReference(ref);
  } catch (err) {
    throw new ImageFormatError(
      `the archive names an image ${JSON.stringify(tag)}: ${(err as Error).message}`,
    );
  }
}

function layerType(compression: BlobCompression, oci: boolean): string {
  if (compression === 'zstd') return MediaType.ociLayerZstd;
  if (compression === 'gzip') return oci ? MediaType.ociLayerGzip : MediaType.dockerLayerGzip;
  return oci ? MediaType.ociLayer : MediaType.dockerLayer;
}

async function blobCompression(store: BlobStore, digest: Digest): Promise<BlobCompression> {
  const stream = store.open(digest);
  try {
    for await (const chunk of stream) return detectCompression(chunk as Buffer);
    return 'none';
  } finally {
    stream.destroy();
  }
}

async function uncompressedDigest(store: BlobStore, digest: Digest): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of decompressLayer(store.open(digest))) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}
