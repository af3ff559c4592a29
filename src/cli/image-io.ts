/**
 * What the build command needs from the image room: the local store as a source of base images and a place to
 * tag the result, and the `--output` exporters.
 */
import * as path from 'node:path';
import { atomicWriteStream } from '../store/atomic';
import { BlobStore } from '../store/blob-store';
import { layerAvailable } from '../store/snapshot-layers';
import type { BuiltImage, ResolvedImage } from '../executor/build';
import { RootfsViews } from '../executor/rootfs';
import { exportDirectory } from '../layers/export-dir';
import { exportableImage } from '../image/export-layers';
import type { Compression } from '../store/compression';
import { ImageStore } from '../image/image-store';
import { ociLayoutTar, writeOciLayout } from '../image/oci-layout';
import type { Descriptor } from '../image/oci-types';
import { loadImage, type LayerRecord } from '../image/stored-image';
import { normalizeReference, parseDockerReference } from '../image/reference';
import { UserError } from '../errors';
import type { Platform } from '../platform';
import type { OutputSpec } from './build-options';
import { writeDockerArchive } from '../image/docker-archive';
import { loadIntoEngine, type Engine, type LoadResult } from '../image/engine/load-image';
import { RegistryClient, type RegistryClientOptions } from '../image/registry/client';
import { pullImage } from '../image/registry/pull';
import { pushDescriptor } from '../image/registry/push';
import { fetchDroppedLayers, originFetcher } from '../image/registry/origin-fetch';
import { importLayoutImage, parseLayoutRef } from '../image/import/layout-dir';

export interface BuildImageStore {
  /** `myapp` → `docker.io/library/myapp:latest`; a UserError for an invalid name. */
  normalizeTag(name: string): string;
  resolve(normalizedRef: string, platform: Platform): Promise<ResolvedImage | undefined>;
  tag(name: string, image: BuiltImage): Promise<void>;
}

export interface ImageSourceOptions {
  /**
   * `--build-context NAME=docker-image://REF | oci-layout://DIR[:TAG|@DIGEST]`: a FROM (or COPY --from) naming NAME
   * takes that image instead; keys are NAME normalised as the planner normalises image references.
   */
  namedContexts?: ReadonlyMap<string, string>;
  /** `--pull`: ask the registry about every base image, even one in the local store. */
  pull?: boolean;
  clientOptions?: RegistryClientOptions;
  /** Told when an image is pulled, for the build log. */
  onPull?: (ref: string, downloaded: number) => void;
  /**
   * A build whose image is only pushed: a base image is pulled without its layers, which are fetched from its
   * registry only if a step or an output needs them (every step a cache hit needs none; the push mounts them).
   */
  leaveLayersRemote?: boolean;
}

/**
 * Base images come from the local store when present, else from their registry (pulled once, then cached);
 * `--pull` re-checks the registry, and a digest-pinned reference already in the store needs no network.
 */
export async function openImageStore(
  root: string,
  options: ImageSourceOptions = {},
): Promise<BuildImageStore> {
  const blobs = new BlobStore(root);
  await blobs.init();
  const images = new ImageStore(root);
  const client = new RegistryClient(options.clientOptions ?? {});
  return {
    normalizeTag(name: string): string {
      try {
        const ref = parseDockerReference(name);
        if (ref.digest !== undefined) throw new Error('a tag cannot contain a digest');
        return normalizeReference(name);
      } catch (err) {
        throw new UserError(`invalid tag "${name}": ${err instanceof Error ? err.message : String(err)}`);
      }
    },
    async resolve(ref: string, platform: Platform): Promise<ResolvedImage | undefined> {
      const named = options.namedContexts?.get(ref);
      if (named?.startsWith('oci-layout://')) {
        const desc = await importLayoutImage(blobs, parseLayoutRef(named.slice('oci-layout://'.length)));
        return loadImage(blobs, desc, platform);
      }
      if (named?.startsWith('docker-image://'))
        ref = normalizeReference(named.slice('docker-image://'.length));
      const record = options.pull ? undefined : await images.resolve(ref);
      if (record) {
        const local = await loadImage(blobs, record.target, platform);
        // A layer neither in a blob nor unpacked (a dropped pulled blob whose snapshot a crash lost) is pulled again.
        if (local && (await layersHere(root, blobs, local.layers))) return local;
      }
      const lazy = options.leaveLayersRemote === true;
      const pulled = await pullImage(root, ref, platform, { client, fetchLayers: !lazy });
      if (!pulled.offline) options.onPull?.(pulled.name, pulled.downloaded);
      const image = await loadImage(blobs, pulled.manifest, platform);
      if (!lazy || image === undefined) return image;
      const parsed = parseDockerReference(ref);
      const repository = { registry: parsed.domain, path: parsed.path };
      return {
        ...image,
        layerSource: {
          label: `registry ${parsed.domain}/${parsed.path}`,
          repository,
          fetch: (desc, store) => client.fetchBlob(repository, desc, store),
        },
      };
    },
    async tag(name: string, image: BuiltImage): Promise<void> {
      await images.tag(name, {
        mediaType: image.manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json',
        digest: image.manifestDigest,
        size: image.manifestSize,
      });
    },
  };
}

export async function writeOutputs(
  root: string,
  image: BuiltImage,
  outputs: readonly OutputSpec[],
  name: string | undefined,
  clientOptions: RegistryClientOptions = {},
  compression: Compression = 'gzip',
  onLoaded?: (engine: Engine, result: LoadResult) => void,
): Promise<Descriptor> {
  // Returns the manifest the outputs carry: the built one, or its copy with layers compressed for them.
  const blobs = new BlobStore(root);
  const built: Descriptor = {
    mediaType: image.manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json',
    digest: image.manifestDigest,
    size: image.manifestSize,
  };
  // A layer that stayed in a registry cache (a --push hit it) is fetched only for an output that needs its bytes
  // here; a push mounts it from the cache's repository when the registry is the same, and fetches it otherwise.
  const imports = image.cache.imports;
  // A pulled base layer whose blob was dropped after unpacking is fetched again from its registry, the same way.
  const fromOrigin = originFetcher(blobs, new RegistryClient(clientOptions));
  if (outputs.some((o) => o.type !== 'registry')) await imports.ensureLayers(image.layers);
  if (outputs.some((o) => o.type === 'oci' || o.type === 'docker' || o.type === 'engine'))
    await fetchDroppedLayers(blobs, built, fromOrigin);
  const fetchMissing = async (desc: Descriptor): Promise<void> => {
    await imports.ensureBlob(desc.digest);
    await fromOrigin(desc);
  };
  // Layers kept as snapshots are compressed now, once, for every output below that carries compressed layers (a
  // docker archive holds them uncompressed and is written from the snapshots as they are).
  const manifest = outputs.some((o) => o.type === 'oci' || o.type === 'registry')
    ? await exportableImage(root, blobs, built, compression)
    : built;
  const tag = name ? name.slice(name.lastIndexOf(':') + 1) : 'latest';
  for (const out of outputs) {
    if (out.type === 'engine') {
      const diffIds = image.layers.map((l) => l.diffId);
      const result = await loadIntoEngine(blobs, built, diffIds, name ? [name] : [], out.engine);
      onLoaded?.(out.engine, result);
      continue;
    }
    const dest = out.type === 'registry' ? '' : path.resolve(out.dest);
    if (out.type === 'oci') {
      const layout = { manifest, refName: tag, ...(name ? { imageName: name } : {}) };
      if (out.tar) await atomicWriteStream(dest, ociLayoutTar(blobs, [layout]));
      else await writeOciLayout(blobs, dest, [layout]);
    } else if (out.type === 'registry') {
      await pushDescriptor(root, manifest, out.name, {
        clientOptions,
        compression,
        fetchMissing,
        mountsFor: imports.mountSourcesOn(parseDockerReference(out.name).domain),
      });
    } else if (out.type === 'docker') {
      await writeDockerArchive(blobs, [{ manifest: built, tags: name ? [name] : [] }], dest);
    } else {
      const views = new RootfsViews(root, blobs);
      try {
        await exportDirectory(await views.directory(image.layers), dest);
      } finally {
        await views.release();
      }
    }
  }
  return manifest;
}

async function layersHere(root: string, blobs: BlobStore, layers: readonly LayerRecord[]): Promise<boolean> {
  for (const layer of layers) if (!(await layerAvailable(root, blobs, layer))) return false;
  return true;
}

/** Whether every layer of the built image is in the store (none stayed in an imported cache). */
export function imageIsLocal(root: string, image: BuiltImage): Promise<boolean> {
  return layersHere(root, new BlobStore(root), image.layers);
}

/** `--build-context NAME=VALUE` values, keyed by NAME normalised as an image reference. */
export function parseNamedContexts(values: readonly string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UserError(`invalid --build-context "${v}": expected NAME=VALUE`);
    const value = v.slice(eq + 1);
    if (!value.startsWith('docker-image://') && !value.startsWith('oci-layout://')) {
      throw new UserError(
        `invalid --build-context "${v}": supported sources are docker-image://REF and oci-layout://DIR[:TAG|@DIGEST]`,
      );
    }
    let key: string;
    try {
      key = normalizeReference(v.slice(0, eq));
    } catch {
      throw new UserError(`invalid --build-context "${v}": "${v.slice(0, eq)}" is not a valid name`);
    }
    out.set(key, value);
  }
  return out;
}
