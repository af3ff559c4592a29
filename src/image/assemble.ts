/**
 * Put an image together in the blob store: the config and the manifest are serialised canonically and
 * stored; the layers must already be there. Returns the manifest descriptor, which is the image's identity
 * (tags point at it, layouts and archives are written from it).
 */
import type { BlobStore } from '../store/blob-store';
import type { Digest } from '../store/digest';
import { layerAvailable } from '../store/snapshot-layers';
import { ImageFormatError } from './errors';
import {
  MediaType,
  isIndexMediaType,
  isManifestMediaType,
  layerMediaType,
  parseIndex,
  parseManifest,
  serializeImageConfig,
  serializeManifest,
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
} from './oci-types';
import type { StoredLayer } from '../layers/compress';

export interface AssembleOptions {
  /** OCI (default) or Docker v2 schema 2 media types. */
  flavour?: 'oci' | 'docker';
  annotations?: Record<string, string>;
  /** Layers that stay where an imported cache keeps them (the outputs take them from there): not needed here. */
  heldElsewhere?: (digest: Digest) => boolean;
}

export interface AssembledImage {
  manifest: Descriptor;
  config: Descriptor;
}

/** The layer descriptor for a stored layer. */
export function layerDescriptor(layer: StoredLayer, flavour: 'oci' | 'docker' = 'oci'): Descriptor {
  return { mediaType: layerMediaType(layer.compression, flavour), digest: layer.digest, size: layer.size };
}

export async function assembleImage(
  store: BlobStore,
  config: ImageConfig,
  layers: readonly Descriptor[],
  options: AssembleOptions = {},
): Promise<AssembledImage> {
  if (config.rootfs.diff_ids.length !== layers.length) {
    throw new ImageFormatError(
      `image has ${layers.length} layers but its config lists ${config.rootfs.diff_ids.length} diff_ids`,
    );
  }
  for (const [i, layer] of layers.entries()) {
    const diffId = config.rootfs.diff_ids[i];
    if (options.heldElsewhere?.(layer.digest)) continue;
    if (!(await layerAvailable(store.root, store, { digest: layer.digest, diffId })))
      throw new ImageFormatError(`layer ${layer.digest} is not in the store`);
  }
  const docker = options.flavour === 'docker';
  const configBlob = await store.put(serializeImageConfig(config));
  const configDesc: Descriptor = {
    mediaType: docker ? MediaType.dockerConfig : MediaType.ociConfig,
    digest: configBlob.digest,
    size: configBlob.size,
  };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: docker ? MediaType.dockerManifest : MediaType.ociManifest,
    config: configDesc,
    layers: [...layers],
    annotations: options.annotations,
  };
  const manifestBlob = await store.put(serializeManifest(manifest));
  return {
    manifest: {
      mediaType: manifest.mediaType as string,
      digest: manifestBlob.digest,
      size: manifestBlob.size,
    },
    config: configDesc,
  };
}

/** Every blob an image (manifest or index) references, itself included, in a stable order. */
export async function imageBlobs(
  store: BlobStore,
  root: Descriptor,
  read: (d: Digest) => Promise<Buffer> = (d) => store.readAll(d),
): Promise<Descriptor[]> {
  const seen = new Map<Digest, Descriptor>();
  const visit = async (d: Descriptor): Promise<void> => {
    if (seen.has(d.digest)) return;
    seen.set(d.digest, d);
    if (isIndexMediaType(d.mediaType)) {
      for (const child of parseIndex(await read(d.digest)).manifests) await visit(child);
    } else if (isManifestMediaType(d.mediaType)) {
      const m = parseManifest(await read(d.digest));
      seen.set(m.config.digest, m.config);
      for (const layer of m.layers) if (!seen.has(layer.digest)) seen.set(layer.digest, layer);
    }
  };
  await visit(root);
  return [...seen.values()];
}
