/**
 * An image of the local store by the names docker's commands take: a name (`app`, `app:1`, `reg:5000/x/y:tag`),
 * `name@digest`, a manifest digest, or an image id (the config digest, `sha256:…` or a prefix of its hex of at
 * least four characters, as `docker history 3f5e` takes it).
 */
import { BuildError } from '../errors';
import { ImageStore, type ImageRecord } from '../image/image-store';
import { parseManifest } from '../image/oci-types';
import type { OriginFetcher } from '../image/registry/origin-fetch';
import { loadImage, type LayerRecord, type StoredImage } from '../image/stored-image';
import { hostPlatform } from '../platform';
import type { BlobStore } from '../store/blob-store';
import type { Digest } from '../store/digest';
import { layerAvailable } from '../store/snapshot-layers';

export interface LocalImage {
  record: ImageRecord;
  image: StoredImage;
  /** The image id: the config's digest. */
  id: Digest;
}

const ID_PREFIX = /^(?:sha256:)?([0-9a-f]{4,64})$/;

/** The host platform's image of `name`, or undefined when the store has no such image. */
export async function findLocalImage(
  root: string,
  blobs: BlobStore,
  name: string,
): Promise<LocalImage | undefined> {
  const images = new ImageStore(root);
  const byName = await images.resolve(name).catch(() => undefined);
  if (byName !== undefined) return open(blobs, byName, name);
  const m = ID_PREFIX.exec(name);
  if (m === null) return undefined;
  const prefix = m[1] ?? '';
  for (const record of await images.list()) {
    if (!(await blobs.has(record.target.digest))) continue;
    const local = await open(blobs, record, name).catch(() => undefined);
    if (local === undefined) continue;
    if (local.id.slice(7).startsWith(prefix) || record.target.digest.slice(7).startsWith(prefix))
      return local;
  }
  return undefined;
}

async function open(blobs: BlobStore, record: ImageRecord, name: string): Promise<LocalImage> {
  const platform = hostPlatform();
  const image = await loadImage(blobs, record.target, platform);
  if (image === undefined)
    throw new BuildError(`image ${name} has no manifest for ${platform.os}/${platform.architecture}`);
  const id = parseManifest(await blobs.readAll(image.manifestDigest)).config.digest;
  return { record, image, id };
}

/**
 * Make every layer of `image` local: a layer a lazy pull left in its registry (its origin noted) is fetched from
 * there; one that is nowhere to be had is a one-line error.
 */
export async function ensureLayersLocal(
  root: string,
  blobs: BlobStore,
  name: string,
  layers: readonly LayerRecord[],
  fetchFromOrigin: OriginFetcher,
): Promise<void> {
  for (const layer of layers) {
    if (await layerAvailable(root, blobs, layer)) continue;
    await fetchFromOrigin({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size });
    if (!(await layerAvailable(root, blobs, layer)))
      throw new BuildError(
        `layer ${layer.digest} of ${name} is not in the store and no registry is known to have it: pull the image again`,
      );
  }
}
