import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../src/store/blob-store';
import {
  mountOverlay,
  mountPoints,
  prepareRunRootfs,
  recoverStaleRuns,
  type RunRootfs,
} from '../../src/layers/overlay';
import { ensureSnapshots } from '../../src/layers/snapshots';
import type { LayerEntry } from '../../src/layers/tar-writer';
import {
  mountsUnder,
  requireRoot,
  requireTools,
  storeEntries,
  tempDir,
} from '../executor/sandbox/support/fixtures';

requireRoot();
requireTools('mount', 'umount', 'setfattr', 'getfattr', 'mknod', 'mv');

let root: string;
let blobs: BlobStore;
let mountsBefore: string[];

beforeEach(async () => {
  root = await tempDir('overlay');
  blobs = new BlobStore(root);
  await blobs.init();
  mountsBefore = mountsUnder(root);
});

afterEach(async () => {
  // Every test leaves the host's mount table as it found it.
  expect(mountsUnder(root)).toEqual(mountsBefore);
  await fsp.rm(root, { recursive: true, force: true });
});

const T = 1_600_000_000;
const f = (p: string, content: string, extra: Partial<LayerEntry> = {}): LayerEntry =>
  ({ type: 'file', path: p, content: Buffer.from(content), mtime: T, ...extra }) as LayerEntry;
const d = (p: string, extra: Partial<LayerEntry> = {}): LayerEntry =>
  ({ type: 'dir', path: p, mtime: T, ...extra }) as LayerEntry;

/** Two layers: a base, and one on top that deletes a file and makes a directory opaque. */
async function twoLayers(): Promise<string[]> {
  const base = await storeEntries(blobs, [
    d('etc'),
    f('etc/passwd', 'root:x:0:0::/root:/bin/sh\n'),
    d('data'),
    f('data/a', 'a'),
    f('data/b', 'b'),
    d('data/sub'),
    f('data/sub/c', 'c'),
    d('keep'),
    f('keep/k', 'k'),
    f('old-name', 'renamed'),
    f('mode-file', 'm', { mode: 0o644 }),
    f('owner-file', 'o'),
    f('gone', 'deleted above'),
    d('opq'),
    f('opq/hidden', 'hidden by the layer above'),
    f('hl1', 'linked'),
    { type: 'hardlink', path: 'hl2', target: 'hl1' },
  ]);
  const top = await storeEntries(blobs, [
    { type: 'whiteout', path: 'gone' },
    d('opq'),
    { type: 'opaque', path: 'opq' },
    f('opq/visible', 'v'),
  ]);
  return ensureSnapshots(root, blobs, [base, top]);
}

/** A command's worth of changes, made in the rootfs the way a RUN would. */
async function change(rootfs: string): Promise<void> {
  const p = (rel: string): string => path.join(rootfs, rel);
  await fsp.writeFile(p('new.txt'), 'new');
  await fsp.rm(p('data/a'));
  await fsp.writeFile(p('data/b'), 'replaced');
  await fsp.rename(p('old-name'), p('new-name'));
  execFileSync('mv', [p('keep'), p('kept')]); // a directory rename: a copy under redirect_dir=off
  await fsp.chmod(p('mode-file'), 0o600);
  await fsp.chown(p('owner-file'), 1000, 1000);
  await fsp.rm(p('data/sub'), { recursive: true });
  await fsp.mkdir(p('data/sub'));
  await fsp.writeFile(p('data/sub/n'), 'n');
  await fsp.writeFile(p('hl1'), 'changed through one name');
}

/** Entries as comparable data: contents read, times of now dropped. */
async function normalise(entries: LayerEntry[]): Promise<string[]> {
  const out: string[] = [];
  for (const e of entries) {
    let line = `${e.type} ${e.path}`;
    if (e.type !== 'whiteout' && e.type !== 'opaque')
      line += ` ${(e.mode ?? 0).toString(8)} ${e.uid}:${e.gid}`;
    if (e.type === 'file') line += ` ${await fsp.readFile(e.content as string, 'utf8')}`;
    if (e.type === 'symlink' || e.type === 'hardlink') line += ` -> ${e.target}`;
    out.push(line);
  }
  return out;
}

const EXPECTED = [
  'dir data 755 0:0',
  'whiteout data/a',
  'file data/b 644 0:0 replaced',
  'dir data/sub 755 0:0',
  'opaque data/sub',
  'file data/sub/n 644 0:0 n',
  'file hl1 644 0:0 changed through one name',
  'whiteout keep',
  'dir kept 755 0:0',
  'file kept/k 644 0:0 k',
  'file mode-file 600 0:0 m',
  'file new-name 644 0:0 renamed',
  'file new.txt 644 0:0 new',
  'whiteout old-name',
  'file owner-file 644 1000:1000 o',
];

/** path → type, mode, owner, link target or content hash: the tree as a container sees it. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await fsp.readdir(path.join(dir, rel))).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = await fsp.lstat(path.join(dir, r));
      let what = `${r} ${(st.mode & 0o177777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isSymbolicLink()) what += ` -> ${await fsp.readlink(path.join(dir, r))}`;
      if (st.isFile())
        what += ` ${createHash('sha256')
          .update(readFileSync(path.join(dir, r)))
          .digest('hex')
          .slice(0, 12)}`;
      out.push(what);
      if (st.isDirectory()) await walk(r);
    }
  };
  await walk('');
  return out;
}

describe('prepareRunRootfs (overlay)', () => {
  it('shows the image through the snapshots and gives exactly the change a command made', async () => {
    const lowers = await twoLayers();
    const rootfs = await prepareRunRootfs({ lowers, scratch: path.join(root, 'runs', 'a'), mode: 'overlay' });
    try {
      expect(rootfs.mode).toBe('overlay');
      expect(mountPoints()).toContain(rootfs.path);
      const names = await fsp.readdir(rootfs.path);
      expect(names).not.toContain('gone');
      expect(await fsp.readdir(path.join(rootfs.path, 'opq'))).toEqual(['visible']);
      await change(rootfs.path);
      const entries = await rootfs.diff();
      expect(mountPoints()).not.toContain(rootfs.path); // diff takes the mount down first
      expect(await normalise(entries)).toEqual(EXPECTED);
    } finally {
      await rootfs.release();
    }
    await expect(fsp.lstat(path.join(root, 'runs', 'a'))).rejects.toThrow(/ENOENT/);
  });

  it('gives an empty change for a command that changed nothing', async () => {
    const lowers = await twoLayers();
    const rootfs = await prepareRunRootfs({ lowers, scratch: path.join(root, 'runs', 'b') });
    try {
      await fsp.readFile(path.join(rootfs.path, 'etc/passwd'));
      expect(await rootfs.diff()).toEqual([]);
    } finally {
      await rootfs.release();
    }
  });

  it('starts from an empty root for FROM scratch', async () => {
    const rootfs = await prepareRunRootfs({ lowers: [], scratch: path.join(root, 'runs', 'c') });
    try {
      expect(await fsp.readdir(rootfs.path)).toEqual([]);
      await fsp.writeFile(path.join(rootfs.path, 'x'), 'x');
      expect((await rootfs.diff()).map((e) => e.path)).toEqual(['x']);
    } finally {
      await rootfs.release();
    }
  });

  it('mounts images deeper than one mount option can name with their full paths', async () => {
    // Snapshots under a long root: 120 layers × ~150 characters is far past the 4 KiB option page.
    const deepRoot = path.join(root, 'a-rather-long-directory-name-to-make-paths-long'.repeat(2));
    const deepBlobs = new BlobStore(deepRoot);
    await deepBlobs.init();
    const layers = [];
    for (let i = 0; i < 120; i++) {
      const entries: LayerEntry[] = [d('d'), f(`d/${i}`, String(i)), f(`f${i}`, String(i))];
      if (i === 60) entries.push({ type: 'whiteout', path: 'f10' });
      layers.push(await storeEntries(deepBlobs, entries));
    }
    const lowers = await ensureSnapshots(deepRoot, deepBlobs, layers);
    expect(lowers.join(':').length).toBeGreaterThan(4096);
    const rootfs = await prepareRunRootfs({
      lowers,
      scratch: path.join(root, 'runs', 'deep'),
      mode: 'overlay',
    });
    try {
      const names = await fsp.readdir(rootfs.path);
      expect(names).toHaveLength(120); // d + 119 files (f10 deleted by layer 60)
      expect(names).not.toContain('f10');
      expect(await fsp.readdir(path.join(rootfs.path, 'd'))).toHaveLength(120);
      await fsp.writeFile(path.join(rootfs.path, 'f119'), 'changed');
      expect(await normalise(await rootfs.diff())).toEqual(['file f119 644 0:0 changed']);
    } finally {
      await rootfs.release();
    }
  });

  /** Layers where the top ones hide things the bottom (grouped) ones hold. */
  async function stackedLayers(n: number): Promise<string[]> {
    const layers = [];
    for (let i = 0; i < n; i++) {
      const entries: LayerEntry[] = [d('all'), f(`all/${i}`, String(i))];
      if (i === 0) entries.push(d('opq'), f('opq/bottom', 'b'), f('wh-top', 'x'), f('wh-bottom', 'x'));
      if (i === 1) entries.push({ type: 'whiteout', path: 'wh-bottom' });
      if (i === n - 1) entries.push(d('opq'), { type: 'opaque', path: 'opq' }, f('opq/top', 't'));
      if (i === n - 2) entries.push({ type: 'whiteout', path: 'wh-top' });
      layers.push(await storeEntries(blobs, entries));
    }
    return ensureSnapshots(root, blobs, layers);
  }

  it.each([
    ['a read-only overlay group', 6, 4],
    ['a copied group', 10, 3],
  ])('stacks more layers than one mount may hold by merging the bottom ones (%s)', async (_, n, max) => {
    const lowers = await stackedLayers(n);
    const rootfs = await prepareRunRootfs({
      lowers,
      scratch: path.join(root, 'runs', `g${n}`),
      mode: 'overlay',
      maxLowersPerMount: max,
    });
    try {
      const names = (await fsp.readdir(rootfs.path)).sort();
      expect(names).toEqual(['all', 'opq']);
      expect((await fsp.readdir(path.join(rootfs.path, 'all'))).length).toBe(n);
      expect(await fsp.readdir(path.join(rootfs.path, 'opq'))).toEqual(['top']);
      await fsp.writeFile(path.join(rootfs.path, 'all/new'), 'n');
      expect(await normalise(await rootfs.diff())).toEqual(['dir all 755 0:0', 'file all/new 644 0:0 n']);
    } finally {
      await rootfs.release();
    }
  });
});

describe('prepareRunRootfs (copy fallback)', () => {
  it('shows the same tree as overlayfs and gives the same change', async () => {
    const lowers = await twoLayers();
    const viaOverlay = await prepareRunRootfs({
      lowers,
      scratch: path.join(root, 'runs', 'o'),
      mode: 'overlay',
    });
    const viaCopy = await prepareRunRootfs({ lowers, scratch: path.join(root, 'runs', 'k'), mode: 'copy' });
    try {
      expect(viaCopy.mode).toBe('copy');
      expect(await listing(viaCopy.path)).toEqual(await listing(viaOverlay.path));
      await change(viaOverlay.path);
      await change(viaCopy.path);
      const [o, k] = await Promise.all([viaOverlay.diff(), viaCopy.diff()]);
      expect(await normalise(k)).toEqual(EXPECTED);
      expect(await normalise(k)).toEqual(await normalise(o));
    } finally {
      await viaOverlay.release();
      await viaCopy.release();
    }
  });

  it('is what auto falls back to when overlayfs refuses the upper dir, saying why', async () => {
    const lowers = await twoLayers();
    // An overlay upper dir cannot live on overlayfs itself: put the scratch dir inside a merged dir.
    const outer = await prepareRunRootfs({
      lowers,
      scratch: path.join(root, 'runs', 'outer'),
      mode: 'overlay',
    });
    let inner: RunRootfs | undefined;
    try {
      inner = await prepareRunRootfs({ lowers, scratch: path.join(outer.path, 'scratch') });
      expect(inner.mode).toBe('copy');
      expect(inner.fallbackReason).toMatch(/cannot mount overlayfs/);
      await change(inner.path);
      expect(await normalise(await inner.diff())).toEqual(EXPECTED);
    } finally {
      await inner?.release();
      await outer.release();
    }
  });

  it('refuses instead of falling back when overlay was asked for', async () => {
    const lowers = await twoLayers();
    const outer = await prepareRunRootfs({
      lowers,
      scratch: path.join(root, 'runs', 'outer'),
      mode: 'overlay',
    });
    try {
      await expect(
        prepareRunRootfs({ lowers, scratch: path.join(outer.path, 'scratch'), mode: 'overlay' }),
      ).rejects.toThrow(/cannot mount overlayfs/);
    } finally {
      await outer.release();
    }
  });
});

describe('recoverStaleRuns', () => {
  it('unmounts and removes what a dead build left, and leaves live builds alone', async () => {
    const lowers = await twoLayers();
    const dead = spawnSync('true').pid as number;
    const runs = path.join(root, 'runs');
    const staleDir = path.join(runs, `${dead}-abc`);
    const liveDir = path.join(runs, `${process.pid}-def`);
    await fsp.mkdir(path.join(staleDir, 'merged'), { recursive: true });
    await fsp.mkdir(liveDir, { recursive: true });
    await mountOverlay({ lowers, target: path.join(staleDir, 'merged'), scratch: staleDir });
    expect(mountPoints()).toContain(path.join(staleDir, 'merged'));
    expect(await recoverStaleRuns(runs)).toBe(1);
    expect(await fsp.readdir(runs)).toEqual([`${process.pid}-def`]);
  });
});
