import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlobStore } from '../../src/store/blob-store';
import { ImageFormatError } from '../../src/image/errors';
import { assembleImage } from '../../src/image/assemble';
import { dockerArchiveTar, writeDockerArchive } from '../../src/image/docker-archive';
import { parseImageConfig, parseManifest } from '../../src/image/oci-types';
import { collect, sha256 } from '../layers/support/tar-helpers';
import { buildTestImage, type TestImage } from './support/test-image';
import { requireTool, run } from './support/tools';

let tmp: string;
let store: BlobStore;
let image: TestImage;

beforeAll(() => {
  requireTool('podman');
});

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-darchive-'));
  store = new BlobStore(path.join(tmp, 'store'));
  image = await buildTestImage(store, ['gzip', 'gzip'], 'docker');
});

afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

function extract(tarPath: string, dir: string): void {
  execFileSync('tar', ['-xf', tarPath, '-C', dir]);
}

/** podman with its own storage in the test's temp dir: no shared state, no daemon. */
function podman(...args: string[]): Promise<string> {
  return run('podman', [
    '--root',
    path.join(tmp, 'podman-root'),
    '--runroot',
    path.join(tmp, 'podman-run'),
    '--storage-driver',
    'vfs',
    ...args,
  ]);
}

describe('docker archive', () => {
  it('has manifest.json, repositories, the config and uncompressed layers named by diff_id', async () => {
    const out = path.join(tmp, 'image.tar');
    await writeDockerArchive(
      store,
      [{ manifest: image.manifest, tags: ['tsbuild-test', 'team/app:v2'] }],
      out,
    );
    const dir = path.join(tmp, 'x');
    await fsp.mkdir(dir);
    extract(out, dir);
    const cfgHex = image.config.digest.slice(7);
    const layerFiles = image.diffIds.map((d) => `${d.slice(7)}/layer.tar`);
    expect(JSON.parse(await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8'))).toEqual([
      {
        Config: `${cfgHex}.json`,
        RepoTags: ['docker.io/library/tsbuild-test:latest', 'docker.io/team/app:v2'],
        Layers: layerFiles,
      },
    ]);
    expect(JSON.parse(await fsp.readFile(path.join(dir, 'repositories'), 'utf8'))).toEqual({
      'tsbuild-test': { latest: image.diffIds[1]?.slice(7) },
      'team/app': { v2: image.diffIds[1]?.slice(7) },
    });
    expect(sha256(await fsp.readFile(path.join(dir, `${cfgHex}.json`)))).toBe(image.config.digest);
    for (const [i, f] of layerFiles.entries()) {
      expect(sha256(await fsp.readFile(path.join(dir, f)))).toBe(image.diffIds[i]);
    }
  });

  it('is deterministic', async () => {
    const a = await collect(dockerArchiveTar(store, [{ manifest: image.manifest, tags: ['x'] }]));
    const otherStore = new BlobStore(path.join(tmp, 'store2'));
    const again = await buildTestImage(otherStore, ['gzip', 'gzip'], 'docker');
    const b = await collect(dockerArchiveTar(otherStore, [{ manifest: again.manifest, tags: ['x'] }]));
    expect(sha256(a)).toBe(sha256(b));
  });

  it('podman load accepts it: names, image ID, layers and the unpacked filesystem match', async () => {
    const out = path.join(tmp, 'image.tar');
    await writeDockerArchive(
      store,
      [{ manifest: image.manifest, tags: ['tsbuild-test:latest', 'tsbuild-test:v2'] }],
      out,
    );
    const loaded = await podman('load', '-i', out);
    expect(loaded).toContain('docker.io/library/tsbuild-test:latest');
    expect(loaded).toContain('docker.io/library/tsbuild-test:v2');
    const inspect = JSON.parse(await podman('image', 'inspect', 'docker.io/library/tsbuild-test:v2')) as {
      Id: string;
      RootFS: { Layers: string[] };
      Config: { Cmd: string[]; WorkingDir: string };
    }[];
    expect(inspect[0]?.Id).toBe(image.config.digest.slice(7));
    expect(inspect[0]?.RootFS.Layers).toEqual(image.diffIds);
    expect(inspect[0]?.Config.Cmd).toEqual(['/bin/hello']);

    // podman applied the layers itself: export a (never started) container's filesystem and look.
    await podman('create', '--name', 'c1', 'docker.io/library/tsbuild-test:latest');
    const fsTar = path.join(tmp, 'fs.tar');
    await podman('export', '-o', fsTar, 'c1');
    const listing = execFileSync('tar', ['--numeric-owner', '-tvf', fsTar], { encoding: 'utf8' });
    expect(listing).toMatch(/-rwxr-xr-x 0\/0 +21 .* bin\/hello\n/);
    expect(listing).not.toContain('bin/hello2');
    expect(listing).toMatch(/-rw------- 1000\/2000 .* etc\/motd/);
    expect(listing).toMatch(/drwxr-x--- 1000\/1000 .* home\/app\//);
    expect(listing).toContain('home/app/new');
    expect(listing).not.toContain('home/app/data');
  });

  it('converts zstd OCI layers to uncompressed tars podman loads', async () => {
    const zimage = await buildTestImage(store, ['zstd', 'none']);
    const out = path.join(tmp, 'z.tar');
    await writeDockerArchive(store, [{ manifest: zimage.manifest, tags: ['zstd-test:1'] }], out);
    await podman('load', '-i', out);
    const inspect = JSON.parse(await podman('image', 'inspect', 'docker.io/library/zstd-test:1')) as {
      RootFS: { Layers: string[] };
    }[];
    expect(inspect[0]?.RootFS.Layers).toEqual(zimage.diffIds);
  });

  it('refuses a layer that does not decompress to its diff_id', async () => {
    const manifest = parseManifest(await store.readAll(image.manifest.digest));
    const config = parseImageConfig(await store.readAll(image.config.digest));
    config.rootfs.diff_ids = [...config.rootfs.diff_ids].reverse();
    const bad = await assembleImage(store, config, manifest.layers, { flavour: 'docker' });
    await expect(collect(dockerArchiveTar(store, [{ manifest: bad.manifest, tags: [] }]))).rejects.toThrow(
      ImageFormatError,
    );
    await expect(
      collect(dockerArchiveTar(store, [{ manifest: image.manifest, tags: ['a@sha256:' + 'a'.repeat(64)] }])),
    ).rejects.toThrow();
  });
});
