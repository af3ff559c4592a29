/**
 * The end of a build: the target stage's config (creation time, `--label`s) and layers written as config and
 * manifest blobs. With `--cache-to type=inline` the layers are compressed now and the final image's step records go
 * into the manifest's annotations; otherwise a layer kept as its snapshot stays so until an output needs it.
 */
import type { KeyIndex } from '../cache/key-index';
import { collectCacheConfig, type BuildCacheView } from '../cache/transfer/build-export';
import type { CacheImports } from '../cache/transfer/build-imports';
import { inlineCacheAnnotation } from '../cache/transfer/registry-cache';
import { assembleImage } from '../image/assemble';
import { compressedLayer } from '../image/export-layers';
import { parseManifest } from '../image/oci-types';
import type { BlobStore } from '../store/blob-store';
import type { Digest } from '../store/digest';
import type { BuildOptions, BuiltImage, StageResult } from './types';

export interface ImageToWrite {
  target: StageResult;
  cache: BuildCacheView;
  /** The build's own time (SOURCE_DATE_EPOCH when set), for an image whose history has no times. */
  created: string;
  steps: number;
  hits: number;
  startedMs: number;
}

type WriteOptions = Pick<
  BuildOptions,
  'root' | 'sourceDateEpoch' | 'labels' | 'inlineCache' | 'compression' | 'layersMayStayRemote'
>;

export async function writeBuiltImage(
  opts: WriteOptions,
  blobs: BlobStore,
  index: KeyIndex,
  imports: CacheImports,
  image: ImageToWrite,
): Promise<BuiltImage> {
  const { target, cache } = image;
  if (!opts.layersMayStayRemote) await imports.ensureLayers(target.layers);
  const config = target.config;
  const times = (config.history ?? []).map((h) => h.created ?? '').filter((t) => t !== '');
  config.created =
    opts.sourceDateEpoch !== undefined || times.length === 0 ? image.created : times.sort()[times.length - 1];
  if (opts.labels.size > 0) {
    config.config.Labels = { ...(config.config.Labels ?? {}), ...Object.fromEntries(opts.labels) };
  }
  const layers = opts.inlineCache
    ? await Promise.all(target.layers.map((l) => compressedLayer(opts.root, blobs, l, opts.compression)))
    : target.layers;
  const annotations = opts.inlineCache
    ? await inlineCacheAnnotations(opts, blobs, index, cache, new Set(layers.map((l) => l.digest)))
    : undefined;
  const assembled = await assembleImage(
    blobs,
    config,
    layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    {
      ...(annotations ? { annotations } : {}),
      ...(opts.layersMayStayRemote ? { heldElsewhere: (d: Digest) => imports.offers(d) } : {}),
    },
  );
  const manifest = parseManifest(await blobs.readAll(assembled.manifest.digest));
  return {
    config,
    configDigest: assembled.config.digest,
    configSize: assembled.config.size,
    manifestDigest: assembled.manifest.digest,
    manifestSize: assembled.manifest.size,
    manifest,
    layers,
    steps: image.steps,
    hits: image.hits,
    durationMs: Date.now() - image.startedMs,
    cache,
    imported: imports.stats(),
  };
}

/** `--cache-to type=inline`: the final image's step records, whose layers are all in the image itself. */
async function inlineCacheAnnotations(
  opts: WriteOptions,
  blobs: BlobStore,
  index: KeyIndex,
  cache: BuildCacheView,
  imageLayers: ReadonlySet<Digest>,
): Promise<Record<string, string>> {
  const config = await collectCacheConfig(opts.root, blobs, index, cache, {
    mode: 'min',
    listings: false,
    history: false,
    compression: opts.compression,
  });
  config.records = config.records.filter((r) => !r.layer || imageLayers.has(r.layer.digest));
  return inlineCacheAnnotation(config);
}
