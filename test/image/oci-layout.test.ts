import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { atomicWriteStream } from '../../src/store/atomic';
import { BlobStore } from '../../src/store/blob-store';
import { CorruptBlobError } from '../../src/store/errors';
import { ImageFormatError } from '../../src/image/errors';
import { assembleImage } from '../../src/image/assemble';
import { ociLayoutTar, writeOciLayout } from '../../src/image/oci-layout';
import { Annotation, parseIndex, parseManifest } from '../../src/image/oci-types';
import { collect, sha256 } from '../layers/support/tar-helpers';
import { buildTestImage, type TestImage } from './support/test-image';
import { requireTool, run } from './support/tools';

let tmp: string;
let store: BlobStore;
let image: TestImage;

beforeAll(() => {
  requireTool('skopeo');
  requireTool('umoci');
});

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-layout-'));
  store = new BlobStore(path.join(tmp, 'store'));
  image = await buildTestImage(store);
});

afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

interface SkopeoInspect {
  Digest: string;
  Layers: string[];
  Labels: Record<string, string>;
  Env: string[];
  Created: string;
}

describe('OCI layout', () => {
  it('writes a layout skopeo inspects by tag', async () => {
    const dir = path.join(tmp, 'layout');
    await writeOciLayout(store, dir, [{ manifest: image.manifest, refName: 'latest' }]);
    expect(await fsp.readFile(path.join(dir, 'oci-layout'), 'utf8')).toBe('{"imageLayoutVersion":"1.0.0"}');
    const index = parseIndex(await fsp.readFile(path.join(dir, 'index.json')));
    expect(index.manifests).toEqual([{ ...image.manifest, annotations: { [Annotation.refName]: 'latest' } }]);

    const info = JSON.parse(await run('skopeo', ['inspect', `oci:${dir}:latest`])) as SkopeoInspect;
    expect(info.Digest).toBe(image.manifest.digest);
    expect(info.Layers).toEqual(image.layers.map((l) => l.digest));
    expect(info.Labels).toEqual({ 'org.example.test': 'yes' });
    expect(info.Created).toBe('2023-11-14T22:13:20Z');
    const rawConfig = await run('skopeo', ['inspect', '--config', '--raw', `oci:${dir}:latest`]);
    expect(sha256(Buffer.from(rawConfig))).toBe(image.config.digest);
  });

  it('umoci unpacks it with the right files, modes, owners, whiteouts and opaque dirs', async () => {
    const dir = path.join(tmp, 'layout');
    await writeOciLayout(store, dir, [{ manifest: image.manifest, refName: 'v1' }]);
    const bundle = path.join(tmp, 'bundle');
    await run('umoci', ['unpack', '--image', `${dir}:v1`, bundle]);
    const rootfs = path.join(bundle, 'rootfs');
    const st = (p: string) => fsp.lstat(path.join(rootfs, p));
    expect(await fsp.readFile(path.join(rootfs, 'bin/hello'), 'utf8')).toBe('#!/bin/sh\necho hello\n');
    expect((await st('bin/hello')).mode & 0o7777).toBe(0o755);
    await expect(st('bin/hello2')).rejects.toThrow(/ENOENT/); // whiteout in layer 2
    expect(await fsp.readlink(path.join(rootfs, 'etc/link'))).toBe('hostname');
    const motd = await st('etc/motd');
    expect([motd.mode & 0o7777, motd.uid, motd.gid]).toEqual([0o600, 1000, 2000]);
    const app = await st('home/app');
    expect([app.mode & 0o7777, app.uid, app.gid]).toEqual([0o750, 1000, 1000]);
    expect((await fsp.readdir(path.join(rootfs, 'home/app'))).sort()).toEqual(['new']); // opaque
    expect((await st('etc/hostname')).mtimeMs).toBe(1700000000 * 1000);
    const config = JSON.parse(await fsp.readFile(path.join(bundle, 'config.json'), 'utf8')) as {
      process: { args: string[]; cwd: string };
    };
    expect(config.process.args).toEqual(['/bin/hello']);
    expect(config.process.cwd).toBe('/home/app');
  });

  it('carries zstd layers that skopeo copies with digest verification', async () => {
    const zimage = await buildTestImage(store, ['zstd', 'zstd']);
    const dir = path.join(tmp, 'layout');
    await writeOciLayout(store, dir, [{ manifest: zimage.manifest, refName: 'zstd' }]);
    const raw = parseManifest(await run('skopeo', ['inspect', '--raw', `oci:${dir}:zstd`]));
    expect(raw.layers.map((l) => l.mediaType)).toEqual([
      'application/vnd.oci.image.layer.v1.tar+zstd',
      'application/vnd.oci.image.layer.v1.tar+zstd',
    ]);
    await run('skopeo', ['copy', `oci:${dir}:zstd`, `oci:${path.join(tmp, 'copy')}:zstd`]);
  });

  it('adds images to an existing layout and replaces one with the same ref.name', async () => {
    const dir = path.join(tmp, 'layout');
    const other = await buildTestImage(store, ['none', 'gzip']);
    await writeOciLayout(store, dir, [{ manifest: image.manifest, refName: 'a' }]);
    await writeOciLayout(store, dir, [
      { manifest: other.manifest, refName: 'b', imageName: 'docker.io/x/y:b' },
    ]);
    await writeOciLayout(store, dir, [{ manifest: other.manifest, refName: 'a' }]);
    const index = parseIndex(await fsp.readFile(path.join(dir, 'index.json')));
    expect(index.manifests.map((m) => [m.annotations?.[Annotation.refName], m.digest])).toEqual([
      ['b', other.manifest.digest],
      ['a', other.manifest.digest],
    ]);
    expect(index.manifests[0]?.annotations?.[Annotation.containerdImageName]).toBe('docker.io/x/y:b');
    const info = JSON.parse(await run('skopeo', ['inspect', `oci:${dir}:a`])) as SkopeoInspect;
    expect(info.Digest).toBe(other.manifest.digest);
  });

  it('writes a deterministic oci-archive tar that skopeo reads', async () => {
    const a = path.join(tmp, 'a.tar');
    const b = path.join(tmp, 'b.tar');
    await atomicWriteStream(a, ociLayoutTar(store, [{ manifest: image.manifest, refName: 'latest' }]));
    const otherStore = new BlobStore(path.join(tmp, 'store2'));
    const again = await buildTestImage(otherStore);
    await atomicWriteStream(b, ociLayoutTar(otherStore, [{ manifest: again.manifest, refName: 'latest' }]));
    expect(sha256(await fsp.readFile(a))).toBe(sha256(await fsp.readFile(b)));
    const info = JSON.parse(await run('skopeo', ['inspect', `oci-archive:${a}:latest`])) as SkopeoInspect;
    expect(info.Digest).toBe(image.manifest.digest);
  });

  it('fails with a typed error when a blob in the store is corrupt', async () => {
    const layerPath = store.blobPath(image.layers[0]?.digest ?? 'sha256:x');
    await fsp.chmod(layerPath, 0o644);
    const bytes = await fsp.readFile(layerPath);
    bytes[bytes.length - 1] ^= 0xff;
    await fsp.writeFile(layerPath, bytes);
    await expect(
      writeOciLayout(store, path.join(tmp, 'layout'), [{ manifest: image.manifest, refName: 'x' }]),
    ).rejects.toThrow(CorruptBlobError);
    await expect(collect(ociLayoutTar(store, [{ manifest: image.manifest }]))).rejects.toThrow(
      CorruptBlobError,
    );
  });
});

describe('assembleImage', () => {
  it('refuses configs whose diff_ids do not match the layers, and layers not in the store', async () => {
    const config = parseManifest(await store.readAll(image.manifest.digest));
    const cfg = {
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers' as const, diff_ids: [image.diffIds[0] as `sha256:${string}`] },
    };
    await expect(assembleImage(store, cfg, config.layers)).rejects.toThrow(ImageFormatError);
    const missing = {
      ...config.layers[0],
      digest: `sha256:${'0'.repeat(64)}` as const,
      size: 1,
      mediaType: 'x',
    };
    await expect(assembleImage(store, cfg, [missing])).rejects.toThrow(/not in the store/);
  });
});
