import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../src/cache/blob-store';
import { digestHex } from '../../src/cache/digest';
import { layerListing } from '../../src/layers/listing';
import { writeLayer } from '../../src/executor/layer-writer';
import type { LayerEntry } from '../../src/layers/tar-writer';
import { tempDir } from './sandbox/support/fixtures';

let root: string;
let blobs: BlobStore;

beforeEach(async () => {
  root = await tempDir('layer-writer');
  blobs = new BlobStore(root);
  await blobs.init();
});

afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

describe('writeLayer', () => {
  it('lists the layer from its tar plan exactly as a read of the blob would', async () => {
    const entries: LayerEntry[] = [
      { type: 'dir', path: 'opt', mode: 0o2755, uid: 0, gid: 50 },
      { type: 'opaque', path: 'opt' },
      { type: 'file', path: 'opt/tool', content: Buffer.from('x'), mode: 0o4755, uid: 1000, gid: 1000 },
      { type: 'hardlink', path: 'opt/tool2', target: 'opt/tool' },
      { type: 'symlink', path: 'opt/link', target: '../etc/passwd', uid: 7, gid: 8 },
      { type: 'fifo', path: 'opt/pipe', mode: 0o600 },
      { type: 'char', path: 'opt/null', major: 1, minor: 3, mode: 0o666 },
      { type: 'whiteout', path: 'etc/gone' },
    ];
    const layer = await writeLayer(root, blobs, entries, 'gzip', 1_700_000_000);
    const listed = JSON.parse(
      await fsp.readFile(path.join(root, 'listings', `${digestHex(layer.diffId)}.json`), 'utf8'),
    ) as unknown;
    await fsp.rm(path.join(root, 'listings'), { recursive: true });
    expect(listed).toEqual(await layerListing(root, blobs, layer.digest, layer.diffId));
    expect(listed).toContainEqual({ path: 'etc/.wh.gone', type: 'file', mode: 0, uid: 0, gid: 0 });
    expect(listed).toContainEqual({ path: 'opt/tool', type: 'file', mode: 0o4755, uid: 1000, gid: 1000 });
  });
});
