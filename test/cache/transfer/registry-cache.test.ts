/**
 * The cache in a real registry (distribution's docker-registry): pushed as an artifact and read back into a fresh
 * store, read from an image that carries it inline, and the answers for a tag that is not there or an image that
 * holds no cache.
 */
import { promises as fsp } from 'node:fs';
import { BlobStore } from '../../../src/store/blob-store';
import { sha256Digest, type Digest } from '../../../src/store/digest';
import { CacheFormatError } from '../../../src/cache/transfer/errors';
import {
  CACHE_ARTIFACT_TYPE,
  CACHE_CONFIG_MEDIA_TYPE,
  type CacheConfig,
  type ExportedRecord,
} from '../../../src/cache/transfer/format';
import {
  inlineCacheAnnotation,
  openRegistryCache,
  pushRegistryCache,
  type RegistryCacheLookup,
} from '../../../src/cache/transfer/registry-cache';
import type { LoadedCache } from '../../../src/cache/transfer/types';
import { UserError } from '../../../src/errors';
import {
  MediaType,
  parseManifest,
  serializeIndex,
  serializeManifest,
  type Descriptor,
  type ImageManifest,
} from '../../../src/image/oci-types';
import { RegistryClient, type Repository } from '../../../src/image/registry/client';
import { RegistryError } from '../../../src/image/registry/errors';
import {
  freePort,
  requireTool,
  run,
  startRegistry,
  tempDir,
  type TestRegistry,
} from '../../helpers/registry';

let registry: TestRegistry;
const temps: string[] = [];
const client = (): RegistryClient => RegistryClient.anonymous({ retry: { baseDelayMs: 10 } });

async function freshStore(): Promise<BlobStore> {
  const dir = await tempDir('cache-store');
  temps.push(dir);
  return new BlobStore(dir);
}

beforeAll(async () => {
  requireTool('skopeo');
  registry = await startRegistry();
});

afterAll(async () => {
  await registry?.stop();
  for (const dir of temps) await fsp.rm(dir, { recursive: true, force: true });
});

interface Blob {
  desc: Descriptor;
  data: Buffer;
}

async function putLayer(store: BlobStore, text: string): Promise<Blob> {
  const data = Buffer.from(text);
  const { digest, size } = await store.put(data);
  return { desc: { mediaType: MediaType.ociLayerGzip, digest, size }, data };
}

function record(n: number, layer?: Blob, listing?: Blob): ExportedRecord {
  return {
    key: sha256Digest(`key ${n}`),
    description: `RUN step ${n}`,
    layer: layer
      ? {
          digest: layer.desc.digest,
          diffId: sha256Digest(`diff ${n}`),
          size: layer.desc.size,
          mediaType: layer.desc.mediaType,
        }
      : null,
    ...(listing ? { listing: { digest: listing.desc.digest, size: listing.desc.size } } : {}),
    inputs: { parent: 'scratch', op: { instruction: `step ${n}` } },
    durationMs: n,
    createdAt: '2024-01-02T03:04:05Z',
  };
}

function cacheOf(records: ExportedRecord[]): CacheConfig {
  return { version: 1, mode: 'max', records, cacheMounts: [] };
}

function found(result: RegistryCacheLookup): LoadedCache {
  if (result.status !== 'found') throw new Error(`expected a cache, got ${JSON.stringify(result)}`);
  return result.cache;
}

/** Push an image manifest (its config and layers must be in `store`) under a tag, as `tsbuild push` would. */
async function pushImageManifest(
  store: BlobStore,
  repo: Repository,
  tag: string,
  layers: Blob[],
  annotations?: Record<string, string>,
): Promise<Descriptor> {
  const configText = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256Digest(`diff of ${l.desc.digest}`)) },
  });
  const config = await store.put(configText);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, ...config },
    layers: layers.map((l) => l.desc),
    ...(annotations ? { annotations } : {}),
  };
  const c = client();
  for (const d of [manifest.config, ...manifest.layers]) await c.pushBlob(repo, d, store);
  const bytes = Buffer.from(serializeManifest(manifest));
  const digest = await c.putManifest(repo, tag, bytes, MediaType.ociManifest);
  return { mediaType: MediaType.ociManifest, digest, size: bytes.length };
}

describe('pushRegistryCache / openRegistryCache', () => {
  it('pushes a cache artifact that skopeo reads and a fresh store imports, blob for blob', async () => {
    const store = await freshStore();
    const layer1 = await putLayer(store, 'layer one');
    // A layer a lazy import left where it was: made local only now that it has to be uploaded.
    const elsewhere = await freshStore();
    const layer2 = await putLayer(elsewhere, 'layer two');
    const listing = await putLayer(store, '{"entries":[]}');
    const config = cacheOf([record(1, layer1, listing), record(2, layer2), record(3)]);
    const ref = `${registry.host}/team/app:cache`;
    const asked: Digest[] = [];
    const digest = await pushRegistryCache(client(), store, ref, config, async (d) => {
      asked.push(d.digest);
      await store.put(await elsewhere.readAll(d.digest));
    });
    expect(asked).toEqual([layer2.desc.digest]);

    const raw = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
    expect(sha256Digest(raw)).toBe(digest);
    const manifest = parseManifest(raw);
    expect(manifest.artifactType).toBe(CACHE_ARTIFACT_TYPE);
    expect(manifest.config.mediaType).toBe(CACHE_CONFIG_MEDIA_TYPE);
    expect(manifest.layers.map((l) => l.digest)).toEqual([layer1, layer2, listing].map((b) => b.desc.digest));

    const loaded = found(await openRegistryCache(client(), ref));
    expect(loaded.config).toEqual(config);
    expect(loaded.source.label).toBe(`registry cache ${ref}`);
    const fresh = await freshStore();
    for (const b of [layer1, layer2, listing]) {
      await loaded.source.fetch(b.desc, fresh);
      expect(await fresh.readAll(b.desc.digest)).toEqual(b.data);
    }
  });

  it('mounts a blob the store lacks from a repository of the same registry instead of fetching it', async () => {
    const store = await freshStore();
    const layer = await putLayer(store, 'mounted layer');
    await pushRegistryCache(
      client(),
      store,
      `${registry.host}/team/source:cache`,
      cacheOf([record(1, layer)]),
      () => Promise.resolve(),
    );
    const empty = await freshStore();
    const ref = `${registry.host}/team/target:cache`;
    await pushRegistryCache(
      client(),
      empty,
      ref,
      cacheOf([record(1, layer)]),
      async (d) => {
        throw new Error(`ensureLocal(${d.digest}) should not be called`);
      },
      (d) => (d === layer.desc.digest ? ['team/source'] : []),
    );
    expect(await empty.has(layer.desc.digest)).toBe(false);
    const fresh = await freshStore();
    await found(await openRegistryCache(client(), ref)).source.fetch(layer.desc, fresh);
    expect(await fresh.readAll(layer.desc.digest)).toEqual(layer.data);
  });

  it('does not make local a blob the registry already holds (HEAD first)', async () => {
    const store = await freshStore();
    const layer = await putLayer(store, 'shared layer');
    const ref = `${registry.host}/team/lazy:cache`;
    await pushRegistryCache(client(), store, ref, cacheOf([record(1, layer)]), async () => undefined);
    // A second build imported the record lazily: its store never got the layer.
    const empty = await freshStore();
    const again = cacheOf([record(1, layer), record(2)]);
    const digest = await pushRegistryCache(client(), empty, ref, again, async (d) => {
      throw new Error(`ensureLocal(${d.digest}) should not be called`);
    });
    expect(await empty.has(layer.desc.digest)).toBe(false);
    const loaded = found(await openRegistryCache(client(), `${registry.host}/team/lazy@${digest}`));
    expect(loaded.config).toEqual(again);
  });

  it('fetches a missing blob through ensureLocal before pushing it', async () => {
    const remote = await freshStore();
    const layer = await putLayer(remote, 'only in the imported cache');
    const store = await freshStore();
    await pushRegistryCache(
      client(),
      store,
      `${registry.host}/team/ensure:cache`,
      cacheOf([record(1, layer)]),
      (d) => store.put(remote.open(d.digest), { expectedDigest: d.digest }).then(() => undefined),
    );
    const fresh = await freshStore();
    const loaded = found(await openRegistryCache(client(), `${registry.host}/team/ensure:cache`));
    await loaded.source.fetch(layer.desc, fresh);
    expect(await fresh.readAll(layer.desc.digest)).toEqual(layer.data);
  });

  it('refuses to push a cache under a digest', async () => {
    const store = await freshStore();
    const ref = `${registry.host}/team/app@${sha256Digest('x')}`;
    await expect(pushRegistryCache(client(), store, ref, cacheOf([]), async () => undefined)).rejects.toThrow(
      UserError,
    );
  });

  it('reads the cache an image carries inline, and fetches the image’s layers', async () => {
    const store = await freshStore();
    const layer = await putLayer(store, 'an image layer');
    const config: CacheConfig = { ...cacheOf([record(1, layer)]), mode: 'min' };
    const repo = { registry: registry.host, path: 'team/inline' };
    await pushImageManifest(store, repo, '1', [layer], inlineCacheAnnotation(config));
    const loaded = found(await openRegistryCache(client(), `${registry.host}/team/inline:1`));
    expect(loaded.config).toEqual(config);
    const fresh = await freshStore();
    await loaded.source.fetch(layer.desc, fresh);
    expect(await fresh.readAll(layer.desc.digest)).toEqual(layer.data);
  });

  it('tells “not found” from “an image without a cache”', async () => {
    expect(await openRegistryCache(client(), `${registry.host}/team/never-pushed:cache`)).toEqual({
      status: 'not-found',
    });
    const store = await freshStore();
    const layer = await putLayer(store, 'plain image layer');
    const repo = { registry: registry.host, path: 'team/plain' };
    const image = await pushImageManifest(store, repo, '1', [layer]);
    expect(await openRegistryCache(client(), `${registry.host}/team/plain:missing-tag`)).toEqual({
      status: 'not-found',
    });
    const plain = await openRegistryCache(client(), `${registry.host}/team/plain:1`);
    expect(plain).toEqual({
      status: 'no-cache',
      reason: expect.stringMatching(/image without a tsbuild cache/),
    });

    const index = Buffer.from(
      serializeIndex({
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: [{ ...image, platform: { os: 'linux', architecture: 'amd64' } }],
      }),
    );
    await client().putManifest(repo, 'multi', index, MediaType.ociIndex);
    const multi = await openRegistryCache(client(), `${registry.host}/team/plain:multi`);
    expect(multi).toEqual({
      status: 'no-cache',
      reason: expect.stringMatching(/multi-platform image index/),
    });
  });

  it('rejects a cache artifact whose config is damaged', async () => {
    const store = await freshStore();
    const bogus = await store.put('{"version":2,"records":[]}');
    const configDesc = { mediaType: CACHE_CONFIG_MEDIA_TYPE, ...bogus };
    const repo = { registry: registry.host, path: 'team/bogus' };
    await client().pushBlob(repo, configDesc, store);
    const manifest = Buffer.from(
      serializeManifest({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        artifactType: CACHE_ARTIFACT_TYPE,
        config: configDesc,
        layers: [],
      }),
    );
    await client().putManifest(repo, 'cache', manifest, MediaType.ociManifest);
    const result = openRegistryCache(client(), `${registry.host}/team/bogus:cache`);
    await expect(result).rejects.toThrow(CacheFormatError);
    await expect(openRegistryCache(client(), `${registry.host}/team/bogus:cache`)).rejects.toThrow(
      /registry cache .*: not a tsbuild cache \(version 1\) config/,
    );
  });

  it('lets errors other than “manifest unknown” through', async () => {
    const port = await freePort(); // nothing listens there
    const unreachable = RegistryClient.anonymous({
      insecureRegistries: [`127.0.0.1:${port}`],
      retry: { attempts: 1 },
    });
    await expect(openRegistryCache(unreachable, `127.0.0.1:${port}/team/app:cache`)).rejects.toThrow(
      RegistryError,
    );
  });
});
