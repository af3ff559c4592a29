import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../src/store/blob-store';
import type { Digest } from '../../src/store/digest';
import { applyLayer } from '../../src/layers/apply';
import { hashedLayerTar } from '../../src/layers/diff-id';
import { LayerFormatError } from '../../src/layers/errors';
import { readTar } from '../../src/layers/tar-reader';
import { storeEntries, tempDir } from '../executor/sandbox/support/fixtures';

let root: string;
let blobs: BlobStore;

beforeEach(async () => {
  root = await tempDir('diffid');
  blobs = new BlobStore(root);
  await blobs.init();
});

afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

const WRONG: Digest = `sha256:${'0'.repeat(64)}`;

describe('hashedLayerTar', () => {
  it('covers every byte, the padding after the end-of-archive blocks included, though the reader stops early', async () => {
    const layer = await storeEntries(blobs, [{ type: 'file', path: 'a', content: Buffer.from('hello') }]);
    const t = hashedLayerTar(blobs.open(layer.digest));
    const names: string[] = [];
    for await (const { header } of readTar(t.tar)) names.push(header.path);
    expect(names).toEqual(['a']);
    await expect(t.verify(layer.diffId, layer.digest)).resolves.toBeUndefined();
  });

  it('names the layer and both digests when they differ', async () => {
    const layer = await storeEntries(blobs, [{ type: 'file', path: 'a', content: Buffer.from('hello') }]);
    const t = hashedLayerTar(blobs.open(layer.digest));
    for await (const entry of readTar(t.tar)) for await (const _ of entry.body) void _;
    const err = (await t.verify(WRONG, layer.digest).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(LayerFormatError);
    expect(err.message).toBe(
      `layer ${layer.digest} does not match its diff_id: expected ${WRONG}, the content hashes to ${layer.diffId}`,
    );
  });
});

describe('applyLayer with verify', () => {
  it('applies a layer that matches, and refuses one whose config diff_id is wrong', async () => {
    const layer = await storeEntries(blobs, [{ type: 'file', path: 'f', content: Buffer.from('x') }]);
    const ok = path.join(root, 'ok');
    await fsp.mkdir(ok);
    await applyLayer(blobs.open(layer.digest), ok, { verify: { diffId: layer.diffId, layer: layer.digest } });
    expect(await fsp.readFile(path.join(ok, 'f'), 'utf8')).toBe('x');

    const bad = path.join(root, 'bad');
    await fsp.mkdir(bad);
    await expect(
      applyLayer(blobs.open(layer.digest), bad, { verify: { diffId: WRONG, layer: layer.digest } }),
    ).rejects.toThrow(LayerFormatError);
  });
});
