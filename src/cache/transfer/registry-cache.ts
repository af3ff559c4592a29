/**
 * `--cache-to type=registry` / `--cache-from type=registry` (and `type=inline` read back): the cache artifact pushed
 * under a tag like any image, or the cache records an image manifest carries in an annotation.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlobStore } from '../../store/blob-store';
import type { Digest } from '../../store/digest';
import { TsbuildError, UserError } from '../../errors';
import { parseDockerReference } from '../../image/reference';
import {
  MediaType,
  isIndexMediaType,
  parseManifest,
  type Descriptor,
  type ImageManifest,
} from '../../image/oci-types';
import type { FetchedManifest, RegistryClient, Repository } from '../../image/registry/client';
import { ManifestUnknownError } from '../../image/registry/errors';
import { CacheFormatError } from './errors';
import {
  INLINE_CACHE_ANNOTATION,
  cacheBlobDescriptors,
  cacheManifest,
  isCacheManifest,
  parseCacheConfig,
  serializeCacheConfig,
  type CacheConfig,
} from './format';
import type { EnsureLocalBlob, LoadedCache } from './types';

/** What `--cache-from REF` found: a cache, nothing at all (first run), or an image that carries no cache. */
export type RegistryCacheLookup =
  { status: 'found'; cache: LoadedCache } | { status: 'not-found' } | { status: 'no-cache'; reason: string };

/** Push the cache artifact: its blobs (those the registry lacks), its config, then the manifest under the tag. */
export async function pushRegistryCache(
  client: RegistryClient,
  store: BlobStore,
  ref: string,
  config: CacheConfig,
  ensureLocal: EnsureLocalBlob,
  /** Repositories of the same registry that hold a blob (the imported cache's): mounted from, not uploaded. */
  mountsFor: (digest: Digest) => readonly string[] = () => [],
): Promise<Digest> {
  const { repo, reference } = resolve(ref);
  if (reference.startsWith('sha256:')) {
    throw new UserError(`--cache-to ${ref}: a cache is pushed under a tag, not a digest`);
  }
  for (const desc of cacheBlobDescriptors(config)) {
    // A lazily imported layer the registry already holds (or can mount) is never fetched just to be skipped.
    await client.pushBlob(repo, desc, store, {
      mountFrom: mountsFor(desc.digest),
      fetchMissing: ensureLocal,
    });
  }
  const configBytes = serializeCacheConfig(config);
  const { manifest, bytes } = cacheManifest(config, configBytes);
  await store.put(configBytes, { expectedDigest: manifest.config.digest });
  await client.pushBlob(repo, manifest.config, store);
  return client.putManifest(repo, reference, Buffer.from(bytes), MediaType.ociManifest);
}

/**
 * Read the cache at `ref`. `not-found` when the registry has no such manifest (a 404; any other failure is thrown),
 * `no-cache` when it is an image (or image index) without a tsbuild cache: docker only warns about both.
 */
export async function openRegistryCache(client: RegistryClient, ref: string): Promise<RegistryCacheLookup> {
  const label = `registry cache ${ref}`;
  const { repo, reference } = resolve(ref);
  let fetched: FetchedManifest;
  try {
    fetched = await client.getManifest(repo, reference);
  } catch (err) {
    if (err instanceof ManifestUnknownError) return { status: 'not-found' };
    throw err;
  }
  if (isIndexMediaType(fetched.descriptor.mediaType)) {
    return { status: 'no-cache', reason: 'it is a multi-platform image index' };
  }
  let manifest: ImageManifest;
  try {
    manifest = parseManifest(fetched.bytes);
  } catch (err) {
    if (err instanceof TsbuildError)
      throw new CacheFormatError(`${label}: the manifest is damaged: ${err.message}`);
    throw err;
  }
  let config: CacheConfig;
  const inline = manifest.annotations?.[INLINE_CACHE_ANNOTATION];
  if (isCacheManifest(manifest)) {
    config = parseCacheConfig(await fetchSmallBlob(client, repo, manifest.config), label);
  } else if (inline !== undefined) {
    config = parseCacheConfig(inline, label);
  } else {
    return { status: 'no-cache', reason: 'it is an image without a tsbuild cache' };
  }
  return {
    status: 'found',
    cache: {
      config,
      source: {
        label,
        repository: repo,
        // fetchBlob streams into store.put with the digest and size expected: nothing unverified is kept.
        fetch: (desc: Descriptor, store: BlobStore) => client.fetchBlob(repo, desc, store),
      },
    },
  };
}

/** The manifest annotation `--cache-to type=inline` adds to the image it pushes or stores. */
export function inlineCacheAnnotation(config: CacheConfig): Record<string, string> {
  return { [INLINE_CACHE_ANNOTATION]: serializeCacheConfig(config) };
}

function resolve(ref: string): { repo: Repository; reference: string } {
  const parsed = parseDockerReference(ref);
  const reference = parsed.digest ?? parsed.tag;
  if (reference === undefined) throw new UserError(`${ref}: no tag or digest`);
  return { repo: { registry: parsed.domain, path: parsed.path }, reference };
}

/**
 * A config blob's bytes, verified. The client only downloads into a store, and the caller's store is not ours to
 * fill with a blob nothing references: a throwaway store takes it.
 */
async function fetchSmallBlob(client: RegistryClient, repo: Repository, desc: Descriptor): Promise<Buffer> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-cache-config-'));
  try {
    const store = new BlobStore(dir);
    await client.fetchBlob(repo, desc, store);
    return await store.readAll(desc.digest);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
