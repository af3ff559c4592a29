/**
 * `--cache-from` and `--cache-to` for `build`: read the named caches before the build (a cache that is not there
 * yet — the first CI run — is a warning), and export the finished build's records to each destination after it.
 */
import type { LoggedBuild } from '../cache/build-log';
import { BlobStore } from '../store/blob-store';
import type { Compression } from '../store/compression';
import { KeyIndex } from '../cache/key-index';
import type { Digest } from '../store/digest';
import { formatSize } from '../cache/units';
import {
  openLocalCache,
  openRegistryCache,
  pushRegistryCache,
  writeLocalCache,
  CacheFormatError,
  type CacheLocation,
  type CacheToSpec,
  type LoadedCache,
} from '../cache/transfer';
import { packCacheMount } from '../executor/ops/cache-mount-archive';
import type { BuiltImage } from '../executor/build';
import { collectCacheConfig } from '../cache/transfer/build-export';
import { RegistryClient, type RegistryClientOptions } from '../image/registry/client';
import { parseDockerReference } from '../image/reference';

export type Say = (line: string) => void;

export function describeLocation(location: CacheLocation): string {
  switch (location.type) {
    case 'local':
      return `cache directory ${location.dir}${location.tag === 'latest' ? '' : ` (tag ${location.tag})`}`;
    case 'registry':
      return `registry cache ${location.ref}`;
    case 'inline':
      return 'the image (inline)';
  }
}

/** Every readable `--cache-from`, in the order given (the first that has a key wins). */
export async function loadCacheFrom(
  locations: readonly CacheLocation[],
  clientOptions: RegistryClientOptions,
  warn: Say,
): Promise<LoadedCache[]> {
  const loaded: LoadedCache[] = [];
  let client: RegistryClient | undefined;
  for (const location of locations) {
    if (location.type === 'local') {
      let cache: LoadedCache | undefined;
      try {
        cache = await openLocalCache(location.dir, location.tag);
      } catch (err) {
        // A damaged or foreign cache costs time, never the build: say so and build without it.
        if (!(err instanceof CacheFormatError)) throw err;
        warn(`${err.message}; building without it`);
        continue;
      }
      if (cache) loaded.push(cache);
      else warn(`no cache in ${describeLocation(location)} yet; building without it`);
    } else if (location.type === 'registry') {
      client ??= new RegistryClient(clientOptions);
      const opened = await openRegistryCache(client, location.ref);
      if (opened.status === 'found') loaded.push(opened.cache);
      else if (opened.status === 'not-found') warn(`no cache at ${location.ref} yet; building without it`);
      else warn(`${location.ref} holds no tsbuild cache (${opened.reason}); building without it`);
    }
  }
  return loaded;
}

/** Exports the build's cache to every `--cache-to` destination (inline ones were written into the image). */
export async function exportCacheTo(
  root: string,
  image: BuiltImage,
  specs: readonly CacheToSpec[],
  clientOptions: RegistryClientOptions,
  say: Say,
  compression: Compression = 'gzip',
  builds: readonly LoggedBuild[] = [],
): Promise<void> {
  const blobs = new BlobStore(root);
  const index = new KeyIndex(root);
  let client: RegistryClient | undefined;
  const registry = (): RegistryClient => (client ??= new RegistryClient(clientOptions));
  for (const spec of specs) {
    if (spec.location.type === 'inline') continue;
    try {
      await exportOne(root, blobs, index, image, spec, registry, say, compression, builds);
    } catch (err) {
      if (!spec.ignoreError) throw err;
      say(
        `warning: cache export to ${describeLocation(spec.location)} failed (ignore-error=true): ${(err as Error).message}`,
      );
    }
  }
}

async function exportOne(
  root: string,
  blobs: BlobStore,
  index: KeyIndex,
  image: BuiltImage,
  spec: CacheToSpec,
  registry: () => RegistryClient,
  say: Say,
  compression: Compression,
  builds: readonly LoggedBuild[],
): Promise<void> {
  const { location } = spec;
  // A blob of a hit whose layer stayed in the imported cache is fetched only if the destination lacks it.
  const ensureLocal = (desc: { digest: Digest }): Promise<void> =>
    image.cache.imports.ensureBlob(desc.digest);
  const config = await collectCacheConfig(root, blobs, index, image.cache, {
    mode: spec.mode,
    listings: true,
    history: true,
    packCacheMount: spec.cacheMounts ? (id) => packCacheMount(root, blobs, id) : undefined,
    compression,
    builds,
  });
  const what = `${config.records.length} records${config.cacheMounts.length > 0 ? `, ${config.cacheMounts.length} cache mounts` : ''}`;
  if (location.type === 'local') {
    const written = await writeLocalCache(blobs, location.dir, location.tag, config, ensureLocal);
    const removed = written.removed > 0 ? `; removed ${written.removed} stale blobs` : '';
    say(
      `exported cache to ${describeLocation(location)}: ${what}, ` +
        `${written.blobs} new blobs (${formatSize(written.bytes)}), ${written.reused} reused${removed}`,
    );
  } else if (location.type === 'registry') {
    const mounts = image.cache.imports.mountSourcesOn(parseDockerReference(location.ref).domain);
    await pushRegistryCache(registry(), blobs, location.ref, config, ensureLocal, mounts);
    say(`exported cache to ${describeLocation(location)}: ${what}`);
  }
}
