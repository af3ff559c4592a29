import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../src/cache/blob-store';
import type { Digest } from '../../src/cache/digest';
import type { LayerRecord } from '../../src/cache/key-index';
import { materializeRootfs } from '../../src/executor/rootfs';
import { LayerFormatError } from '../../src/layers/errors';
import { storeEntries, tempDir } from './sandbox/support/fixtures';

let root: string;
let blobs: BlobStore;

beforeEach(async () => {
  root = await tempDir('rootfs');
  blobs = new BlobStore(root);
  await blobs.init();
});

afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

const record = (l: { digest: Digest; diffId: Digest }): LayerRecord => ({
  ...l,
  size: 0,
  mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
});

describe('materializeRootfs', () => {
  it('unpacks a chain of layers once, later layers on top', async () => {
    const one = await storeEntries(blobs, [{ type: 'file', path: 'a', content: Buffer.from('1') }]);
    const two = await storeEntries(blobs, [{ type: 'file', path: 'a', content: Buffer.from('2') }]);
    const fs = await materializeRootfs(root, blobs, [record(one), record(two)], 'stage x');
    expect(await fsp.readFile(path.join(fs.root, 'a'), 'utf8')).toBe('2');
    const again = await materializeRootfs(root, blobs, [record(one), record(two)], 'stage x');
    expect(again.root).toBe(fs.root);
  });

  it('refuses a layer whose diff_id does not match, leaving no tree behind, and fails again when asked again', async () => {
    const layer = await storeEntries(blobs, [{ type: 'file', path: 'a', content: Buffer.from('1') }]);
    const lying = { ...record(layer), diffId: `sha256:${'1'.repeat(64)}` as Digest };
    await expect(materializeRootfs(root, blobs, [lying], 'image bad')).rejects.toThrow(LayerFormatError);
    await expect(materializeRootfs(root, blobs, [lying], 'image bad')).rejects.toThrow(
      /does not match its diff_id/,
    );
    expect(await fsp.readdir(path.join(root, 'snapshots')).catch(() => [])).toEqual([]);
    expect(await fsp.readdir(path.join(root, 'tmp'))).toEqual([]);
  });
});
