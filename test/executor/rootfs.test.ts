import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../src/store/blob-store';
import type { Digest } from '../../src/store/digest';
import type { LayerRecord } from '../../src/image/stored-image';
import { RootfsViews } from '../../src/executor/rootfs';
import { LayerFormatError } from '../../src/layers/errors';
import { mountsUnder, requireRoot, storeEntries, tempDir } from './sandbox/support/fixtures';

requireRoot();

let root: string;
let blobs: BlobStore;

beforeEach(async () => {
  root = await tempDir('rootfs');
  blobs = new BlobStore(root);
  await blobs.init();
});

afterEach(async () => {
  expect(mountsUnder(root)).toEqual([]);
  await fsp.rm(root, { recursive: true, force: true });
});

const record = (l: { digest: Digest; diffId: Digest }): LayerRecord => ({
  ...l,
  size: 0,
  mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
});

async function twoLayers(): Promise<LayerRecord[]> {
  const one = await storeEntries(blobs, [
    { type: 'file', path: 'a', content: Buffer.from('1') },
    { type: 'file', path: 'gone', content: Buffer.from('x') },
    { type: 'dir', path: 'd' },
    { type: 'file', path: 'd/old', content: Buffer.from('old') },
  ]);
  const two = await storeEntries(blobs, [
    { type: 'file', path: 'a', content: Buffer.from('2') },
    { type: 'whiteout', path: 'gone' },
    { type: 'dir', path: 'd' },
    { type: 'opaque', path: 'd' },
    { type: 'file', path: 'd/new', content: Buffer.from('new') },
  ]);
  return [record(one), record(two)];
}

describe.each(['auto', 'copy'] as const)('RootfsViews (%s)', (mode) => {
  it('shows a chain of layers, later layers on top, whiteouts and opaque directories honoured', async () => {
    const views = new RootfsViews(root, blobs, mode);
    try {
      const layers = await twoLayers();
      const dir = await views.directory(layers);
      expect(await fsp.readFile(path.join(dir, 'a'), 'utf8')).toBe('2');
      expect((await fsp.readdir(dir)).sort()).toEqual(['a', 'd']);
      expect(await fsp.readdir(path.join(dir, 'd'))).toEqual(['new']);
      expect(await views.directory(layers)).toBe(dir);
      const source = await views.source(layers, 'stage x');
      expect(source.root).toBe(dir);
    } finally {
      await views.release();
    }
  });

  it('refuses a layer whose diff_id does not match, leaving no tree behind, and fails again when asked again', async () => {
    const views = new RootfsViews(root, blobs, mode);
    try {
      const layer = await storeEntries(blobs, [{ type: 'file', path: 'a', content: Buffer.from('1') }]);
      const lying = { ...record(layer), diffId: `sha256:${'1'.repeat(64)}` as Digest };
      await expect(views.directory([lying])).rejects.toThrow(LayerFormatError);
      await expect(views.directory([lying])).rejects.toThrow(/does not match its diff_id/);
      expect(await fsp.readdir(path.join(root, 'snapshots')).catch(() => [])).toEqual([]);
      expect(await fsp.readdir(path.join(root, 'tmp'))).toEqual([]);
    } finally {
      await views.release();
    }
  });
});

describe('RootfsViews over overlayfs', () => {
  it('hides the whiteouts of a lone layer', async () => {
    const views = new RootfsViews(root, blobs);
    try {
      const layer = await storeEntries(blobs, [
        { type: 'file', path: 'a', content: Buffer.from('1') },
        { type: 'whiteout', path: 'gone' },
      ]);
      expect(await fsp.readdir(await views.directory([record(layer)]))).toEqual(['a']);
    } finally {
      await views.release();
    }
  });

  it('copies nothing: the view stacks the per-layer snapshots, read-only, and is gone after release', async () => {
    const views = new RootfsViews(root, blobs);
    const layers = await twoLayers();
    const dir = await views.directory(layers);
    try {
      expect((await fsp.readdir(path.join(root, 'snapshots'))).sort()).toEqual(
        layers.map((l) => l.diffId.slice('sha256:'.length)).sort(),
      );
      await expect(fsp.writeFile(path.join(dir, 'new'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
      expect(mountsUnder(root)).toEqual([dir]);
    } finally {
      await views.release();
    }
    await expect(fsp.access(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await fsp.readdir(path.join(root, 'runs'))).toEqual([]);
  });
});
