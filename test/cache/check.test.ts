/**
 * `checkStore` on real stores damaged by hand: a flipped byte in a layer, a deleted blob, a garbled record, a broken
 * tag. Each is found; repairing removes exactly the broken things, and the next build rebuilds what they held.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../src/store/blob-store';
import { checkStore, type CheckOptions, type CheckResult } from '../../src/cache/check';
import type { Digest } from '../../src/store/digest';
import { snapshotDir, snapshotPresent, type LayerRef } from '../../src/store/snapshot-layers';
import { snapshotHoldsLayer } from '../../src/layers/snapshot-durability';
import type { CacheRecord } from '../../src/cache/key-index';
import { listCacheRecords } from '../../src/cache/usage';
import { ImageStore } from '../../src/image/image-store';
import { runBuild, tempDir, writeFiles, type BuildRun } from '../helpers/build';

const dirs: string[] = [];
async function fresh(prefix: string): Promise<string> {
  const d = await tempDir(prefix);
  dirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => fsp.rm(d, { recursive: true, force: true })));
});

async function built(): Promise<{ ctx: string; root: string; run: BuildRun }> {
  const ctx = await fresh('check-ctx');
  const root = await fresh('check-store');
  await writeFiles(ctx, {
    Dockerfile: 'FROM scratch\nCOPY package.json /app/\nCOPY . /app/\nCMD ["node", "/app/server.js"]\n',
    'package.json': '{"name":"app"}\n',
    'server.js': 'console.log("hello")\n',
  });
  return { ctx, root, run: await runBuild(ctx, root) };
}

async function recordOf(root: string, description: string): Promise<CacheRecord & { layer: object }> {
  const r = (await listCacheRecords(root)).find((x) => x.description === description);
  if (!r?.layer) throw new Error(`no layer record for ${description}`);
  return r as CacheRecord & { layer: object };
}

/** The check as `tsbuild cache check` runs it: layers kept as snapshots are re-hashed too. */
function check(root: string, options: CheckOptions = {}): Promise<CheckResult> {
  return checkStore(root, { verifySnapshot: (d) => snapshotHoldsLayer(root, d), ...options });
}

/** Flip one bit in the middle of a stored blob, as a failing disk (or a curious user) would. */
async function flipByte(root: string, digest: Digest): Promise<void> {
  await flipFileByte(new BlobStore(root).blobPath(digest));
}

async function flipFileByte(file: string): Promise<void> {
  await fsp.chmod(file, 0o644);
  const data = await fsp.readFile(file);
  const at = Math.floor(data.length / 2);
  data[at] = (data[at] as number) ^ 0x01;
  await fsp.writeFile(file, data);
}

describe('checkStore', () => {
  test('a clean store has no problems', async () => {
    const { root, run } = await built();
    const result = await checkStore(root);
    expect(result.problems).toEqual([]);
    expect(result.unrepaired).toBe(0);
    expect(result.records).toBe((await listCacheRecords(root)).length);
    expect(result.blobs).toBeGreaterThanOrEqual(run.image.layers.length + 2);
  });

  test('a flipped byte in a layer is found; repair removes it and its record; the next build rebuilds the step', async () => {
    const { ctx, root } = await built();
    const copy = await recordOf(root, 'COPY . /app/');
    await flipByte(root, copy.layer.digest);

    const report = await checkStore(root, { repair: false });
    expect(report.problems.map((p) => [p.kind, p.subject])).toEqual([
      ['corrupt-blob', copy.layer.digest],
      ['record-layer-corrupt', copy.key],
    ]);
    expect(report.problems[0]?.message).toMatch(/is corrupt: its content hashes to sha256:/);
    expect(report.unrepaired).toBe(2);
    expect(await new BlobStore(root).has(copy.layer.digest)).toBe(true); // reporting removes nothing

    const repaired = await checkStore(root);
    expect(repaired.problems.every((p) => p.repaired)).toBe(true);
    expect(repaired.unrepaired).toBe(0);
    expect(await new BlobStore(root).has(copy.layer.digest)).toBe(false);
    expect((await listCacheRecords(root)).some((r) => r.key === copy.key)).toBe(false);

    const next = await runBuild(ctx, root);
    const step = next.steps.find((s) => s[0] === 'COPY . /app/');
    expect(step?.[1]).toBe('miss');
    expect(step?.[2]).toMatch(/cache record is gone/);
    expect(next.steps.find((s) => s[0] === 'COPY package.json /app/')?.[1]).toBe('hit');
    expect((await checkStore(root, { repair: false })).problems).toEqual([]);
  });

  test('a flipped byte in a layer kept as its snapshot is found; repair removes it and its record', async () => {
    const ctx = await fresh('check-ctx');
    const root = await fresh('check-store');
    // The build stage's COPY is read by the final stage, so its layer is written as a snapshot.
    await writeFiles(ctx, {
      Dockerfile:
        'FROM scratch AS build\nCOPY server.js /app/\n\nFROM scratch\nCOPY --from=build /app/server.js /srv/server.js\n',
      'server.js': 'console.log("hello")\n',
    });
    await runBuild(ctx, root);
    const copy = await recordOf(root, 'COPY server.js /app/');
    const layer = copy.layer as LayerRef;
    expect(await snapshotPresent(root, layer.diffId as Digest)).toBe(true);
    expect(layer.digest).toBe(layer.diffId);
    await flipFileByte(path.join(snapshotDir(root, layer.diffId as Digest), 'app', 'server.js'));

    const report = await check(root, { repair: false });
    expect(report.problems.map((p) => [p.kind, p.subject])).toEqual([
      ['corrupt-snapshot', layer.diffId],
      ['record-layer-corrupt', copy.key],
    ]);
    expect(await snapshotPresent(root, layer.diffId as Digest)).toBe(true); // reporting removes nothing

    const repaired = await check(root);
    expect(repaired.problems.every((p) => p.repaired)).toBe(true);
    expect(await snapshotPresent(root, layer.diffId as Digest)).toBe(false);
    expect((await listCacheRecords(root)).some((r) => r.key === copy.key)).toBe(false);
    const next = await runBuild(ctx, root);
    // The final stage's record is whole, so the build stage is not needed at all (keyed ahead).
    expect(next.steps.find((s) => s[0].startsWith('COPY --from=build'))?.[1]).toBe('hit');
    expect((await check(root, { repair: false })).problems).toEqual([]);
  });

  test('a record whose layer is gone is removed', async () => {
    const { root } = await built();
    const copy = await recordOf(root, 'COPY package.json /app/');
    await new BlobStore(root).delete(copy.layer.digest);
    const result = await checkStore(root);
    expect(result.problems.map((p) => [p.kind, p.repaired])).toEqual([['record-layer-missing', true]]);
    expect((await listCacheRecords(root)).some((r) => r.key === copy.key)).toBe(false);
  });

  test('a garbled record file is reported and removed', async () => {
    const { root } = await built();
    const file = path.join(root, 'index', `${'e'.repeat(64)}.json`);
    await fsp.writeFile(file, '{"version": 1, "key": "trunc');
    const result = await checkStore(root);
    expect(result.problems.map((p) => [p.kind, p.subject, p.repaired])).toEqual([
      ['damaged-record', file, true],
    ]);
    await expect(fsp.access(file)).rejects.toThrow();
  });

  test('a tag whose image lost a blob is untagged; other tags stay', async () => {
    const { root, run } = await built();
    const images = new ImageStore(root);
    const target = {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: run.image.manifestDigest,
      size: run.image.manifestSize,
    };
    await images.tag('broken:1', target);
    await flipByte(root, run.image.configDigest);
    const result = await checkStore(root);
    const kinds = result.problems.map((p) => p.kind).sort();
    expect(kinds).toEqual(['corrupt-blob', 'tag-broken']);
    expect(result.problems.find((p) => p.kind === 'tag-broken')?.message).toContain(
      `config ${run.image.configDigest} is corrupt`,
    );
    expect(await images.list()).toEqual([]);
    expect(result.unrepaired).toBe(0);
  });

  test('a missing file listing is only a warning', async () => {
    const { root } = await built();
    const copy = await recordOf(root, 'COPY . /app/');
    const listing = (copy.inputs as { filesDigest: Digest }).filesDigest;
    await new BlobStore(root).delete(listing);
    const result = await checkStore(root);
    expect(result.problems.map((p) => [p.kind, p.severity, p.repaired])).toEqual([
      ['record-listing-missing', 'warning', false],
    ]);
    expect(result.unrepaired).toBe(0);
  });

  test('a damaged layer listing is removed (it is rebuilt from the layer on demand)', async () => {
    const { root } = await built();
    const file = path.join(root, 'listings', `${'c'.repeat(64)}.json`);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.writeFile(file, '[{"path":');
    const result = await checkStore(root);
    expect(result.problems.map((p) => [p.kind, p.repaired])).toEqual([['listing-damaged', true]]);
  });
});
