/**
 * Is an image (by manifest or index digest) complete in the blob store for a platform? That is what lets a
 * digest-pinned pull or FROM skip the network entirely: a digest names exactly one content, so if we hold
 * it and everything it references, asking the registry again could not tell us anything new. A layer built
 * here may be kept as its snapshot only (`cache/snapshot-layers.ts`): that counts as held.
 */
import type { BlobStore } from '../../store/blob-store';
import type { Digest } from '../../store/digest';
import { layerAvailable } from '../../store/snapshot-layers';
import {
  MediaType,
  declaredMediaType,
  isIndexMediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
  type Descriptor,
} from '../oci-types';
import type { Platform } from '../../platform';
import { selectManifest } from './platform-match';

/**
 * The platform's image manifest descriptor when `digest` (a manifest, or an index whose entry for the
 * platform is a manifest) and its config and layers are all in the store; otherwise undefined.
 */
export async function completeLocalImage(
  store: BlobStore,
  digest: Digest,
  platform: Platform,
): Promise<Descriptor | undefined> {
  const top = await readDescriptor(store, digest);
  if (top === undefined) return undefined;
  let manifest = top;
  if (isIndexMediaType(top.descriptor.mediaType)) {
    const entry = selectManifest(parseIndex(top.bytes), platform);
    if (entry === undefined) return undefined;
    const child = await readDescriptor(store, entry.digest);
    if (child === undefined || isIndexMediaType(child.descriptor.mediaType)) return undefined;
    manifest = {
      descriptor: { ...child.descriptor, mediaType: entry.mediaType, platform: entry.platform },
      bytes: child.bytes,
    };
  }
  const m = parseManifest(manifest.bytes);
  if (!(await store.has(m.config.digest))) return undefined;
  const diffIds = parseImageConfig(await store.readAll(m.config.digest)).rootfs.diff_ids;
  for (const [i, layer] of m.layers.entries()) {
    const diffId = diffIds[i];
    if (
      diffId === undefined ||
      !(await layerAvailable(store.root, store, { digest: layer.digest, diffId }))
    ) {
      return undefined;
    }
  }
  return manifest.descriptor;
}

async function readDescriptor(
  store: BlobStore,
  digest: Digest,
): Promise<{ descriptor: Descriptor; bytes: Buffer } | undefined> {
  if (!(await store.has(digest))) return undefined;
  const bytes = await store.readAll(digest);
  return { descriptor: { mediaType: storedMediaType(bytes), digest, size: bytes.length }, bytes };
}

/** A stored manifest's media type: what it declares, else its shape (OCI lets it omit the field). */
export function storedMediaType(bytes: Buffer): string {
  const declared = declaredMediaType(bytes);
  if (declared !== undefined) return declared;
  const shape = JSON.parse(bytes.toString('utf8')) as { manifests?: unknown };
  return Array.isArray(shape.manifests) ? MediaType.ociIndex : MediaType.ociManifest;
}
