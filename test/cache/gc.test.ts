/**
 * Pruning real stores made by real builds: bounds, LRU order, what survives (tags, in-use markers, fresh output of
 * running builds), and the snapshots and listings that go with their layers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlobStore } from '../../src/store/blob-store';
import { checkStore } from '../../src/cache/check';
import { readCompressedNote, writeCompressedNote } from '../../src/store/compressed-notes';
import { digestHex, type Digest } from '../../src/store/digest';
import { defaultMaxStorage, pruneStore } from '../../src/cache/gc';
import { markInUse, MTIME_SLACK_MS, readInUse } from '../../src/cache/in-use';
import { chainSnapshotName, liveChainNames, readInventory } from '../../src/cache/inventory';
import type { CacheRecord } from '../../src/cache/key-index';
import { layerAvailable, type LayerRef } from '../../src/store/snapshot-layers';
import { listCacheRecords, readStoreUsage } from '../../src/cache/usage';
import { ImageStore } from '../../src/image/image-store';
import { runBuild, tempDir, writeFiles, type BuildRun } from '../helpers/build';
import { childEnv, transpileSources } from '../helpers/child-modules';

const dirs: string[] = [];
async function fresh(prefix: string): Promise<string> {
  const d = await tempDir(prefix);
  dirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => fsp.rm(d, { recursive: true, force: true })));
});

const DOCKERFILE = `FROM scratch
WORKDIR /app
COPY data.bin ./
ENV MODE=test
COPY app.js ./
`;

/** A context whose data.bin is `kb` KiB of random bytes (incompressible, so layer sizes are predictable). */
async function context(kb: number): Promise<string> {
  const ctx = await fresh('gc-ctx');
  await writeFiles(ctx, { Dockerfile: DOCKERFILE, 'app.js': 'console.log(1)\n' });
  await fsp.writeFile(path.join(ctx, 'data.bin'), randomBytes(kb * 1024));
  return ctx;
}

async function tag(root: string, name: string, run: BuildRun): Promise<void> {
  await new ImageStore(root).tag(name, {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: run.image.manifestDigest,
    size: run.image.manifestSize,
  });
}

async function exists(p: string): Promise<boolean> {
  return fsp.access(p).then(
    () => true,
    () => false,
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pruneStore', () => {
  test('--keep-storage removes least recently used records until the store fits; tagged images survive', async () => {
    const root = await fresh('gc-store');
    const runs: BuildRun[] = [];
    for (let i = 0; i < 4; i++) {
      runs.push(await runBuild(await context(64), root));
      await sleep(5); // distinct last-use times
    }
    await tag(root, 'kept:latest', runs[0] as BuildRun); // the OLDEST build is the tagged one
    // Four builds of ~66 kB each, the oldest tagged: fitting in 240 KiB means dropping one untagged build.
    const bound = 240 * 1024;
    const before = await readStoreUsage(root);
    expect(before.total).toBeGreaterThan(bound);
    const result = await pruneStore(root, { keepStorage: bound });
    expect(result.sizeAfter).toBeLessThanOrEqual(bound);
    expect(result.freedBytes).toBe(result.sizeBefore - result.sizeAfter);
    expect(result.removedRecords).toBeGreaterThan(0);
    // The measure the prune worked with is the one `cache du` shows.
    expect((await readStoreUsage(root)).total).toBe(result.sizeAfter);

    // The tagged image is whole although its records were the least recently used.
    const blobs = new BlobStore(root);
    for (const l of (runs[0] as BuildRun).image.layers)
      expect(await layerAvailable(root, blobs, l)).toBe(true);
    expect(await blobs.has((runs[0] as BuildRun).image.manifestDigest)).toBe(true);
    expect(await blobs.has((runs[0] as BuildRun).image.configDigest)).toBe(true);
    // The least recently used untagged build went; the newest build's records are kept.
    const kept = new Set((await listCacheRecords(root)).map((r) => r.layer?.digest));
    const dataLayer = (run: BuildRun) => run.image.layers[1] as LayerRef; // WORKDIR, then COPY data.bin
    expect(kept.has(dataLayer(runs[1] as BuildRun).digest)).toBe(false);
    expect(await layerAvailable(root, blobs, dataLayer(runs[1] as BuildRun))).toBe(false);
    expect(kept.has(dataLayer(runs[3] as BuildRun).digest)).toBe(true);
    // And nothing kept is broken.
    expect((await checkStore(root, { repair: false })).problems).toEqual([]);
  });

  test('with no bound every record goes, tags stay; --all takes the tags and their blobs too', async () => {
    const root = await fresh('gc-store');
    const run = await runBuild(await context(8), root);
    await tag(root, 'app:1', run);
    const untagged = await runBuild(await context(8), root);

    const plain = await pruneStore(root);
    expect(await listCacheRecords(root)).toEqual([]);
    expect(plain.removedRecords).toBeGreaterThan(0);
    const blobs = new BlobStore(root);
    expect(await blobs.has(run.image.manifestDigest)).toBe(true);
    for (const l of run.image.layers) expect(await layerAvailable(root, blobs, l)).toBe(true);
    // The untagged build's manifest and layers had nothing left pointing at them.
    expect(await blobs.has(untagged.image.manifestDigest)).toBe(false);
    expect(await layerAvailable(root, blobs, untagged.image.layers[1] as LayerRef)).toBe(false);

    const all = await pruneStore(root, { all: true });
    expect(all.removedTags).toEqual(['docker.io/library/app:1']);
    expect(await new ImageStore(root).list()).toEqual([]);
    expect(await blobs.list()).toEqual([]);
    expect(await fsp.readdir(path.join(root, 'snapshots')).catch(() => [])).toEqual([]);
  });

  test('--keep-duration removes only records unused for longer', async () => {
    const root = await fresh('gc-store');
    await runBuild(await context(4), root);
    const n = (await listCacheRecords(root)).length;
    const day = 86_400_000;
    expect(
      (await pruneStore(root, { keepDurationMs: 3 * day, now: Date.now() + 2 * day })).removedRecords,
    ).toBe(0);
    expect(await listCacheRecords(root)).toHaveLength(n);
    const r = await pruneStore(root, { keepDurationMs: day, now: Date.now() + 2 * day });
    expect(r.removedRecords).toBe(n);
    expect(await listCacheRecords(root)).toEqual([]);
  });

  test('--dry-run says what would go and removes nothing', async () => {
    const root = await fresh('gc-store');
    await runBuild(await context(4), root);
    const before = await readInventory(root);
    const r = await pruneStore(root, { all: true, dryRun: true });
    expect(r.removedRecords).toBe(before.records.length);
    const after = await readInventory(root);
    expect(after.records).toHaveLength(before.records.length);
    expect([...after.blobs.keys()]).toEqual([...before.blobs.keys()]);
  });

  test('what a running build marked in use, and what it wrote since, survives even --all', async () => {
    const root = await fresh('gc-store');
    const run = await runBuild(await context(4), root);
    const records = await listCacheRecords(root);
    const copy = records.find((r) => r.description === 'COPY data.bin ./');
    if (!copy?.layer) throw new Error('no COPY record');
    await sleep(1100); // what the build wrote is then clearly older than the marker, even with whole-second mtimes
    const marker = await markInUse(root, [copy.key, copy.layer.digest]);
    const blobs = new BlobStore(root);
    const written = await blobs.put(`output of the running build ${Math.random()}`);

    const r = await pruneStore(root, { all: true });
    expect(r.buildsInUse).toBe(1);
    expect((await listCacheRecords(root)).map((x) => x.key)).toEqual([copy.key]);
    expect(await layerAvailable(root, blobs, copy.layer)).toBe(true);
    expect(await blobs.has(written.digest)).toBe(true);
    expect(await blobs.has(run.image.manifestDigest)).toBe(false);

    await marker.release();
    await pruneStore(root, { all: true });
    expect(await listCacheRecords(root)).toEqual([]);
    expect(await blobs.list()).toEqual([]);
  });

  test('adding to a marker waits for a prune in progress (both hold the GC lock)', async () => {
    const root = await fresh('gc-store');
    await runBuild(await context(4), root);
    const marker = await markInUse(root);
    const order: string[] = [];
    const prune = pruneStore(root, { all: true }).then(() => order.push('prune'));
    const add = marker.add(['sha256:' + '0'.repeat(64)]).then(() => order.push('add'));
    await Promise.all([prune, add]);
    expect(order).toHaveLength(2);
    await marker.release();
    expect((await readInUse(root)).markers).toBe(0);
  });

  test('another process protects what it marked until it is killed (SIGKILL: no release, the marker goes stale)', async () => {
    const compiled = await fresh('gc-js');
    const src = await transpileSources(compiled, ['cache']);
    const root = await fresh('gc-store');
    const blobs = new BlobStore(root);
    const kept = await blobs.put('needed by the other build');
    await sleep(MTIME_SLACK_MS + 100); // the blob predates the marker: only the marker's reference protects it
    const script = `
      const { markInUse } = require(${JSON.stringify(path.join(src, 'cache', 'in-use.js'))});
      markInUse(${JSON.stringify(root)}, [${JSON.stringify(kept.digest)}]).then(() => {
        process.stdout.write('ready\\n');
        setInterval(() => {}, 1000);
      });
    `;
    const child = spawn(process.execPath, ['-e', script], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));

    expect((await pruneStore(root, { all: true })).buildsInUse).toBe(1);
    expect(await blobs.has(kept.digest)).toBe(true);

    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect((await pruneStore(root, { all: true })).buildsInUse).toBe(0);
    expect(await blobs.has(kept.digest)).toBe(false);
    expect((await fsp.readdir(path.join(root, 'locks'))).filter((n) => n.startsWith('build-'))).toEqual([]);
  });

  test('a marker left by a dead process is stale: ignored and removed', async () => {
    const root = await fresh('gc-store');
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    const deadPid = Number(child.stdout);
    const file = path.join(root, 'locks', `build-${deadPid}-abcdef.json`);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.writeFile(
      file,
      JSON.stringify({
        version: 1,
        pid: deadPid,
        start: null,
        host: os.hostname(),
        createdAt: new Date().toISOString(),
        refs: ['sha256:' + 'a'.repeat(64)],
      }),
    );
    const live = await markInUse(root, ['live-ref']);
    const set = await readInUse(root);
    expect(set.markers).toBe(1);
    expect(set.refs.has('live-ref')).toBe(true);
    expect(set.refs.has('sha256:' + 'a'.repeat(64))).toBe(false);
    expect(await exists(file)).toBe(false);
    await live.release();
  });

  test('listings and snapshots go with the last layer of their diff_id, the ones COPY --from read included', async () => {
    const root = await fresh('gc-store');
    const ctx = await fresh('gc-ctx');
    await writeFiles(ctx, {
      Dockerfile:
        'FROM scratch AS build\nCOPY a.txt /out/\n\nFROM scratch\nCOPY --from=build /out/a.txt /a.txt\n',
      'a.txt': 'hello\n',
    });
    const run = await runBuild(ctx, root);
    const snapshots = path.join(root, 'snapshots');
    // The build stage's COPY wrote its layer as a snapshot (another stage reads it), and COPY --from read it
    // through a view of that snapshot: no chain is unpacked.
    const made = await fsp.readdir(snapshots);
    expect(made.filter((n) => n.startsWith('chain-'))).toEqual([]);
    expect(made).toHaveLength(1);

    // A layer snapshot and listing for a diff_id nothing has, and ones for a layer a record has.
    const orphan = randomBytes(32).toString('hex');
    const live = digestHex(run.image.layers[0]?.diffId as Digest);
    for (const hex of [orphan, live]) {
      await fsp.mkdir(path.join(snapshots, hex, 'etc'), { recursive: true });
      await fsp.writeFile(path.join(snapshots, hex, 'etc', 'f'), 'x');
      await fsp.mkdir(path.join(root, 'listings'), { recursive: true });
      await fsp.writeFile(path.join(root, 'listings', `${hex}.json`), '[]');
    }

    await pruneStore(root, { keepStorage: 1e12 }); // under the bound: only garbage goes
    expect(await exists(path.join(snapshots, orphan))).toBe(false);
    expect(await exists(path.join(root, 'listings', `${orphan}.json`))).toBe(false);
    expect(await exists(path.join(snapshots, live))).toBe(true);
    expect(await exists(path.join(root, 'listings', `${live}.json`))).toBe(true);
    expect(await exists(path.join(snapshots, made[0] as string))).toBe(true);

    await pruneStore(root); // every record goes, and with them what was made from their layers
    expect(await fsp.readdir(snapshots)).toEqual([]);
    expect(await exists(path.join(root, 'listings', `${live}.json`))).toBe(false);
  });

  test('an untagged base image (pulled by digest, say) lives as long as records built on it', async () => {
    const root = await fresh('gc-store');
    const base = await runBuild(await context(4), root);
    const ctx = await fresh('gc-ctx');
    await writeFiles(ctx, {
      Dockerfile: `FROM example.com/base@sha256:${'f'.repeat(64)}\nCOPY x /\n`,
      x: 'x',
    });
    await runBuild(ctx, root, {
      resolveImage: async () => ({
        manifestDigest: base.image.manifestDigest,
        configDigest: base.image.configDigest,
        config: base.image.config,
        layers: base.image.layers,
      }),
    });
    // The base's own records go (as if least recently used); the records built on it stay.
    for (const r of await listCacheRecords(root)) {
      if ((r.inputs as { parent: string }).parent !== base.image.manifestDigest) {
        await fsp.rm(path.join(root, 'index', `${digestHex(r.key)}.json`));
      }
    }
    expect((await listCacheRecords(root)).map((r) => r.description)).toContain('COPY x /');
    await pruneStore(root, { keepStorage: 1e12 }); // under the bound: only garbage goes
    const blobs = new BlobStore(root);
    const baseBlobs = [
      base.image.manifestDigest,
      base.image.configDigest,
      ...base.image.layers.map((l) => l.digest),
    ];
    for (const d of baseBlobs) expect(await blobs.has(d)).toBe(true);
    expect((await checkStore(root, { repair: false })).problems).toEqual([]);
    const usage = await readStoreUsage(root);
    expect(usage.rows.find((r) => r.kind === 'images')?.count).toBe(baseBlobs.length);

    await pruneStore(root); // no records left on it: the base goes too
    for (const d of baseBlobs) expect(await blobs.has(d)).toBe(false);
  });

  test('a compressed-copy note goes once its blob is gone; one whose blob is here stays with its layer', async () => {
    const root = await fresh('gc-store');
    const run = await runBuild(await context(4), root);
    await tag(root, 'kept:latest', run);
    const [first, second] = run.image.layers;
    if (first === undefined || second === undefined) throw new Error('the build made fewer than two layers');
    const copy = await new BlobStore(root).put(randomBytes(512));
    await writeCompressedNote(root, first.diffId, 'gzip', { digest: copy.digest, size: copy.size });
    await writeCompressedNote(root, second.diffId, 'zstd', { digest: `sha256:${'e'.repeat(64)}`, size: 9 });
    await pruneStore(root, { keepStorage: 1e12 });
    expect(await readCompressedNote(root, first.diffId, 'gzip')).toEqual({
      digest: copy.digest,
      size: copy.size,
    });
    expect(await readCompressedNote(root, second.diffId, 'zstd')).toBeUndefined();
  });

  test('chain snapshot names follow parent links incrementally, as rootfs.ts names them', () => {
    const d = (c: string): Digest => `sha256:${c.repeat(64)}`;
    const rec = (key: string, parent: string, diffId?: Digest): CacheRecord => ({
      version: 1,
      key: d(key),
      description: key,
      layer: diffId ? { digest: diffId, diffId, size: 1, mediaType: 'x' } : null,
      inputs: { parent, op: { instruction: key } },
      durationMs: 0,
      createdAt: '',
      lastUsedAt: '',
    });
    const base = {
      blobs: new Set<Digest>(),
      images: [{ manifest: d('m'), diffIds: [d('1'), d('2')], layers: [] }],
    };
    const names = liveChainNames(
      [
        rec('a', d('m'), d('3')),
        rec('b', d('a')),
        rec('c', d('b'), d('4')),
        rec('s', 'scratch:linux/amd64', d('5')),
      ],
      [base],
    );
    expect(names).toEqual(
      new Set([
        chainSnapshotName([]),
        chainSnapshotName([d('1'), d('2')]),
        chainSnapshotName([d('1'), d('2'), d('3')]), // a, and b (no layer) on it
        chainSnapshotName([d('1'), d('2'), d('3'), d('4')]),
        chainSnapshotName([d('5')]),
      ]),
    );
    // A record whose base is unknown (an image neither tagged nor stored) has no chain.
    expect(liveChainNames([rec('x', d('9'), d('3'))], []).size).toBe(1);
  });

  test('defaultMaxStorage is a tenth of the filesystem, at most 20 GB, even before the store exists', async () => {
    const root = path.join(await fresh('gc-store'), 'not', 'yet');
    const max = await defaultMaxStorage(root);
    const st = await fsp.statfs(os.tmpdir());
    expect(max).toBe(Math.min(20e9, Math.floor(st.blocks * st.bsize * 0.1)));
  });
});
