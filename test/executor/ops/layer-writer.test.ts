import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../../src/store/blob-store';
import { digestHex } from '../../../src/store/digest';
import { layerListing } from '../../../src/layers/listing';
import { writeFilesLayer, writeLayer } from '../../../src/executor/ops/layer-writer';
import { recordedSnapshotSize, snapshotPresent } from '../../../src/store/snapshot-layers';
import { compressedLayer } from '../../../src/image/export-layers';
import { decompressLayer } from '../../../src/layers/compress';
import { snapshotLayerTar } from '../../../src/layers/snapshots';
import type { LayerEntry } from '../../../src/layers/tar-writer';
import { tempDir } from '../sandbox/support/fixtures';

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

describe('writeFilesLayer', () => {
  const files: LayerEntry[] = [
    { type: 'dir', path: 'opt', mode: 0o2755, uid: 0, gid: 50, mtime: 1_600_000_000 },
    { type: 'file', path: 'opt/tool', content: Buffer.from('tool'), mode: 0o4755, uid: 1000, gid: 1000 },
    { type: 'hardlink', path: 'opt/tool2', target: 'opt/tool' },
    { type: 'symlink', path: 'opt/link', target: '../etc/passwd', uid: 7, gid: 8, mtime: 1_650_000_000 },
    { type: 'fifo', path: 'opt/pipe', mode: 0o600 },
    { type: 'char', path: 'opt/null', major: 1, minor: 3, mode: 0o666 },
    { type: 'dir', path: 'opt/ro', mode: 0o555, mtime: 1_690_000_000 },
    { type: 'file', path: 'opt/ro/x', content: Buffer.from('x'), xattrs: { 'user.note': 'kept' } },
  ];

  async function tarBytes(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of stream) parts.push(Buffer.from(c));
    return Buffer.concat(parts);
  }

  it('writes the files into a snapshot whose tar is byte for byte the one writeLayer stores', async () => {
    const layer = await writeFilesLayer(root, blobs, files, 'snapshot', 1_700_000_000);
    expect(layer.digest).toBe(layer.diffId); // kept as its snapshot: no blob
    expect(await blobs.has(layer.digest)).toBe(false);
    const fromSnapshot = await tarBytes(await snapshotLayerTar(root, layer.diffId));
    const stored = await writeLayer(root, blobs, files, 'gzip', 1_700_000_000);
    expect(stored.diffId).toBe(layer.diffId);
    expect(fromSnapshot.equals(await tarBytes(decompressLayer(blobs.open(stored.digest))))).toBe(true);
    expect(await recordedSnapshotSize(root, digestHex(layer.diffId))).toBe(4 + 13 + 1);
  });

  it('stores a layer a snapshot cannot hold as it is (whiteouts) as its uncompressed tar', async () => {
    const layer = await writeFilesLayer(
      root,
      blobs,
      [...files, { type: 'whiteout', path: 'etc/gone' }],
      'snapshot',
    );
    expect(layer.digest).toBe(layer.diffId);
    expect(await blobs.has(layer.digest)).toBe(true);
    expect(await fsp.readdir(path.join(root, 'tmp')).catch(() => [])).toEqual([]);
  });

  it('as a tar: one uncompressed blob, no snapshot, compressed for an output exactly as it would have been', async () => {
    const layer = await writeFilesLayer(root, blobs, files, 'tar', 1_700_000_000);
    expect(layer.digest).toBe(layer.diffId);
    expect(await blobs.has(layer.digest)).toBe(true);
    expect(await snapshotPresent(root, layer.diffId)).toBe(false);
    const stored = await writeLayer(root, blobs, files, 'gzip', 1_700_000_000);
    const exported = await compressedLayer(root, blobs, layer, 'gzip');
    expect(exported.digest).toBe(stored.digest);
  });
});
