/**
 * pullImage against a real registry (Debian's docker-registry) seeded by skopeo: OCI and Docker v2
 * manifests, gzip and zstd layers, a two-platform index; re-pulls and digest-pinned pulls.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../../src/store/blob-store';
import type { Digest } from '../../../src/store/digest';
import { ImageStore } from '../../../src/image/image-store';
import { MediaType, parseImageConfig, parseManifest } from '../../../src/image/oci-types';
import { RegistryClient } from '../../../src/image/registry/client';
import { ManifestUnknownError, RegistryError } from '../../../src/image/registry/errors';
import { pullImage } from '../../../src/image/registry/pull';
import { decompressLayer } from '../../../src/layers/compress';
import { readTar } from '../../../src/layers/tar-reader';
import { busyboxLayout, startRegistry, tempDir, type TestRegistry } from '../../helpers/registry';
import { makeMultiArchLayout, seedRegistry } from './support';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64' };

let registry: TestRegistry;
let work: string;
let root: string;
const client = (): RegistryClient => RegistryClient.anonymous({ retry: { baseDelayMs: 10 } });

beforeAll(async () => {
  registry = await startRegistry();
  work = await tempDir('pull');
  const busybox = await busyboxLayout();
  const multi = path.join(work, 'multi-layout');
  await makeMultiArchLayout(busybox, multi);
  await seedRegistry(registry.host, busybox, multi);
});

const temps: string[] = [];

afterAll(async () => {
  await registry?.stop();
  for (const dir of [work, ...temps]) if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  root = await tempDir('pull-root');
  temps.push(root);
});

async function layerPaths(store: BlobStore, digest: Digest): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of readTar(decompressLayer(store.open(digest)))) {
    names.push(entry.header.path);
    for await (const chunk of entry.body) void chunk;
  }
  return names;
}

describe('pullImage', () => {
  it('pulls an OCI image, stores verified blobs and tags the manifest', async () => {
    const result = await pullImage(root, `${registry.host}/busybox`, AMD64, { client: client() });
    expect(result.name).toBe(`${registry.host}/busybox:latest`);
    expect(result.manifest.mediaType).toBe(MediaType.ociManifest);
    expect(result.digest).toBe(result.manifest.digest);
    expect(result.downloaded).toBe(3); // manifest, config, one layer
    const store = new BlobStore(root);
    const manifest = parseManifest(await store.readAll(result.manifest.digest));
    for (const blob of [manifest.config, ...manifest.layers]) await store.verify(blob.digest);
    expect(parseImageConfig(await store.readAll(manifest.config.digest)).config.Cmd).toEqual(['sh']);
    expect(await layerPaths(store, (manifest.layers[0] as { digest: Digest }).digest)).toContain(
      'bin/busybox',
    );
    const record = await new ImageStore(root).resolve(`${registry.host}/busybox:latest`);
    expect(record?.target.digest).toBe(result.manifest.digest);
  });

  it('pulls a Docker v2 schema 2 image', async () => {
    const result = await pullImage(root, `${registry.host}/busybox-v2:latest`, AMD64, { client: client() });
    expect(result.manifest.mediaType).toBe(MediaType.dockerManifest);
    const manifest = parseManifest(await new BlobStore(root).readAll(result.manifest.digest));
    expect(manifest.config.mediaType).toBe(MediaType.dockerConfig);
    expect(manifest.layers[0]?.mediaType).toBe(MediaType.dockerLayerGzip);
  });

  it('pulls zstd layers as they are', async () => {
    const result = await pullImage(root, `${registry.host}/busybox-zstd:latest`, AMD64, { client: client() });
    const store = new BlobStore(root);
    const manifest = parseManifest(await store.readAll(result.manifest.digest));
    const layer = manifest.layers[0] as { digest: Digest; mediaType: string };
    expect(layer.mediaType).toBe(MediaType.ociLayerZstd);
    expect(await layerPaths(store, layer.digest)).toContain('bin/busybox');
  });

  it('picks the platform from a multi-platform index and tags that manifest', async () => {
    const arm = await pullImage(root, `${registry.host}/multi:latest`, ARM64, { client: client() });
    expect(arm.digest).not.toBe(arm.manifest.digest); // the index digest vs the arm64 manifest
    expect(arm.manifest.platform).toEqual(ARM64);
    const store = new BlobStore(root);
    const config = parseImageConfig(
      await store.readAll(parseManifest(await store.readAll(arm.manifest.digest)).config.digest),
    );
    expect(config.architecture).toBe('arm64');
    const amd = await pullImage(root, `${registry.host}/multi:latest`, AMD64, { client: client() });
    expect(amd.digest).toBe(arm.digest);
    expect(amd.manifest.digest).not.toBe(arm.manifest.digest);
    expect(amd.downloaded).toBe(2); // its manifest and config; the layer is shared
    expect((await new ImageStore(root).resolve(`${registry.host}/multi`))?.target.digest).toBe(
      amd.manifest.digest,
    );
  });

  it('says which platforms an index has when the wanted one is missing', async () => {
    const err = await pullImage(
      root,
      `${registry.host}/multi:latest`,
      { os: 'linux', architecture: 's390x' },
      {
        client: client(),
      },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toBe(
      `${registry.host}/multi:latest has no image for linux/s390x (it has linux/amd64, linux/arm64)`,
    );
  });

  it('re-pulling a tag costs one HEAD when nothing changed', async () => {
    await pullImage(root, `${registry.host}/busybox:latest`, AMD64, { client: client() });
    const before = (await registry.requests()).length;
    const again = await pullImage(root, `${registry.host}/busybox:latest`, AMD64, { client: client() });
    expect(again.downloaded).toBe(0);
    const after = (await registry.requests()).slice(before);
    expect(after).toEqual([`HEAD /v2/busybox/manifests/latest`]);
  });

  it('a digest-pinned pull of a complete image does not touch the network', async () => {
    const first = await pullImage(root, `${registry.host}/multi:latest`, AMD64, { client: client() });
    const before = (await registry.requests()).length;
    const pinned = await pullImage(root, `${registry.host}/multi@${first.digest}`, AMD64, {
      client: client(),
    });
    expect(pinned.offline).toBe(true);
    expect(pinned.manifest.digest).toBe(first.manifest.digest);
    await new Promise((r) => setTimeout(r, 100)); // the access log is written asynchronously
    expect((await registry.requests()).length).toBe(before);
  });

  it('a digest-pinned pull verifies what it gets against the digest', async () => {
    const first = await pullImage(root, `${registry.host}/busybox:latest`, AMD64, { client: client() });
    const other = await tempDir('pull-root2');
    temps.push(other);
    const pinned = await pullImage(other, `${registry.host}/busybox@${first.digest}`, AMD64, {
      client: client(),
    });
    expect(pinned.offline).toBe(false);
    expect(pinned.manifest.digest).toBe(first.digest);
    expect(await new ImageStore(other).list()).toEqual([]); // a bare digest pull adds no tag
  });

  it('fails with "manifest unknown" for a missing tag or repository', async () => {
    await expect(
      pullImage(root, `${registry.host}/busybox:nope`, AMD64, { client: client() }),
    ).rejects.toThrow(new ManifestUnknownError(`${registry.host}/busybox:nope`));
    await expect(
      pullImage(root, `${registry.host}/nothing/here`, AMD64, { client: client() }),
    ).rejects.toThrow(`manifest unknown: ${registry.host}/nothing/here:latest`);
  });
});
