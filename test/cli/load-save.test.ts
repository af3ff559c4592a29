/**
 * `tsbuild save` and `tsbuild load` through the compiled CLI, checked with skopeo and podman: what we save
 * is what other tools load, and what they save we load.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../src/store/blob-store';
import { ImageStore } from '../../src/image/image-store';
import { loadArchive } from '../../src/image/import/load';
import { MediaType, parseManifest } from '../../src/image/oci-types';
import { buildCli, busyboxLayout, requireTool, run, tempDir, tsbuild } from '../helpers/registry';
import { buildTestImage, type TestImage } from '../image/support/test-image';

let tmp: string;
let root: string;
let image: TestImage;

beforeAll(() => {
  requireTool('skopeo');
  requireTool('podman');
  buildCli();
}, 300_000);

beforeEach(async () => {
  tmp = await tempDir('cli-save');
  root = path.join(tmp, 'root');
  image = await buildTestImage(new BlobStore(root));
  await new ImageStore(root).tag('app:1', image.manifest);
});

afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

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

describe('tsbuild save', () => {
  it('writes a docker archive that podman loads, image id intact', async () => {
    const out = path.join(tmp, 'app.tar');
    const r = await tsbuild(['save', 'app:1', '-o', out, '--root', root]);
    expect(r).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(await podman('load', '-q', '-i', out)).toContain('docker.io/library/app:1');
    const id = (await podman('image', 'inspect', '--format', '{{.Id}}', 'docker.io/library/app:1')).trim();
    expect(`sha256:${id}`).toBe(image.config.digest);
  });

  it('writes an OCI archive that skopeo reads and that loads back to the same manifest', async () => {
    const out = path.join(tmp, 'app.oci.tar');
    expect((await tsbuild(['save', '--format', 'oci', 'app:1', '-o', out, '--root', root])).status).toBe(0);
    const inspected = JSON.parse(await run('skopeo', ['inspect', `oci-archive:${out}:1`])) as {
      Digest: string;
    };
    expect(inspected.Digest).toBe(image.manifest.digest);
    const other = path.join(tmp, 'other');
    const loaded = await loadArchive(other, (await fsp.open(out)).createReadStream());
    expect(loaded.images).toEqual([{ manifest: image.manifest, names: ['docker.io/library/app:1'] }]);
  });

  it('gives Docker v2 images OCI media types in an OCI archive, keeping the config, layers compressed', async () => {
    // A docker archive loads as a Docker v2 manifest.
    const docker = path.join(tmp, 'docker.tar');
    expect((await tsbuild(['save', 'app:1', '-o', docker, '--root', root])).status).toBe(0);
    const other = path.join(tmp, 'other');
    const [loaded] = (await loadArchive(other, (await fsp.open(docker)).createReadStream())).images;
    expect(loaded?.manifest.mediaType).toBe(MediaType.dockerManifest);
    const out = path.join(tmp, 'converted.oci.tar');
    expect((await tsbuild(['save', '--format', 'oci', 'app:1', '-o', out, '--root', other])).status).toBe(0);
    const raw = parseManifest(await run('skopeo', ['inspect', '--raw', `oci-archive:${out}:1`]));
    expect(raw.mediaType).toBe(MediaType.ociManifest);
    expect(raw.config.digest).toBe(image.config.digest);
    // Layers stored uncompressed (as the docker archive brought them) are compressed for the archive, as for
    // every output and as `docker push` does; the config, and so the diff_ids, stay.
    expect(raw.layers.map((l) => l.mediaType)).toEqual(image.diffIds.map(() => MediaType.ociLayerGzip));
  });

  it('writes to standard output when it is not a terminal', async () => {
    const r = await tsbuild(['save', 'app:1', '--root', root]);
    expect(r.status).toBe(0);
    const back = await tsbuild(['load', '--root', path.join(tmp, 'piped')], process.env, r.raw);
    expect(back).toMatchObject({ status: 0, stdout: 'Loaded image: docker.io/library/app:1\n' });
  });

  it('exits 1 for an image that is not in the store, writing nothing', async () => {
    const r = await tsbuild(['save', 'ghost', '-o', path.join(tmp, 'x.tar'), '--root', root]);
    expect(r).toMatchObject({ status: 1, stderr: 'no such image: ghost\n' });
    await expect(fsp.stat(path.join(tmp, 'x.tar'))).rejects.toThrow();
  });
});

describe('tsbuild load', () => {
  it('loads what podman saves', async () => {
    const busybox = await busyboxLayout();
    const id = (await podman('pull', '-q', `oci:${busybox}:latest`)).trim();
    await podman('tag', id, 'localhost/bb:podman');
    const file = path.join(tmp, 'podman.tar');
    await podman('save', '-o', file, 'localhost/bb:podman');
    const r = await tsbuild(['load', '-i', file, '--root', root]);
    expect(r).toMatchObject({ status: 0, stdout: 'Loaded image: localhost/bb:podman\n' });
    const inspect = await tsbuild(['inspect', 'localhost/bb:podman', '--root', root]);
    expect((JSON.parse(inspect.stdout) as { Id: string }).Id).toBe(`sha256:${id}`);
  });

  it('says when the archive leaves an image unnamed, and -t names it', async () => {
    const busybox = await busyboxLayout();
    const file = path.join(tmp, 'bare.tar');
    await run('skopeo', ['copy', '--quiet', `oci:${busybox}:latest`, `oci-archive:${file}:latest`]);
    const unnamed = await tsbuild(['load', '-i', file, '--root', root]);
    expect(unnamed.status).toBe(0);
    expect(unnamed.stdout).toMatch(
      /^Loaded image: sha256:[a-f0-9]{64} \(the archive gives it only the tag "latest"; name it with -t NAME\)\n$/,
    );
    const named = await tsbuild(['load', '-i', file, '-t', 'bb:1', '--root', root]);
    expect(named).toMatchObject({ status: 0, stdout: 'Loaded image: docker.io/library/bb:1\n' });
  });

  it('exits with one line for a missing file or a file that is no archive', async () => {
    const missing = await tsbuild(['load', '-i', path.join(tmp, 'nope.tar'), '--root', root]);
    expect(missing).toMatchObject({
      status: 2,
      stderr: `load: ${path.join(tmp, 'nope.tar')} is not a file\n`,
    });
    await fsp.writeFile(path.join(tmp, 'junk.tar'), 'not a tar at all, just words\n'.repeat(40));
    const junk = await tsbuild(['load', '-i', path.join(tmp, 'junk.tar'), '--root', root]);
    expect(junk).toMatchObject({
      status: 1,
      stderr: 'cannot read the archive: invalid checksum field in tar header\n',
    });
  });
});
