/**
 * loadArchive with archives from our own writers and from skopeo (OCI archives and docker archives),
 * compressed archives, symlinked layers, and broken archives that must leave nothing unverified behind.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { BlobStore } from '../../../src/store/blob-store';
import type { Digest } from '../../../src/store/digest';
import { DigestMismatchError } from '../../../src/store/errors';
import { writeDockerArchive } from '../../../src/image/docker-archive';
import { ImageFormatError } from '../../../src/image/errors';
import { ImageStore } from '../../../src/image/image-store';
import { loadArchive } from '../../../src/image/import/load';
import { ociLayoutTar } from '../../../src/image/oci-layout';
import { MediaType, parseImageConfig, parseManifest } from '../../../src/image/oci-types';
import { createLayerTar, type LayerEntry } from '../../../src/layers/tar-writer';
import { busyboxLayout, requireTool, run, sha256, tempDir } from '../../helpers/registry';
import { buildTestImage, type TestImage } from '../support/test-image';

let tmp: string;
let source: BlobStore;
let image: TestImage;
let root: string;

beforeAll(() => {
  requireTool('skopeo');
});

beforeEach(async () => {
  tmp = await tempDir('load');
  source = new BlobStore(path.join(tmp, 'source'));
  image = await buildTestImage(source);
  root = path.join(tmp, 'root');
});

afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function tar(entries: LayerEntry[]): Readable {
  return createLayerTar(entries);
}

async function expectConsistent(store: BlobStore): Promise<void> {
  for (const d of await store.list()) await store.verify(d);
  expect(await fsp.readdir(path.join(store.root, 'tmp')).catch(() => [])).toEqual([]);
}

describe('loadArchive: OCI layouts', () => {
  it('round-trips our own OCI archive, names and digests intact', async () => {
    const archive = ociLayoutTar(source, [
      { manifest: image.manifest, refName: 'v1', imageName: 'docker.io/library/app:v1' },
    ]);
    const result = await loadArchive(root, archive);
    expect(result.format).toBe('oci');
    expect(result.images).toEqual([{ manifest: image.manifest, names: ['docker.io/library/app:v1'] }]);
    expect((await new ImageStore(root).resolve('app:v1'))?.target.digest).toBe(image.manifest.digest);
    await expectConsistent(new BlobStore(root));
  });

  it('reads skopeo oci-archives: a full ref name names the image, a bare tag does not', async () => {
    const busybox = await busyboxLayout();
    const named = path.join(tmp, 'named.tar');
    const bare = path.join(tmp, 'bare.tar');
    await run('skopeo', [
      'copy',
      '--quiet',
      `oci:${busybox}:latest`,
      `oci-archive:${named}:team/busybox:1.36`,
    ]);
    await run('skopeo', ['copy', '--quiet', `oci:${busybox}:latest`, `oci-archive:${bare}:latest`]);
    const first = await loadArchive(root, createReadStream(named));
    expect(first.images[0]?.names).toEqual(['docker.io/team/busybox:1.36']);
    const second = await loadArchive(root, createReadStream(bare));
    expect(second.images[0]?.names).toEqual([]);
    expect(second.images[0]?.refName).toBe('latest');
    const third = await loadArchive(root, createReadStream(bare), { tag: 'busybox:mine' });
    expect(third.images[0]?.names).toEqual(['docker.io/library/busybox:mine']);
    expect((await new ImageStore(root).resolve('busybox:mine'))?.target.digest).toBe(
      first.images[0]?.manifest.digest,
    );
  });

  it('refuses a blob that does not match its name, and keeps nothing of it', async () => {
    const good = await collect(ociLayoutTar(source, [{ manifest: image.manifest, refName: 'x' }]));
    const layerHex = (image.layers[0]?.digest as string).slice(7);
    // Flip one byte inside the first layer's data (just after its 512-byte header).
    const at = good.indexOf(Buffer.from(`blobs/sha256/${layerHex}`)) + 512;
    const bad = Buffer.from(good);
    bad[at] = (bad[at] as number) ^ 0xff;
    await expect(loadArchive(root, Readable.from([bad]))).rejects.toThrow(DigestMismatchError);
    const store = new BlobStore(root);
    expect(await store.has(image.layers[0]?.digest as Digest)).toBe(false);
    expect(await new ImageStore(root).list()).toEqual([]);
    await expectConsistent(store);
  });

  it('refuses a layout that lacks a blob its image needs', async () => {
    const manifestBytes = await source.readAll(image.manifest.digest);
    const archive = tar([
      { type: 'file', path: 'oci-layout', content: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
      {
        type: 'file',
        path: 'index.json',
        content: Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [image.manifest] })),
      },
      { type: 'file', path: `blobs/sha256/${image.manifest.digest.slice(7)}`, content: manifestBytes },
    ]);
    await expect(loadArchive(root, archive)).rejects.toThrow(
      `the archive lacks blob ${image.config.digest}, which image ${image.manifest.digest} references`,
    );
    expect(await new ImageStore(root).list()).toEqual([]);
  });
});

describe('loadArchive: docker archives', () => {
  it('round-trips our docker archive: uncompressed layers stored as they are, image id kept', async () => {
    const file = path.join(tmp, 'app.tar');
    await writeDockerArchive(source, [{ manifest: image.manifest, tags: ['app:1', 'team/app:2'] }], file);
    const result = await loadArchive(root, createReadStream(file));
    expect(result.format).toBe('docker');
    const [loaded] = result.images;
    expect(loaded?.names).toEqual(['docker.io/library/app:1', 'docker.io/team/app:2']);
    expect(loaded?.manifest.mediaType).toBe(MediaType.dockerManifest);
    const store = new BlobStore(root);
    const manifest = parseManifest(await store.readAll(loaded?.manifest.digest as Digest));
    expect(manifest.config.digest).toBe(image.config.digest); // the image id survives
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([MediaType.dockerLayer, MediaType.dockerLayer]);
    expect(manifest.layers.map((l) => l.digest)).toEqual(image.diffIds);
    await expectConsistent(store);
  });

  it('reads skopeo docker-archives, gzip-compressed too', async () => {
    const busybox = await busyboxLayout();
    const file = path.join(tmp, 'busybox.tar');
    await run('skopeo', ['copy', '--quiet', `oci:${busybox}:latest`, `docker-archive:${file}:busybox:1.36`]);
    execFileSync('gzip', ['-k', file]);
    for (const f of [file, `${file}.gz`]) {
      const result = await loadArchive(root, createReadStream(f));
      expect(result.format).toBe('docker');
      expect(result.images[0]?.names).toEqual(['docker.io/library/busybox:1.36']);
    }
    const record = await new ImageStore(root).resolve('busybox:1.36');
    const store = new BlobStore(root);
    const manifest = parseManifest(await store.readAll(record?.target.digest as Digest));
    const config = parseImageConfig(await store.readAll(manifest.config.digest));
    expect(config.config.Cmd).toEqual(['sh']);
  });

  it('follows symlinked layer files (docker save shares identical layers that way)', async () => {
    const layerTar = await collect(createLayerTar([{ type: 'file', path: 'a', content: Buffer.from('a') }]));
    const diffId = sha256(layerTar) as Digest;
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: [diffId, diffId] },
      }),
    );
    const archive = tar([
      { type: 'file', path: 'one/layer.tar', content: layerTar },
      { type: 'symlink', path: 'two/layer.tar', target: '../one/layer.tar' },
      { type: 'file', path: 'config.json', content: config },
      {
        type: 'file',
        path: 'manifest.json',
        content: Buffer.from(
          JSON.stringify([
            { Config: 'config.json', RepoTags: null, Layers: ['one/layer.tar', 'two/layer.tar'] },
          ]),
        ),
      },
    ]);
    const result = await loadArchive(root, archive, { tag: 'shared:1' });
    expect(result.images[0]?.names).toEqual(['docker.io/library/shared:1']);
    const manifest = parseManifest(
      await new BlobStore(root).readAll(result.images[0]?.manifest.digest as Digest),
    );
    expect(manifest.layers.map((l) => l.digest)).toEqual([diffId, diffId]);
  });

  it('refuses a layer that is not what the config says', async () => {
    const layerTar = await collect(createLayerTar([{ type: 'file', path: 'a', content: Buffer.from('a') }]));
    const wrong = `sha256:${'2'.repeat(64)}`;
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: [wrong] },
      }),
    );
    const archive = tar([
      { type: 'file', path: 'l.tar', content: layerTar },
      { type: 'file', path: 'c.json', content: config },
      {
        type: 'file',
        path: 'manifest.json',
        content: Buffer.from(JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l.tar'] }])),
      },
    ]);
    await expect(loadArchive(root, archive)).rejects.toThrow(
      `image 1 of the archive (x:1): layer l.tar has content ${sha256(layerTar)}, but its config says ${wrong}`,
    );
    expect(await new ImageStore(root).list()).toEqual([]);
  });
});

describe('loadArchive: other input', () => {
  it('says what it expected from a tar that is no image archive', async () => {
    const err = await loadArchive(
      root,
      tar([{ type: 'file', path: 'README', content: Buffer.from('hi') }]),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageFormatError);
    expect((err as Error).message).toBe(
      'not an image archive: expected an OCI layout (oci-layout, index.json) or a docker save archive (manifest.json)',
    );
  });
});
