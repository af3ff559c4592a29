import { execFileSync, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../src/store/blob-store';
import { digestHex, type Digest } from '../../src/store/digest';
import { LayerFormatError, UnsafeLayerError } from '../../src/layers/errors';
import { layerListing } from '../../src/layers/listing';
import { ensureSnapshot, ensureSnapshots, snapshotPath } from '../../src/layers/snapshots';
import type { LayerEntry } from '../../src/layers/tar-writer';
import { readTreeXattrs } from '../../src/layers/xattrs';
import { childEnv, transpileSources } from '../helpers/child-modules';
import { requireRoot, requireTools, storeEntries, tempDir } from '../executor/sandbox/support/fixtures';

requireRoot();
requireTools('setfattr', 'getfattr', 'mknod');

let root: string;
let blobs: BlobStore;

beforeEach(async () => {
  root = await tempDir('snap');
  blobs = new BlobStore(root);
  await blobs.init();
});

afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

const T = 1_600_000_000;

const layerEntries: LayerEntry[] = [
  { type: 'dir', path: 'etc', mode: 0o755, mtime: T },
  { type: 'file', path: 'etc/conf', content: Buffer.from('conf\n'), mode: 0o640, uid: 12, gid: 34, mtime: T },
  { type: 'hardlink', path: 'etc/conf-link', target: 'etc/conf' },
  { type: 'symlink', path: 'etc/abs', target: '/etc/passwd', mtime: T },
  { type: 'file', path: 'setuid', content: Buffer.from('x'), mode: 0o4755, mtime: T },
  { type: 'char', path: 'null', major: 1, minor: 3, mode: 0o666, mtime: T },
  { type: 'fifo', path: 'pipe', mode: 0o600, mtime: T },
  {
    type: 'file',
    path: 'caps',
    content: Buffer.from('x'),
    mtime: T,
    xattrs: { 'user.note': 'kept', 'trusted.overlay.opaque': 'y', 'trusted.overlay.redirect': '/x' },
  },
  { type: 'whiteout', path: 'gone' },
  { type: 'dir', path: 'var', mode: 0o755, mtime: T },
  { type: 'whiteout', path: 'var/old' },
  { type: 'dir', path: 'cache', mode: 0o700, mtime: T },
  { type: 'opaque', path: 'cache' },
  { type: 'file', path: 'cache/fresh', content: Buffer.from('f'), mtime: T },
];

describe('ensureSnapshot', () => {
  it('unpacks a layer in overlay lower-dir format: whiteouts as 0/0 devices, opaque dirs as xattrs', async () => {
    const layer = await storeEntries(blobs, layerEntries);
    const dir = await ensureSnapshot(root, blobs, layer);
    expect(dir).toBe(path.join(root, 'snapshots', digestHex(layer.diffId)));
    expect((await fsp.stat(dir)).mode & 0o7777).toBe(0o755);

    const conf = await fsp.lstat(path.join(dir, 'etc/conf'));
    expect([conf.mode & 0o7777, conf.uid, conf.gid, conf.mtimeMs / 1000]).toEqual([0o640, 12, 34, T]);
    expect((await fsp.lstat(path.join(dir, 'etc/conf-link'))).ino).toBe(conf.ino);
    expect(await fsp.readlink(path.join(dir, 'etc/abs'))).toBe('/etc/passwd');
    expect((await fsp.lstat(path.join(dir, 'setuid'))).mode & 0o7777).toBe(0o4755);
    const nul = await fsp.lstat(path.join(dir, 'null'));
    expect(nul.isCharacterDevice() && nul.rdev).toBe(0x103);
    expect((await fsp.lstat(path.join(dir, 'pipe'))).isFIFO()).toBe(true);

    for (const wh of ['gone', 'var/old']) {
      const st = await fsp.lstat(path.join(dir, wh));
      expect(st.isCharacterDevice()).toBe(true);
      expect(st.rdev).toBe(0);
    }
    const xattrs = await readTreeXattrs(dir);
    expect(xattrs.get('cache')?.get('trusted.overlay.opaque')?.toString()).toBe('y');
    // A layer may not steer overlayfs: its own trusted.overlay.* attributes are dropped, others kept.
    expect([...(xattrs.get('caps')?.keys() ?? [])]).toEqual(['user.note']);
    expect(await fsp.readdir(path.join(dir, 'cache'))).toEqual(['fresh']);
    // Writing the whiteout did not change its directory's mtime.
    expect((await fsp.lstat(path.join(dir, 'var'))).mtimeMs / 1000).toBe(T);
    // Nothing left behind in the temp area.
    expect((await fsp.readdir(path.join(root, 'tmp'))).filter((n) => n.startsWith('snapshot-'))).toEqual([]);
  });

  it('turns a path deleted and re-created as a directory in the same layer into an opaque dir', async () => {
    // Our tar writer will not write such a layer; other builders do. Make it with GNU tar.
    const src = await tempDir('snap-src');
    try {
      await fsp.writeFile(path.join(src, '.wh.data'), '');
      await fsp.mkdir(path.join(src, 'data'));
      await fsp.writeFile(path.join(src, 'data/new'), 'n');
      const tar = execFileSync('tar', ['-C', src, '--sort=name', '-cf', '-', '.wh.data', 'data']);
      const { digest } = await blobs.put(tar);
      const dir = await ensureSnapshot(root, blobs, { digest, diffId: digest });
      expect((await readTreeXattrs(dir)).get('data')?.get('trusted.overlay.opaque')?.toString()).toBe('y');
      expect(await fsp.readdir(dir)).toEqual(['data']);
      expect(await fsp.readdir(path.join(dir, 'data'))).toEqual(['new']);
    } finally {
      await fsp.rm(src, { recursive: true, force: true });
    }
  });

  it('is done once: a second call (and concurrent calls) return the same directory untouched', async () => {
    const layer = await storeEntries(blobs, layerEntries);
    const [a, b] = await Promise.all([
      ensureSnapshot(root, blobs, layer),
      ensureSnapshot(root, blobs, layer),
    ]);
    expect(a).toBe(b);
    const marker = path.join(a, 'marker');
    await fsp.writeFile(marker, 'still here');
    await ensureSnapshot(root, blobs, layer);
    expect(await fsp.readFile(marker, 'utf8')).toBe('still here');
  });

  it('returns snapshots in layer order', async () => {
    const one = await storeEntries(blobs, [{ type: 'file', path: 'a', content: Buffer.from('1') }]);
    const two = await storeEntries(blobs, [{ type: 'file', path: 'b', content: Buffer.from('2') }]);
    const dirs = await ensureSnapshots(root, blobs, [one, two]);
    expect(dirs).toEqual([snapshotPath(root, one.diffId), snapshotPath(root, two.diffId)]);
  });

  it('refuses a layer whose content does not match its diff_id, leaving nothing under the final name', async () => {
    const layer = await storeEntries(blobs, [{ type: 'file', path: 'a', content: Buffer.from('1') }]);
    const wrong: Digest = `sha256:${'0'.repeat(64)}`;
    await expect(ensureSnapshot(root, blobs, { digest: layer.digest, diffId: wrong })).rejects.toThrow(
      LayerFormatError,
    );
    await expect(fsp.lstat(snapshotPath(root, wrong))).rejects.toThrow(/ENOENT/);
    expect((await fsp.readdir(path.join(root, 'tmp'))).filter((n) => n.startsWith('snapshot-'))).toEqual([]);
  });

  it('refuses whiteouts that would be written through a symlink', async () => {
    const layer = await storeEntries(blobs, [
      { type: 'symlink', path: 'etc', target: '/etc' },
      { type: 'whiteout', path: 'etc/passwd' },
    ]);
    await expect(ensureSnapshot(root, blobs, layer)).rejects.toThrow(UnsafeLayerError);
    await expect(fsp.lstat(snapshotPath(root, layer.diffId))).rejects.toThrow(/ENOENT/);
  });

  it('leaves nothing under the final name when the unpacking process is killed, and a later unpack works', async () => {
    const many: LayerEntry[] = [];
    for (let i = 0; i < 3000; i++) {
      many.push({ type: 'file', path: `d${i % 30}/f${i}`, content: Buffer.alloc(4096, i % 251) });
    }
    const layer = await storeEntries(blobs, many);
    const out = await tempDir('snap-child');
    try {
      const src = await transpileSources(out, ['cache', 'layers']);
      const script = `
        const { BlobStore } = require(${JSON.stringify(path.join(src, 'store/blob-store.js'))});
        const { ensureSnapshot } = require(${JSON.stringify(path.join(src, 'layers/snapshots.js'))});
        ensureSnapshot(${JSON.stringify(root)}, new BlobStore(${JSON.stringify(root)}), ${JSON.stringify(layer)});
      `;
      const child = spawn(process.execPath, ['-e', script], { env: childEnv(), stdio: 'ignore' });
      // Kill it once it has started writing files into its temp tree.
      const tmp = path.join(root, 'tmp');
      const deadline = Date.now() + 30_000;
      for (;;) {
        const names = await fsp.readdir(tmp).catch(() => [] as string[]);
        const t = names.find((n) => n.startsWith('snapshot-'));
        if (t !== undefined && (await fsp.readdir(path.join(tmp, t))).length > 3) break;
        if (Date.now() > deadline) throw new Error('the child never started unpacking');
        await new Promise((r) => setTimeout(r, 5));
      }
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      await expect(fsp.lstat(snapshotPath(root, layer.diffId))).rejects.toThrow(/ENOENT/);

      // The killed holder's lock is stale; a new unpack takes over and completes.
      const dir = await ensureSnapshot(root, blobs, layer);
      expect((await fsp.readdir(dir)).length).toBe(30);
      expect((await fsp.readdir(path.join(dir, 'd7'))).length).toBe(100);
    } finally {
      await fsp.rm(out, { recursive: true, force: true });
    }
  });

  it('two processes unpacking the same layer at once both get the one complete snapshot', async () => {
    const many: LayerEntry[] = [];
    for (let i = 0; i < 500; i++) many.push({ type: 'file', path: `f${i}`, content: Buffer.from(String(i)) });
    const layer = await storeEntries(blobs, many);
    const out = await tempDir('snap-child');
    try {
      const src = await transpileSources(out, ['cache', 'layers']);
      const script = `
        const { BlobStore } = require(${JSON.stringify(path.join(src, 'store/blob-store.js'))});
        const { ensureSnapshot } = require(${JSON.stringify(path.join(src, 'layers/snapshots.js'))});
        ensureSnapshot(${JSON.stringify(root)}, new BlobStore(${JSON.stringify(root)}), ${JSON.stringify(layer)})
          .then((d) => process.stdout.write(d), (e) => { console.error(e); process.exit(1); });
      `;
      const run = (): Promise<string> =>
        new Promise((resolve, reject) => {
          const child = spawn(process.execPath, ['-e', script], { env: childEnv() });
          let stdout = '';
          child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          child.on('exit', (code) =>
            code === 0 ? resolve(stdout) : reject(new Error(`child exit ${code}`)),
          );
        });
      const [a, b] = await Promise.all([run(), run()]);
      expect(a).toBe(snapshotPath(root, layer.diffId));
      expect(b).toBe(a);
      expect((await fsp.readdir(a)).length).toBe(500);
      expect((await fsp.readdir(path.join(root, 'tmp'))).filter((n) => n.startsWith('snapshot-'))).toEqual(
        [],
      );
    } finally {
      await fsp.rm(out, { recursive: true, force: true });
    }
  });
});

describe('the listing read on the way', () => {
  it('is saved when a layer is unpacked, equal to a listing read from the blob', async () => {
    const layer = await storeEntries(blobs, [
      { type: 'dir', path: 'etc', mode: 0o750, uid: 0, gid: 4 },
      { type: 'file', path: 'etc/a', content: Buffer.from('a'), uid: 1000, gid: 1000 },
      { type: 'symlink', path: 'etc/l', target: '/etc/a' },
      { type: 'whiteout', path: 'etc/gone' },
    ]);
    await ensureSnapshot(root, blobs, layer);
    const file = path.join(root, 'listings', `${digestHex(layer.diffId)}.json`);
    const saved = JSON.parse(await fsp.readFile(file, 'utf8')) as unknown;
    await fsp.rm(file);
    expect(saved).toEqual(await layerListing(root, blobs, layer.digest, layer.diffId));
    expect(saved).toContainEqual({ path: 'etc/.wh.gone', type: 'file', mode: 0, uid: 0, gid: 0 });
  });
});
