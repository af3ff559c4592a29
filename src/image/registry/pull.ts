/**
 * `pull`: a reference on a registry → the platform's image in the local store, tagged. Manifests are fetched
 * verified (see client.ts), then the config and every layer the store lacks, a few at a time. A tag is
 * always re-checked with the registry (one HEAD, and nothing more when the store already has what it
 * names); a digest-pinned reference whose image is complete in the store needs no network at all.
 *
 * For a multi-platform index only the chosen platform's manifest and blobs are fetched, and the tag points
 * at that manifest (with its platform), so every local tag names a complete, single-platform image that
 * `save` and `push` can use as is. gzip and zstd layers are both just blobs here.
 */
import { mapLimit } from '../../store/map-limit';
import { writeBlobOrigin } from '../../store/blob-origins';
import { BlobStore } from '../../store/blob-store';
import { isDigest, type Digest } from '../../store/digest';
import { layerAvailable } from '../../store/snapshot-layers';
import { UserError } from '../../errors';
import { ImageFormatError } from '../errors';
import { ImageStore } from '../image-store';
import {
  isIndexMediaType,
  isManifestMediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
  type Descriptor,
} from '../oci-types';
import { formatReference, parseDockerReference, repositoryName, type Reference } from '../reference';
import { RegistryClient, type FetchedManifest, type RegistryClientOptions, type Repository } from './client';
import { RegistryError } from './errors';
import { completeLocalImage, storedMediaType } from './local-image';
import { formatPlatform, type Platform } from '../../platform';
import { availablePlatforms, selectManifest } from './platform-match';

export interface PullOptions {
  /** Reuse a client (and its token cache) across pulls; else one is made from `clientOptions`. */
  client?: RegistryClient;
  clientOptions?: RegistryClientOptions;
  onEvent?: (event: PullEvent) => void;
  /** Blob downloads at once (default 3). */
  concurrency?: number;
  /**
   * False: fetch only the manifest and config and leave the layers in the registry (a build that may never need
   * them: every step a cache hit, the image pushed to the same registry). The image is tagged all the same; its
   * layers' origins are noted, so whatever needs one fetches it (a build FROM it pulls what is missing first).
   */
  fetchLayers?: boolean;
}

export type PullEvent =
  | { type: 'resolved'; name: string; digest: Digest; mediaType: string }
  | {
      type: 'blob';
      digest: Digest;
      size: number;
      status: 'present' | 'downloading' | 'done';
      bytes?: number;
    };

export interface PullResult {
  /** The normalised reference: `docker.io/library/busybox:latest`. */
  name: string;
  /** What the reference names on the registry (an index for multi-platform images): Docker's "Digest:". */
  digest: Digest;
  /** The platform's image manifest: what the tag now points at. */
  manifest: Descriptor;
  /** How many blobs (manifests included) were downloaded; 0 means the store was already up to date. */
  downloaded: number;
  /** True when the registry was not contacted (a digest-pinned reference complete in the store). */
  offline: boolean;
}

const DEFAULT_CONCURRENCY = 3;

export async function pullImage(
  root: string,
  reference: string,
  platform: Platform,
  options: PullOptions = {},
): Promise<PullResult> {
  const ref = parseDockerReference(reference);
  if (ref.digest !== undefined && !isDigest(ref.digest)) {
    throw new UserError(`cannot pull ${reference}: only sha256 digests are supported`);
  }
  const name = formatReference(ref);
  const repo: Repository = { registry: ref.domain, path: ref.path };
  const store = new BlobStore(root);
  await store.init();

  if (ref.digest !== undefined) {
    const local = await completeLocalImage(store, ref.digest as Digest, platform);
    if (local !== undefined) {
      await tagIfNamed(root, ref, local);
      return { name, digest: ref.digest as Digest, manifest: local, downloaded: 0, offline: true };
    }
  }

  const client = options.client ?? new RegistryClient(options.clientOptions);
  const emit = options.onEvent ?? (() => undefined);
  let downloaded = 0;

  // The top-level manifest or index. For a tag, a HEAD tells us its digest; if the store already holds the
  // whole image, that is all the network we need.
  let top: Descriptor;
  let topBytes: Buffer;
  const known = ref.digest !== undefined ? undefined : await client.headManifest(repo, ref.tag as string);
  const knownDigest = (ref.digest as Digest | undefined) ?? known?.digest;
  const local =
    knownDigest === undefined ? undefined : await completeLocalImage(store, knownDigest, platform);
  if (knownDigest !== undefined && local !== undefined) {
    emit({ type: 'resolved', name, digest: knownDigest, mediaType: known?.mediaType ?? local.mediaType });
    await tagIfNamed(root, ref, local);
    return { name, digest: knownDigest, manifest: local, downloaded: 0, offline: false };
  }
  if (knownDigest !== undefined && (await store.has(knownDigest))) {
    topBytes = await store.readAll(knownDigest);
    top = { mediaType: storedMediaType(topBytes), digest: knownDigest, size: topBytes.length };
  } else {
    const fetched = await client.getManifest(repo, ref.digest ?? (ref.tag as string));
    await keep(store, fetched);
    downloaded++;
    ({ descriptor: top, bytes: topBytes } = fetched);
  }
  emit({ type: 'resolved', name, digest: top.digest, mediaType: top.mediaType });

  let manifest: Descriptor = top;
  let manifestBytes = topBytes;
  if (isIndexMediaType(top.mediaType)) {
    const index = parseIndex(topBytes);
    const entry = selectManifest(index, platform);
    if (entry === undefined) {
      const offered = availablePlatforms(index);
      throw new RegistryError(
        `${name} has no image for ${formatPlatform(platform)}` +
          (offered.length > 0 ? ` (it has ${offered.join(', ')})` : ''),
      );
    }
    if (await store.has(entry.digest)) {
      manifestBytes = await store.readAll(entry.digest);
    } else {
      const fetched = await client.getManifest(repo, entry.digest);
      if (!isManifestMediaType(fetched.descriptor.mediaType)) {
        throw new ImageFormatError(
          `${name}: the index entry for ${formatPlatform(platform)} is not an image manifest`,
        );
      }
      await keep(store, fetched);
      downloaded++;
      manifestBytes = fetched.bytes;
    }
    manifest = {
      mediaType: entry.mediaType,
      digest: entry.digest,
      size: entry.size,
      platform: entry.platform,
    };
  } else if (!isManifestMediaType(top.mediaType)) {
    throw new ImageFormatError(`${name} is ${top.mediaType}, not an image`);
  }

  const m = parseManifest(manifestBytes);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  // The config first: its diff_ids say which layers are here unpacked already (their blobs may have been dropped).
  downloaded += await fetchAll(client, repo, store, [m.config], concurrency, emit);
  const config = parseImageConfig(await store.readAll(m.config.digest));
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== m.layers.length) {
    throw new ImageFormatError(
      `${name}: the manifest lists ${m.layers.length} layers but the config ${diffIds.length} diff_ids`,
    );
  }
  const diffIdOf = new Map(m.layers.map((l, i) => [l.digest, diffIds[i]]));
  const layerHere = (blob: Descriptor): Promise<boolean> => {
    const diffId = diffIdOf.get(blob.digest);
    return diffId === undefined
      ? store.has(blob.digest)
      : layerAvailable(root, store, { digest: blob.digest, diffId });
  };
  // Where each layer can be fetched again once it is unpacked and its blob dropped (cache/blob-origins.ts).
  for (const layer of m.layers) {
    await writeBlobOrigin(root, layer.digest, { registry: repo.registry, repository: repo.path });
  }
  if (options.fetchLayers !== false) {
    downloaded += await fetchAll(client, repo, store, m.layers, concurrency, emit, layerHere);
  }
  await tagIfNamed(root, ref, manifest);
  return { name, digest: top.digest, manifest, downloaded, offline: false };
}

/** Tag references that have a tag; a bare digest pull leaves the image untagged, as `docker pull` does. */
async function tagIfNamed(root: string, ref: Reference, manifest: Descriptor): Promise<void> {
  if (ref.tag === undefined) return;
  await new ImageStore(root).tag(`${repositoryName(ref)}:${ref.tag}`, manifest);
}

async function keep(store: BlobStore, fetched: FetchedManifest): Promise<void> {
  await store.put(fetched.bytes, {
    expectedDigest: fetched.descriptor.digest,
    expectedSize: fetched.descriptor.size,
  });
}

/** Download the blobs the store lacks (`here` says), `concurrency` at a time; returns how many were fetched. */
async function fetchAll(
  client: RegistryClient,
  repo: Repository,
  store: BlobStore,
  blobs: readonly Descriptor[],
  concurrency: number,
  emit: (e: PullEvent) => void,
  here: (blob: Descriptor) => Promise<boolean> = (blob) => store.has(blob.digest),
): Promise<number> {
  const unique = [...new Map(blobs.map((b) => [b.digest, b])).values()];
  let fetched = 0;
  // Every download in flight finishes (or fails) before the call reports, so none outlives it.
  await mapLimit(unique, concurrency, async (blob) => {
    if (await here(blob)) {
      emit({ type: 'blob', digest: blob.digest, size: blob.size, status: 'present' });
      return;
    }
    emit({ type: 'blob', digest: blob.digest, size: blob.size, status: 'downloading', bytes: 0 });
    await client.fetchBlob(repo, blob, store, (bytes) =>
      emit({ type: 'blob', digest: blob.digest, size: blob.size, status: 'downloading', bytes }),
    );
    fetched++;
    emit({ type: 'blob', digest: blob.digest, size: blob.size, status: 'done' });
  });
  return fetched;
}
