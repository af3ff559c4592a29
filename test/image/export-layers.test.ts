/**
 * RUN layers are kept as their snapshot, uncompressed, until an output needs them: the store treats the snapshot
 * as the layer (check, prune), and the first export compresses it once, to the digests an eager build would have.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../src/store/blob-store';
import { checkStore } from '../../src/cache/check';
import { digestHex } from '../../src/store/digest';
import { pruneStore } from '../../src/cache/gc';
import { readInventory } from '../../src/cache/inventory';
import { layerAvailable } from '../../src/store/snapshot-layers';
import { listCacheRecords, readStoreUsage } from '../../src/cache/usage';
import { exportableImage } from '../../src/image/export-layers';
import { parseManifest, type Descriptor } from '../../src/image/oci-types';
import { storeLayer } from '../../src/layers/compress';
import { snapshotLayerTar } from '../../src/layers/snapshots';
import { busyboxContext, runBuild } from '../helpers/build';
import { requireRoot } from '../executor/sandbox/support/fixtures';

requireRoot();

const DOCKERFILE = [
  'FROM scratch',
  'COPY rootfs/ /',
  'RUN mkdir /data && echo made > /data/f && cat /bin/busybox /bin/busybox /bin/busybox > /data/big',
  '',
].join('\n');

async function built(): Promise<{
  root: string;
  manifest: Descriptor;
  run: Awaited<ReturnType<typeof runBuild>>;
}> {
  const { ctx, root } = await busyboxContext(DOCKERFILE);
  const run = await runBuild(ctx, root);
  const manifest = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: run.image.manifestDigest,
    size: run.image.manifestSize,
  };
  return { root, manifest, run };
}

describe('layers kept as snapshots', () => {
  it('are committed without a blob, and compressed once, on export, to the digest an eager build gives', async () => {
    const { root, manifest, run } = await built();
    const blobs = new BlobStore(root);
    const runLayer = run.image.layers[1];
    expect(runLayer?.digest).toBe(runLayer?.diffId);
    expect(runLayer?.mediaType).toBe('application/vnd.oci.image.layer.v1.tar');
    expect(await blobs.has(runLayer?.digest ?? 'sha256:x')).toBe(false);

    const exported = await exportableImage(root, blobs, manifest);
    expect(exported.digest).not.toBe(manifest.digest);
    const layer = parseManifest(await blobs.readAll(exported.digest)).layers[1];
    expect(layer?.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    // The same bytes an eager build would have stored: gzip of the snapshot's tar.
    const scratch = new BlobStore(path.join(root, 'scratch-store'));
    await scratch.init();
    const eager = await storeLayer(await snapshotLayerTar(root, runLayer?.diffId ?? 'sha256:x'), scratch, {
      compression: 'gzip',
    });
    expect(layer?.digest).toBe(eager.digest);
    await blobs.verify(layer?.digest ?? 'sha256:x');

    // Never compressed twice: the second export reuses the blob (same file, untouched).
    const blobFile = path.join(root, 'blobs', 'sha256', digestHex(layer?.digest ?? 'sha256:x'));
    const before = (await fsp.stat(blobFile)).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    expect((await exportableImage(root, blobs, manifest)).digest).toBe(exported.digest);
    expect((await fsp.stat(blobFile)).mtimeMs).toBe(before);
  });

  it('pass cache check while their snapshot is there, and fail it when it is gone', async () => {
    const { root, run } = await built();
    expect((await checkStore(root, { repair: false })).problems).toEqual([]);
    const diffId = run.image.layers[1]?.diffId ?? 'sha256:x';
    await fsp.rm(path.join(root, 'snapshots', digestHex(diffId)), { recursive: true });
    const kinds = (await checkStore(root, { repair: false })).problems.map((p) => p.kind);
    expect(kinds).toContain('record-layer-missing');
  });

  it('are not pruned as rebuildable snapshots: a bound that dropping it would meet leaves no record without its layer', async () => {
    const { root, run } = await built();
    const diffId = run.image.layers[1]?.diffId ?? 'sha256:x';
    const snapshots = (await readInventory(root)).snapshots;
    const others = snapshots.filter((s) => s.name !== digestHex(diffId)).reduce((n, s) => n + s.bytes, 0);
    // Dropping every rebuildable snapshot is not enough; dropping the RUN layer's snapshot too would be.
    // (10 kB more: the garbage the prune clears first, unreferenced manifest and config blobs.)
    await pruneStore(root, { keepStorage: (await readStoreUsage(root)).total - others - 10_000 });
    const blobs = new BlobStore(root);
    const left = await listCacheRecords(root);
    for (const r of left) if (r.layer) expect(await layerAvailable(root, blobs, r.layer)).toBe(true);
    // With every record gone, the snapshot nothing needs goes too.
    await pruneStore(root, { keepStorage: 1 });
    await expect(fsp.access(path.join(root, 'snapshots', digestHex(diffId)))).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });
});
