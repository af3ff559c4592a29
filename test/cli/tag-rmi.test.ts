/** `tsbuild tag` and `tsbuild rmi` through the compiled CLI; the store is set up and checked directly. */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../src/store/blob-store';
import { ImageStore } from '../../src/image/image-store';
import { buildCli, tempDir, tsbuild } from '../helpers/registry';
import { buildTestImage, type TestImage } from '../image/support/test-image';

let tmp: string;
let root: string;
let image: TestImage;

beforeAll(() => {
  buildCli();
}, 300_000);

beforeEach(async () => {
  tmp = await tempDir('cli-tag');
  root = path.join(tmp, 'root');
  image = await buildTestImage(new BlobStore(root));
  await new ImageStore(root).tag('app:1', image.manifest);
});

afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function names(): Promise<string[]> {
  return (await new ImageStore(root).list()).map((r) => r.name);
}

describe('tsbuild tag', () => {
  it('adds a name for the same image', async () => {
    const r = await tsbuild(['tag', 'app:1', '127.0.0.1:5000/team/app:2', '--root', root]);
    expect(r).toMatchObject({ status: 0, stdout: '', stderr: '' });
    const records = await new ImageStore(root).list();
    expect(records.map((x) => [x.name, x.target.digest])).toEqual([
      ['127.0.0.1:5000/team/app:2', image.manifest.digest],
      ['docker.io/library/app:1', image.manifest.digest],
    ]);
  });

  it('exits 1 for a missing source and 2 for a bad target', async () => {
    const missing = await tsbuild(['tag', 'ghost', 'x', '--root', root]);
    expect(missing).toMatchObject({ status: 1, stderr: 'no such image: ghost\n' });
    const bad = await tsbuild(['tag', 'app:1', 'x:a:b', '--root', root]);
    expect(bad).toMatchObject({ status: 2, stderr: 'invalid reference "x:a:b": invalid reference format\n' });
  });
});

describe('tsbuild rmi', () => {
  it('removes names, reports the missing ones and exits 1 for them', async () => {
    await new ImageStore(root).tag('app:2', image.manifest);
    const r = await tsbuild(['rmi', 'app:1', 'ghost:9', '--root', root]);
    expect(r).toMatchObject({
      status: 1,
      stdout: 'Untagged: docker.io/library/app:1\n',
      stderr: 'no such image: ghost:9\n',
    });
    expect(await names()).toEqual(['docker.io/library/app:2']);
    expect(await new BlobStore(root).has(image.manifest.digest)).toBe(true); // blobs wait for GC
  });

  it('removes every name of a manifest digest', async () => {
    await new ImageStore(root).tag('other/app:3', image.manifest);
    const r = await tsbuild(['rmi', image.manifest.digest, '--root', root]);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual([
      'Untagged: docker.io/library/app:1',
      'Untagged: docker.io/other/app:3',
    ]);
    expect(await names()).toEqual([]);
  });
});
