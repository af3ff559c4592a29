/**
 * `push`: a local image → a registry reference. The config and layers go first (skipping those the
 * registry has, mounting those another repository of the same registry has), then the manifest, byte for
 * byte as stored, so the remote digest is the local one. An index is pushed with each of its manifests
 * (by digest) first; it must be complete locally.
 *
 * Mount sources are the repositories the caller names plus those the local store knows on that registry
 * whose images use the blob: an image built FROM `reg/busybox` and pushed to `reg/app` mounts busybox's
 * layers instead of uploading them.
 */
import { mapLimit } from '../../store/map-limit';
import { BlobStore } from '../../store/blob-store';
import type { Digest } from '../../store/digest';
import { BuildError, UserError } from '../../errors';
import { exportableImage } from '../export-layers';
import type { Compression } from '../../store/compression';
import { ImageStore } from '../image-store';
import {
  isIndexMediaType,
  isManifestMediaType,
  parseIndex,
  parseManifest,
  type Descriptor,
} from '../oci-types';
import { formatReference, parseDockerReference } from '../reference';
import { RegistryClient, type RegistryClientOptions, type Repository } from './client';

export interface PushOptions {
  client?: RegistryClient;
  clientOptions?: RegistryClientOptions;
  onEvent?: (event: PushEvent) => void;
  /** More repositories (paths on the target registry) to try cross-repository mounts from. */
  mountFrom?: readonly string[];
  /** Repositories on the target registry known to hold one blob (an imported cache's, say): mounted from first. */
  mountsFor?: (digest: Digest) => readonly string[];
  /** Makes a blob the store lacks local, when it has to be uploaded after all (see `PushBlobOptions`). */
  fetchMissing?: (desc: Descriptor) => Promise<void>;
  /** Blob uploads at once (default 3). */
  concurrency?: number;
  /** For layers kept only as snapshots: how to compress them (default gzip). */
  compression?: Compression;
}

export type PushEvent =
  | {
      type: 'blob';
      digest: Digest;
      size: number;
      status: 'exists' | 'mounted' | 'uploading' | 'pushed';
      /** For `mounted`: the repository it came from. */
      from?: string;
      bytes?: number;
    }
  | { type: 'manifest'; reference: string; digest: Digest; size: number };

export interface PushResult {
  /** The remote reference, normalised: `127.0.0.1:5000/team/app:1.0`. */
  name: string;
  digest: Digest;
  size: number;
  mediaType: string;
}

const DEFAULT_CONCURRENCY = 3;
/** How many local images to look through for mount sources; more would cost more than it saves. */
const MAX_MOUNT_SCAN = 64;

/** Push the local image `localName` to `remoteRef` (default: the same name). */
export async function pushImage(
  root: string,
  localName: string,
  remoteRef: string = localName,
  options: PushOptions = {},
): Promise<PushResult> {
  const record = await new ImageStore(root).resolve(localName);
  if (record === undefined) throw new BuildError(`no such image: ${localName}`);
  return pushDescriptor(root, record.target, remoteRef, options);
}

/** Push the image `target` (a manifest or index in the store) to `remoteRef`, e.g. for `build --push`. */
export async function pushDescriptor(
  root: string,
  target: Descriptor,
  remoteRef: string,
  options: PushOptions = {},
): Promise<PushResult> {
  const ref = parseDockerReference(remoteRef);
  // Layers built here and kept as snapshots get their compressed blobs now (once; later pushes reuse them).
  target = await exportableImage(root, new BlobStore(root), target, options.compression ?? 'gzip');
  if (ref.digest !== undefined && ref.digest !== target.digest) {
    throw new UserError(`cannot push ${target.digest} as ${remoteRef}: the digest differs`);
  }
  const repo: Repository = { registry: ref.domain, path: ref.path };
  const store = new BlobStore(root);
  const client = options.client ?? new RegistryClient(options.clientOptions);
  const known = await mountSources(root, store, repo, options.mountFrom ?? []);
  const mountsFor = options.mountsFor;
  const ctx: PushContext = {
    client,
    repo,
    store,
    mounts: mountsFor ? (digest) => [...mountsFor(digest), ...known(digest)] : known,
    ...(options.fetchMissing ? { fetchMissing: options.fetchMissing } : {}),
    emit: options.onEvent ?? (() => undefined),
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
  };
  const reference = ref.tag ?? target.digest;
  await pushManifestTree(ctx, target, reference);
  return {
    name: formatReference(ref),
    digest: target.digest,
    size: target.size,
    mediaType: target.mediaType,
  };
}

interface PushContext {
  client: RegistryClient;
  repo: Repository;
  store: BlobStore;
  /** Repositories on the target registry to try mounting a blob from. */
  mounts: (digest: Digest) => string[];
  fetchMissing?: (desc: Descriptor) => Promise<void>;
  emit: (e: PushEvent) => void;
  concurrency: number;
}

async function pushManifestTree(ctx: PushContext, target: Descriptor, reference: string): Promise<void> {
  if (!(await ctx.store.has(target.digest))) {
    throw new BuildError(`cannot push ${target.digest}: it is not in the local store`);
  }
  const bytes = await ctx.store.readAll(target.digest);
  if (isIndexMediaType(target.mediaType)) {
    for (const child of parseIndex(bytes).manifests) {
      if (!(await ctx.store.has(child.digest))) {
        const p = child.platform;
        throw new BuildError(
          `cannot push the index ${target.digest}: its manifest ${child.digest}` +
            `${p ? ` (${p.os}/${p.architecture})` : ''} is not in the local store`,
        );
      }
      await pushManifestTree(ctx, child, child.digest);
    }
  } else if (isManifestMediaType(target.mediaType)) {
    const m = parseManifest(bytes);
    await pushBlobs(ctx, [m.config, ...m.layers]);
  } else {
    throw new BuildError(`cannot push ${target.digest}: ${target.mediaType} is not an image`);
  }
  await ctx.client.putManifest(ctx.repo, reference, bytes, target.mediaType);
  ctx.emit({ type: 'manifest', reference, digest: target.digest, size: bytes.length });
}

async function pushBlobs(ctx: PushContext, blobs: readonly Descriptor[]): Promise<void> {
  const unique = [...new Map(blobs.map((b) => [b.digest, b])).values()];
  await mapLimit(unique, ctx.concurrency, async (blob) => {
    const event = { type: 'blob' as const, digest: blob.digest, size: blob.size };
    const result = await ctx.client.pushBlob(ctx.repo, blob, ctx.store, {
      mountFrom: ctx.mounts(blob.digest),
      onBytes: (bytes) => ctx.emit({ ...event, status: 'uploading', bytes }),
      ...(ctx.fetchMissing ? { fetchMissing: ctx.fetchMissing } : {}),
    });
    if (result.status === 'mounted') ctx.emit({ ...event, status: 'mounted', from: result.from });
    else ctx.emit({ ...event, status: result.status === 'exists' ? 'exists' : 'pushed' });
  });
}

/** Which repositories on the target registry may hold a blob: the caller's, then those the store knows. */
async function mountSources(
  root: string,
  store: BlobStore,
  target: Repository,
  extra: readonly string[],
): Promise<(digest: Digest) => string[]> {
  const known = new Map<string, string[]>();
  const records = (await new ImageStore(root).list())
    .filter((r) => {
      const ref = parseDockerReference(r.name);
      return ref.domain === target.registry && ref.path !== target.path;
    })
    .slice(0, MAX_MOUNT_SCAN);
  for (const record of records) {
    if (!isManifestMediaType(record.target.mediaType) || !(await store.has(record.target.digest))) continue;
    let blobs: Descriptor[];
    try {
      const m = parseManifest(await store.readAll(record.target.digest));
      blobs = [m.config, ...m.layers];
    } catch {
      continue; // a damaged record is simply no mount source; push reads its own image verified anyway
    }
    const path = parseDockerReference(record.name).path;
    for (const blob of blobs) {
      const list = known.get(blob.digest) ?? [];
      if (!list.includes(path)) list.push(path);
      known.set(blob.digest, list);
    }
  }
  return (digest) => [...extra, ...(known.get(digest) ?? [])];
}
