/**
 * Export images as a `docker save` tar, the format `docker load` and `podman load` both read:
 *
 *   manifest.json            [{"Config":"<cfg>.json","RepoTags":["docker.io/library/app:latest"],"Layers":["<id>/layer.tar",…]}]
 *   repositories             {"app":{"latest":"<top layer id>"}}   (legacy readers)
 *   <cfg>.json               the config blob, byte for byte (its sha256 is the image ID)
 *   <id>/layer.tar           each layer uncompressed; <id> is its diff_id hex, so the file's own sha256
 *                            is exactly the config's diff_id — no loader has to guess or recompute.
 *
 * Layer sizes must be known before their tar headers, so each compressed layer is streamed through the
 * decompressor twice: once to count (and check it really decompresses to its diff_id), once to write.
 * That costs CPU, never memory or disk. A layer kept only as its snapshot (not compressed yet) is written
 * straight from it, its size known from its record.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { atomicWriteStream } from '../store/atomic';
import type { BlobStore } from '../store/blob-store';
import { digestHex, type Digest } from '../store/digest';
import { decompressLayer } from '../layers/compress';
import { snapshotTarSource } from './export-layers';
import { layerTarChunks, type LayerEntry } from '../layers/tar-writer';
import { encodeJson, goMap, struct, type JsonObject } from './go-json';
import { ImageFormatError } from './errors';
import {
  isIndexMediaType,
  layerCompression,
  parseImageConfig,
  parseManifest,
  type Descriptor,
} from './oci-types';
import { familiarRepository, formatReference, parseDockerReference } from './reference';

export interface ArchiveImage {
  /** The image manifest descriptor (single platform; pick a platform from an index first). */
  manifest: Descriptor;
  /** Names to record in RepoTags, e.g. `myapp`, `myapp:1.0`, `registry:5000/team/app:dev`. */
  tags: readonly string[];
}

export interface DockerArchiveOptions {
  /** mtime of every archive member (default 0), for reproducible archives. */
  mtime?: number;
  /**
   * The diff_ids of an image the loading engine holds already. The layers the two images share from the bottom
   * up (the same chain) are listed in `manifest.json` but their `layer.tar` is left out: docker's loader reads a
   * layer file only when it lacks that chain. For `--load` only; a file archive always holds every layer.
   */
  engineHas?: readonly string[];
}

export function dockerArchiveTar(
  store: BlobStore,
  images: readonly ArchiveImage[],
  options: DockerArchiveOptions = {},
): Readable {
  return Readable.from(archiveChunks(store, images, options), { objectMode: false });
}

/** Write the archive to `outPath` atomically (a partial archive never appears under that name). */
export async function writeDockerArchive(
  store: BlobStore,
  images: readonly ArchiveImage[],
  outPath: string,
  options: DockerArchiveOptions = {},
): Promise<void> {
  await atomicWriteStream(outPath, dockerArchiveTar(store, images, options));
}

async function* archiveChunks(
  store: BlobStore,
  images: readonly ArchiveImage[],
  options: DockerArchiveOptions,
): AsyncGenerator<Buffer> {
  const mtime = options.mtime ?? 0;
  const entries = new Map<string, LayerEntry>();
  const manifestItems: JsonObject[] = [];
  const repositories: Record<string, Record<string, string>> = {};

  for (const image of images) {
    if (isIndexMediaType(image.manifest.mediaType)) {
      throw new ImageFormatError(
        'a docker archive holds single-platform images; choose a platform from the index',
      );
    }
    const manifest = parseManifest(await store.readAll(image.manifest.digest));
    const configBytes = await store.readAll(manifest.config.digest);
    const config = parseImageConfig(configBytes);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw new ImageFormatError(
        `image ${image.manifest.digest} has ${manifest.layers.length} layers but ${diffIds.length} diff_ids`,
      );
    }
    const configName = `${digestHex(manifest.config.digest)}.json`;
    entries.set(configName, { type: 'file', path: configName, content: configBytes, mode: 0o644, mtime });

    const layerPaths: string[] = [];
    const shared = sharedChain(diffIds, options.engineHas ?? []);
    for (const [i, layer] of manifest.layers.entries()) {
      const diffId = diffIds[i] as Digest;
      const dir = digestHex(diffId);
      const file = `${dir}/layer.tar`;
      layerPaths.push(file);
      if (entries.has(file) || i < shared) continue;
      // A layer kept as its snapshot is written from it as it is: no compression just to decompress it again.
      const content = (await snapshotTarSource(store.root, store, { ...layer, diffId })) ?? {
        size: await uncompressedSize(store, layer, diffId),
        open: () => decompressLayer(store.open(layer.digest)),
      };
      entries.set(dir, { type: 'dir', path: dir, mode: 0o755, mtime });
      entries.set(file, { type: 'file', path: file, mode: 0o644, mtime, content });
    }

    // Fully qualified names: docker normalises either form the same way, but podman would file a familiar
    // `app:latest` under `localhost/app`, so only the qualified form loads under the same name in both.
    const repoTags = image.tags.map((t) => formatReference(parseTag(t)));
    manifestItems.push(
      struct([
        ['Config', configName],
        ['RepoTags', repoTags.length > 0 ? repoTags : null],
        ['Layers', layerPaths],
      ]),
    );
    const top =
      layerPaths.length > 0 ? (layerPaths[layerPaths.length - 1] as string).split('/')[0] : undefined;
    if (top !== undefined) {
      for (const t of image.tags) {
        const ref = parseTag(t);
        (repositories[familiarRepository(ref)] ??= {})[ref.tag as string] = top;
      }
    }
  }

  const all = [...entries.values()];
  all.push({ type: 'file', path: 'manifest.json', content: Buffer.from(encodeJson(manifestItems)), mtime });
  if (Object.keys(repositories).length > 0) {
    const repos = encodeJson(goMap(repositories, (tags) => goMap(tags, (id) => id)));
    all.push({ type: 'file', path: 'repositories', content: Buffer.from(`${repos}\n`), mtime });
  }
  yield* layerTarChunks(all);
}

/** How many layers from the bottom two diff_id lists share: the chain the engine has of this image. */
export function sharedChain(ours: readonly string[], theirs: readonly string[]): number {
  let n = 0;
  while (n < ours.length && n < theirs.length && ours[n] === theirs[n]) n++;
  return n;
}

function parseTag(t: string): ReturnType<typeof parseDockerReference> {
  const ref = parseDockerReference(t);
  if (ref.digest !== undefined || ref.tag === undefined) {
    throw new ImageFormatError(`docker archive tags must be name:tag, not ${t}`);
  }
  return ref;
}

/** Size of the layer once decompressed, checking on the way that it hashes to its diff_id. */
async function uncompressedSize(store: BlobStore, layer: Descriptor, diffId: Digest): Promise<number> {
  const compression = layerCompression(layer.mediaType);
  if (compression === undefined)
    throw new ImageFormatError(`unsupported layer media type ${layer.mediaType}`);
  if (compression === 'none' && layer.digest === diffId) return store.size(layer.digest);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of decompressLayer(store.open(layer.digest))) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== diffId) {
    throw new ImageFormatError(
      `layer ${layer.digest} decompresses to ${actual}, but the config says ${diffId}`,
    );
  }
  return size;
}
