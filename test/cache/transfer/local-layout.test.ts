/**
 * The cache as an OCI layout directory, with real stores on disk: a round trip into a fresh store, re-exports that
 * keep the directory near one build's worth while sparing other tags, skopeo reading what we wrote, and damaged or
 * missing directories.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlobStore } from '../../../src/store/blob-store';
import { digestHex, sha256Digest, type Digest } from '../../../src/store/digest';
import { CacheFormatError } from '../../../src/cache/transfer/errors';
import {
  CACHE_CONFIG_MEDIA_TYPE,
  INLINE_CACHE_ANNOTATION,
  serializeCacheConfig,
  type CacheConfig,
  type ExportedRecord,
} from '../../../src/cache/transfer/format';
import { openLocalCache, writeLocalCache } from '../../../src/cache/transfer/local-layout';
import type { EnsureLocalBlob } from '../../../src/cache/transfer/types';
import { MediaType, parseIndex, parseManifest, type Descriptor } from '../../../src/image/oci-types';
import { requireTool, run } from '../../helpers/registry';

const temps: string[] = [];
async function temp(prefix: string): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `tsbuild-${prefix}-`));
  temps.push(dir);
  return dir;
}

afterAll(async () => {
  for (const dir of temps) await fsp.rm(dir, { recursive: true, force: true });
});

interface Blob {
  digest: Digest;
  size: number;
  data: Buffer;
}

async function putBlob(store: BlobStore, text: string): Promise<Blob> {
  const data = Buffer.from(text);
  const info = await store.put(data);
  return { ...info, data };
}

function record(n: number, layer?: Blob, listing?: Blob): ExportedRecord {
  return {
    key: sha256Digest(`key ${n}`),
    description: `RUN step ${n}`,
    layer: layer
      ? {
          digest: layer.digest,
          diffId: sha256Digest(`diff ${n}`),
          size: layer.size,
          mediaType: MediaType.ociLayerGzip,
        }
      : null,
    ...(listing ? { listing: { digest: listing.digest, size: listing.size } } : {}),
    inputs: { parent: 'scratch', op: { instruction: `step ${n}` } },
    durationMs: 10 * n,
    createdAt: '2024-01-02T03:04:05Z',
  };
}

function cacheOf(records: ExportedRecord[], mounts: { id: string; archive: Blob }[] = []): CacheConfig {
  return {
    version: 1,
    mode: 'max',
    records,
    cacheMounts: mounts.map((m) => ({
      id: m.id,
      archive: { digest: m.archive.digest, size: m.archive.size },
    })),
  };
}

/** An ensureLocal that records what it was asked for (the blobs are in the store already). */
function recording(): { ensure: EnsureLocalBlob; asked: Digest[] } {
  const asked: Digest[] = [];
  return {
    asked,
    ensure: async (desc: Descriptor) => {
      asked.push(desc.digest);
    },
  };
}

async function blobNames(dir: string): Promise<string[]> {
  return (await fsp.readdir(path.join(dir, 'blobs', 'sha256'))).sort();
}

const hex = (b: { digest: Digest }): string => digestHex(b.digest);

describe('writeLocalCache / openLocalCache', () => {
  let store: BlobStore;
  beforeEach(async () => {
    store = new BlobStore(await temp('store'));
  });

  it('round-trips a cache into a fresh store, byte for byte', async () => {
    const layer1 = await putBlob(store, 'layer one');
    const layer2 = await putBlob(store, 'layer two, a bit longer');
    const listing = await putBlob(store, '{"entries":[]}');
    const mount = await putBlob(store, 'cache mount archive');
    const config = cacheOf(
      [record(1, layer1, listing), record(2, layer2), record(3)],
      [{ id: '/root/.npm', archive: mount }],
    );
    const dir = path.join(await temp('layout'), 'cache'); // not there yet: created
    const { ensure, asked } = recording();

    const result = await writeLocalCache(store, dir, 'latest', config, ensure);
    expect(asked.sort()).toEqual([layer1, layer2, listing, mount].map((b) => b.digest).sort());
    expect(result.blobs).toBe(6); // 4 blobs + config + manifest
    expect(result.reused).toBe(0);
    expect(result.removed).toBe(0);
    const configBytes = serializeCacheConfig(config);
    expect(result.bytes).toBe(
      [layer1, layer2, listing, mount].reduce((n, b) => n + b.size, 0) +
        Buffer.byteLength(configBytes) +
        (await fsp.stat(path.join(dir, 'blobs', 'sha256', digestHex(result.manifest)))).size,
    );

    expect(JSON.parse(await fsp.readFile(path.join(dir, 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    });
    const index = parseIndex(await fsp.readFile(path.join(dir, 'index.json')));
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]?.digest).toBe(result.manifest);
    expect(index.manifests[0]?.annotations?.['org.opencontainers.image.ref.name']).toBe('latest');
    const manifest = parseManifest(
      await fsp.readFile(path.join(dir, 'blobs', 'sha256', digestHex(result.manifest))),
    );
    expect(manifest.config.mediaType).toBe(CACHE_CONFIG_MEDIA_TYPE);
    expect(manifest.layers.map((l) => l.digest)).toEqual(
      [layer1, layer2, listing, mount].map((b) => b.digest),
    );
    // No temp files or lock left behind.
    expect((await fsp.readdir(dir)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    expect((await blobNames(dir)).every((n) => /^[a-f0-9]{64}$/.test(n))).toBe(true);

    const loaded = await openLocalCache(dir, 'latest');
    expect(loaded).toBeDefined();
    expect(loaded?.config).toEqual(config);
    expect(loaded?.source.label).toBe(`cache directory ${dir}`);
    const fresh = new BlobStore(await temp('fresh'));
    for (const b of [layer1, layer2, listing, mount]) {
      await loaded?.source.fetch(
        { mediaType: 'application/octet-stream', digest: b.digest, size: b.size },
        fresh,
      );
      expect(await fresh.readAll(b.digest)).toEqual(b.data);
    }
    // Fetching what the store has already is a no-op, even if the directory lost the blob meanwhile.
    await fsp.rm(path.join(dir, 'blobs', 'sha256', hex(layer1)));
    await loaded?.source.fetch(
      { mediaType: MediaType.ociLayerGzip, digest: layer1.digest, size: layer1.size },
      fresh,
    );
  });

  it('skips blobs the directory already holds, without asking for them', async () => {
    const layer = await putBlob(store, 'layer');
    const dir = await temp('layout');
    await writeLocalCache(store, dir, 'latest', cacheOf([record(1, layer)]), async () => undefined);
    const { ensure, asked } = recording();
    const again = await writeLocalCache(store, dir, 'latest', cacheOf([record(1, layer)]), ensure);
    expect(asked).toEqual([]);
    expect(again).toMatchObject({ blobs: 0, bytes: 0, reused: 1, removed: 0 });
  });

  it('asks ensureLocal for a blob the store does not hold yet (a lazily imported layer)', async () => {
    const source = new BlobStore(await temp('remote'));
    const remote = await putBlob(source, 'a layer still in the imported cache');
    const dir = await temp('layout');
    await writeLocalCache(store, dir, 'latest', cacheOf([record(1, remote)]), async (desc) => {
      await store.put(source.open(desc.digest), { expectedDigest: desc.digest });
    });
    expect(await fsp.readFile(path.join(dir, 'blobs', 'sha256', hex(remote)))).toEqual(remote.data);
  });

  it('re-exporting a tag removes what only the old export used and keeps other tags whole', async () => {
    const a = await putBlob(store, 'only in main v1');
    const shared = await putBlob(store, 'in main v1 and in pr');
    const c = await putBlob(store, 'only in pr');
    const d = await putBlob(store, 'only in main v2');
    const dir = await temp('layout');
    const noop = async (): Promise<void> => undefined;
    const v1 = await writeLocalCache(store, dir, 'main', cacheOf([record(1, a), record(2, shared)]), noop);
    const pr = await writeLocalCache(store, dir, 'pr', cacheOf([record(2, shared), record(3, c)]), noop);
    expect(pr.removed).toBe(0);
    const before = await blobNames(dir);
    expect(before).toHaveLength(7); // 3 layers, 2 configs, 2 manifests

    // A dead writer's temp file (old) goes; a live one's (fresh) stays.
    const stale = path.join(dir, 'blobs', 'sha256', `.${'0'.repeat(64)}.12345.abcdefabcdef.tmp`);
    const live = path.join(dir, 'blobs', 'sha256', `.${'1'.repeat(64)}.12345.abcdefabcdef.tmp`);
    await fsp.writeFile(stale, 'half a blob');
    await fsp.writeFile(live, 'half a blob');
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await fsp.utimes(stale, old, old);

    const v2 = await writeLocalCache(store, dir, 'main', cacheOf([record(4, d)]), noop);
    // Gone: layer a, v1's config and v1's manifest.
    expect(v2.removed).toBe(3);
    const after = await blobNames(dir);
    expect(after).not.toContain(hex(a));
    expect(after).not.toContain(digestHex(v1.manifest));
    expect(after).toEqual(
      expect.arrayContaining([hex(shared), hex(c), hex(d), digestHex(pr.manifest), digestHex(v2.manifest)]),
    );
    expect(after).not.toContain(path.basename(stale));
    expect(after).toContain(path.basename(live));

    const index = parseIndex(await fsp.readFile(path.join(dir, 'index.json')));
    expect(index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'])).toEqual([
      'pr',
      'main',
    ]);
    const fresh = new BlobStore(await temp('fresh'));
    const prCache = await openLocalCache(dir, 'pr');
    for (const b of [shared, c]) {
      await prCache?.source.fetch(
        { mediaType: MediaType.ociLayerGzip, digest: b.digest, size: b.size },
        fresh,
      );
    }
    expect(await fresh.readAll(c.digest)).toEqual(c.data);
    expect((await openLocalCache(dir, 'main'))?.config.records.map((r) => r.description)).toEqual([
      'RUN step 4',
    ]);
  });

  it('stays near one build’s worth after twenty exports', async () => {
    const dir = await temp('layout');
    const noop = async (): Promise<void> => undefined;
    for (let build = 0; build < 20; build++) {
      const base = await putBlob(store, 'base layer, the same every build');
      const changed = await putBlob(store, `app layer of build ${build}`);
      await writeLocalCache(
        store,
        dir,
        'latest',
        cacheOf([record(1, base), record(2 + build, changed)]),
        noop,
      );
    }
    expect(await blobNames(dir)).toHaveLength(4); // 2 layers, config, manifest
  });

  it('keeps every blob of an image index stored under another tag', async () => {
    const dir = await temp('layout');
    const blobDir = path.join(dir, 'blobs', 'sha256');
    await fsp.mkdir(blobDir, { recursive: true });
    const put = async (data: string): Promise<Descriptor> => {
      const digest = sha256Digest(data);
      await fsp.writeFile(path.join(blobDir, digestHex(digest)), data);
      return { mediaType: 'application/octet-stream', digest, size: Buffer.byteLength(data) };
    };
    const imageConfig = await put(
      '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}',
    );
    const imageLayer = await put('an image layer');
    const manifest = await put(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { ...imageConfig, mediaType: MediaType.ociConfig },
        layers: [{ ...imageLayer, mediaType: MediaType.ociLayer }],
      }),
    );
    const multi = await put(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: [
          { ...manifest, mediaType: MediaType.ociManifest, platform: { os: 'linux', architecture: 'amd64' } },
        ],
      }),
    );
    const orphan = await put('referenced by nothing');
    await fsp.writeFile(
      path.join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            ...multi,
            mediaType: MediaType.ociIndex,
            annotations: { 'org.opencontainers.image.ref.name': 'app' },
          },
        ],
      }),
    );
    const layer = await putBlob(store, 'cache layer');
    const result = await writeLocalCache(
      store,
      dir,
      'cache',
      cacheOf([record(1, layer)]),
      async () => undefined,
    );
    expect(result.removed).toBe(1);
    const names = await blobNames(dir);
    for (const d of [imageConfig, imageLayer, manifest, multi]) expect(names).toContain(digestHex(d.digest));
    expect(names).not.toContain(digestHex(orphan.digest));
  });

  it('removes nothing while another tag names a kind of manifest it cannot walk', async () => {
    const dir = await temp('layout');
    const blobDir = path.join(dir, 'blobs', 'sha256');
    await fsp.mkdir(blobDir, { recursive: true });
    const foreign = '{"whatever":"refers to blobs in its own way"}';
    await fsp.writeFile(path.join(blobDir, digestHex(sha256Digest(foreign))), foreign);
    await fsp.writeFile(path.join(blobDir, 'e'.repeat(64)), 'maybe needed by the foreign manifest');
    await fsp.writeFile(
      path.join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.example.bundle.v1+json',
            digest: sha256Digest(foreign),
            size: foreign.length,
            annotations: { 'org.opencontainers.image.ref.name': 'bundle' },
          },
        ],
      }),
    );
    const layer = await putBlob(store, 'cache layer');
    const noop = async (): Promise<void> => undefined;
    await writeLocalCache(store, dir, 'cache', cacheOf([record(1, layer)]), noop);
    const result = await writeLocalCache(store, dir, 'cache', cacheOf([record(2)]), noop);
    expect(result.removed).toBe(0);
    expect(await blobNames(dir)).toContain('e'.repeat(64));
  });

  it('leaves the old cache readable when an export fails half way', async () => {
    const a = await putBlob(store, 'v1 layer');
    const dir = await temp('layout');
    await writeLocalCache(store, dir, 'latest', cacheOf([record(1, a)]), async () => undefined);
    const b = await putBlob(store, 'v2 layer b');
    const missing: Descriptor = {
      mediaType: MediaType.ociLayerGzip,
      digest: sha256Digest('never stored'),
      size: 12,
    };
    const v2 = cacheOf([
      record(2, b),
      { ...record(3), layer: { ...missing, diffId: sha256Digest('d'), mediaType: MediaType.ociLayerGzip } },
    ]);
    await expect(writeLocalCache(store, dir, 'latest', v2, async () => undefined)).rejects.toThrow(
      /not found/,
    );
    const loaded = await openLocalCache(dir, 'latest');
    expect(loaded?.config.records.map((r) => r.key)).toEqual([record(1).key]);
    // b was complete and sits under its name; the missing blob left neither a file nor a temp file.
    const names = await blobNames(dir);
    expect(names).toContain(hex(b));
    expect(names).not.toContain(digestHex(missing.digest));
    expect(names.every((n) => /^[a-f0-9]{64}$/.test(n))).toBe(true);
  });

  it('replaces a damaged index.json on export, removing nothing it cannot account for', async () => {
    const a = await putBlob(store, 'layer');
    const dir = await temp('layout');
    await fsp.mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    await fsp.writeFile(path.join(dir, 'blobs', 'sha256', 'f'.repeat(64)), 'someone else’s');
    await fsp.writeFile(path.join(dir, 'index.json'), '{"schemaVersion": 2, "manif');
    const result = await writeLocalCache(
      store,
      dir,
      'latest',
      cacheOf([record(1, a)]),
      async () => undefined,
    );
    expect(result.removed).toBe(0);
    expect(await blobNames(dir)).toContain('f'.repeat(64));
    expect((await openLocalCache(dir, 'latest'))?.config.records).toHaveLength(1);
  });

  it('is readable by skopeo (oci:DIR:TAG)', async () => {
    requireTool('skopeo');
    const dir = await temp('layout');
    const a = await putBlob(store, 'layer for skopeo');
    const main = await writeLocalCache(store, dir, 'main', cacheOf([record(1, a)]), async () => undefined);
    const other = await writeLocalCache(store, dir, 'other', cacheOf([record(2, a)]), async () => undefined);
    for (const [tag, written] of [
      ['main', main],
      ['other', other],
    ] as const) {
      const raw = await run('skopeo', ['inspect', '--raw', `oci:${dir}:${tag}`]);
      expect(sha256Digest(raw)).toBe(written.manifest);
      expect(parseManifest(raw).config.mediaType).toBe(CACHE_CONFIG_MEDIA_TYPE);
    }
  });

  it('reads an image that carries an inline cache', async () => {
    const dir = await temp('layout');
    const blobDir = path.join(dir, 'blobs', 'sha256');
    await fsp.mkdir(blobDir, { recursive: true });
    const config = cacheOf([record(1)]);
    const imageConfig = '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}';
    await fsp.writeFile(path.join(blobDir, digestHex(sha256Digest(imageConfig))), imageConfig);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: sha256Digest(imageConfig), size: imageConfig.length },
      layers: [],
      annotations: { [INLINE_CACHE_ANNOTATION]: serializeCacheConfig(config) },
    });
    await fsp.writeFile(path.join(blobDir, digestHex(sha256Digest(manifest))), manifest);
    await fsp.writeFile(
      path.join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: MediaType.ociManifest,
            digest: sha256Digest(manifest),
            size: manifest.length,
            annotations: { 'org.opencontainers.image.ref.name': 'app' },
          },
        ],
      }),
    );
    expect((await openLocalCache(dir, 'app'))?.config).toEqual(config);
  });
});

describe('openLocalCache on missing or damaged directories', () => {
  let store: BlobStore;
  let dir: string;
  let layer: Blob;
  let manifestDigest: Digest;
  beforeEach(async () => {
    store = new BlobStore(await temp('store'));
    dir = await temp('layout');
    layer = await putBlob(store, 'a layer');
    manifestDigest = (
      await writeLocalCache(store, dir, 'latest', cacheOf([record(1, layer)]), async () => undefined)
    ).manifest;
  });

  const blobFile = (digest: Digest): string => path.join(dir, 'blobs', 'sha256', digestHex(digest));
  const configDigest = async (): Promise<Digest> =>
    parseManifest(await fsp.readFile(blobFile(manifestDigest))).config.digest;

  it('is undefined when the directory, its index or the tag is not there (a first CI run)', async () => {
    expect(await openLocalCache(path.join(dir, 'nope'), 'latest')).toBeUndefined();
    expect(await openLocalCache(dir, 'other-tag')).toBeUndefined();
    const empty = await temp('empty');
    expect(await openLocalCache(empty, 'latest')).toBeUndefined();
  });

  it('rejects a damaged config blob', async () => {
    const file = blobFile(await configDigest());
    await fsp.writeFile(file, (await fsp.readFile(file, 'utf8')).replace('RUN step 1', 'RUN step 2'));
    await expect(openLocalCache(dir, 'latest')).rejects.toThrow(CacheFormatError);
    await expect(openLocalCache(dir, 'latest')).rejects.toThrow(/the config blob sha256:\w+ is damaged/);
  });

  it('rejects a config that is not a tsbuild cache config', async () => {
    // Consistent digests, wrong content: the layout was rewritten by something else.
    const bogus = '{"version":7}';
    const digest = sha256Digest(bogus);
    await fsp.writeFile(blobFile(digest), bogus);
    const manifest = JSON.parse(await fsp.readFile(blobFile(manifestDigest), 'utf8')) as {
      config: { digest: string; size: number };
    };
    manifest.config = { ...manifest.config, digest, size: bogus.length };
    const bytes = JSON.stringify(manifest);
    await fsp.writeFile(blobFile(sha256Digest(bytes)), bytes);
    const index = JSON.parse(await fsp.readFile(path.join(dir, 'index.json'), 'utf8')) as {
      manifests: { digest: string; size: number }[];
    };
    index.manifests = index.manifests.map((m) => ({ ...m, digest: sha256Digest(bytes), size: bytes.length }));
    await fsp.writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
    await expect(openLocalCache(dir, 'latest')).rejects.toThrow(/not a tsbuild cache \(version 1\) config/);
  });

  it('rejects a damaged manifest, a missing config and a damaged index', async () => {
    await fsp.rm(blobFile(await configDigest()));
    await expect(openLocalCache(dir, 'latest')).rejects.toThrow(/the config blob sha256:\w+ is missing/);
    await fsp.writeFile(blobFile(manifestDigest), '{}');
    await expect(openLocalCache(dir, 'latest')).rejects.toThrow(/the manifest blob sha256:\w+ is damaged/);
    await fsp.writeFile(path.join(dir, 'index.json'), 'not json');
    await expect(openLocalCache(dir, 'latest')).rejects.toThrow(CacheFormatError);
    await expect(openLocalCache(dir, 'latest')).rejects.toThrow(/index.json is damaged/);
  });

  it('fails a fetch of a missing or damaged blob and stores nothing', async () => {
    const loaded = await openLocalCache(dir, 'latest');
    const desc: Descriptor = { mediaType: MediaType.ociLayerGzip, digest: layer.digest, size: layer.size };
    const fresh = new BlobStore(await temp('fresh'));
    await fsp.writeFile(blobFile(layer.digest), 'b layer'); // same size, other bytes
    await expect(loaded?.source.fetch(desc, fresh)).rejects.toThrow(/blob sha256:\w+ is damaged/);
    expect(await fresh.has(layer.digest)).toBe(false);
    await fsp.rm(blobFile(layer.digest));
    await expect(loaded?.source.fetch(desc, fresh)).rejects.toThrow(CacheFormatError);
    await expect(loaded?.source.fetch(desc, fresh)).rejects.toThrow(/blob sha256:\w+ is missing/);
  });

  it('says so when the path is a file, not a directory', async () => {
    const file = path.join(dir, 'oci-layout');
    await expect(openLocalCache(file, 'latest')).rejects.toThrow(/is not a directory/);
  });
});
