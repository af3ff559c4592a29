import { randomBytes, createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { BlobStore } from '../../../src/store/blob-store';
import type { BlobRef } from '../../../src/cache/transfer/format';
import {
  CacheMountArchiveError,
  packCacheMount,
  restoreCacheMount,
} from '../../../src/executor/ops/cache-mount-archive';
import { acquireCacheDir, cacheMountKey, cacheMountsDir } from '../../../src/executor/sandbox/cache-mounts';
import { encodeHeader, endOfArchive, padding, TYPEFLAG } from '../../../src/layers/tar-header';

// Owners other than our own can only be set (and restored) by root.
const asRoot = process.getuid?.() === 0;

let dir: string;
let root: string;
let store: BlobStore;

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-cache-archive-'));
  root = path.join(dir, 'root');
  store = new BlobStore(root);
  await store.init();
});

afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** A cache `id` holding files, directories, links, odd modes and owners and fixed mtimes; returns its dir. */
async function makeCache(id: string): Promise<string> {
  const cache = await acquireCacheDir(root, { id, sharing: 'shared' });
  const d = cache.dir;
  await cache.release();
  const at = (rel: string): string => path.join(d, rel);
  await fsp.mkdir(at('bin'));
  await fsp.mkdir(at('sub/deep/empty'), { recursive: true });
  await fsp.writeFile(at('a.txt'), 'alpha\n');
  await fsp.writeFile(at('bin/tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
  await fsp.chmod(at('bin/tool'), 0o755);
  await fsp.writeFile(at('secret'), 's3cr3t');
  await fsp.chmod(at('secret'), 0o600);
  await fsp.writeFile(at('setuid'), 'su');
  await fsp.writeFile(at('sub/deep/big.bin'), randomBytes(3 * 1024 * 1024 + 17));
  await fsp.chmod(at('sub/deep/empty'), 0o700);
  await fsp.symlink('a.txt', at('link-rel'));
  // Absolute and dangling targets are data: restoring must neither follow nor rewrite them.
  await fsp.symlink('/etc/passwd', at('link-abs'));
  await fsp.symlink('../nowhere', at('sub/dangling'));
  await fsp.link(at('a.txt'), at('sub/hard'));
  if (asRoot) {
    await fsp.chown(at('bin/tool'), 1000, 1000);
    await fsp.chown(at('secret'), 1001, 50);
    await fsp.lchown(at('link-rel'), 1000, 1000);
  }
  // chmod after chown: chown clears setuid.
  await fsp.chmod(at('setuid'), 0o4755);
  // Times last, children before parents (writing into a directory moves its mtime).
  let t = 1_600_000_000;
  const stamp = async (rel: string, link = false): Promise<void> => {
    t += 1000;
    if (link) await fsp.lutimes(at(rel), t, t + 0.25);
    else await fsp.utimes(at(rel), t, t + 0.5);
  };
  for (const rel of ['a.txt', 'bin/tool', 'secret', 'setuid', 'sub/deep/big.bin']) await stamp(rel);
  for (const rel of ['link-rel', 'link-abs', 'sub/dangling']) await stamp(rel, true);
  for (const rel of ['sub/deep/empty', 'sub/deep', 'sub', 'bin']) await stamp(rel);
  return d;
}

interface Node {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  content?: string;
}

/** A tree as comparable data: every path's type, mode, owner, mtime (whole seconds) and content or link target. */
async function describeTree(top: string): Promise<Node[]> {
  const out: Node[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = (await fsp.readdir(path.join(top, rel))).sort();
    for (const name of names) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const full = path.join(top, r);
      const st = await fsp.lstat(full);
      const type = st.isDirectory()
        ? 'dir'
        : st.isSymbolicLink()
          ? 'symlink'
          : st.isFile()
            ? 'file'
            : 'other';
      const node: Node = {
        path: r,
        type,
        // A symlink's own mode means nothing on Linux (and cannot be set).
        mode: type === 'symlink' ? 0 : st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtime: Math.floor(st.mtimeMs / 1000),
      };
      if (type === 'file')
        node.content = createHash('sha256')
          .update(await fsp.readFile(full))
          .digest('hex');
      if (type === 'symlink') node.content = await fsp.readlink(full);
      out.push(node);
      if (type === 'dir') await walk(r);
    }
  };
  await walk('');
  return out;
}

async function emptyDir(name: string): Promise<string> {
  const d = path.join(dir, name);
  await fsp.mkdir(d);
  return d;
}

describe('packCacheMount / restoreCacheMount', () => {
  it('restores the same tree: types, modes, owners, link targets, contents, mtimes and hardlinks', async () => {
    const src = await makeCache('go-build');
    const ref = (await packCacheMount(root, store, 'go-build')) as BlobRef;
    expect(ref.size).toBe(await store.size(ref.digest));
    const dest = await emptyDir('restored');
    await restoreCacheMount(root, store, ref, dest);

    const before = await describeTree(src);
    expect(await describeTree(dest)).toEqual(before);
    expect(before.find((n) => n.path === 'setuid')?.mode).toBe(0o4755);
    expect(before.find((n) => n.path === 'sub/deep/empty')?.mode).toBe(0o700);
    if (asRoot) expect(before.find((n) => n.path === 'secret')).toMatchObject({ uid: 1001, gid: 50 });
    const [a, hard] = await Promise.all(['a.txt', 'sub/hard'].map((p) => fsp.lstat(path.join(dest, p))));
    expect(hard?.ino).toBe(a?.ino);
  });

  it('is deterministic: the same cache packs to the same digest, and so does a restored copy of it', async () => {
    await makeCache('npm');
    const first = await packCacheMount(root, store, 'npm');
    const second = await packCacheMount(root, store, 'npm');
    expect(second).toEqual(first);

    // Restored through the lazy hook into another cache: packing that gives the very same blob.
    const copy = await acquireCacheDir(root, {
      id: 'npm-copy',
      sharing: 'shared',
      restore: (d) => restoreCacheMount(root, store, first as BlobRef, d),
    });
    await copy.release();
    expect(copy.warning).toBeUndefined();
    expect(await packCacheMount(root, store, 'npm-copy')).toEqual(first);
  });

  it('archives only the data instance, entries relative to it', async () => {
    await makeCache('c');
    const base = path.join(cacheMountsDir(root), cacheMountKey('c'));
    await fsp.mkdir(path.join(base, 'private-1'));
    await fsp.writeFile(path.join(base, 'private-1', 'other'), 'x');
    const ref = (await packCacheMount(root, store, 'c')) as BlobRef;
    const dest = await emptyDir('restored');
    await restoreCacheMount(root, store, ref, dest);
    expect((await fsp.readdir(dest)).sort()).toEqual([
      'a.txt',
      'bin',
      'link-abs',
      'link-rel',
      'secret',
      'setuid',
      'sub',
    ]);
  });

  it('gives undefined for a cache that was never created', async () => {
    expect(await packCacheMount(root, store, 'never-used')).toBeUndefined();
    expect(await fsp.readdir(store.blobDir)).toEqual([]);
  });

  it('waits for a locked user of the cache before reading it', async () => {
    await makeCache('locked');
    const user = await acquireCacheDir(root, { id: 'locked', sharing: 'locked' });
    let done = false;
    const pending = packCacheMount(root, store, 'locked').then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
    await user.release();
    expect(await pending).toBeDefined();
  });

  it('refuses to restore into a directory that is not empty', async () => {
    await makeCache('c');
    const ref = (await packCacheMount(root, store, 'c')) as BlobRef;
    const dest = await emptyDir('busy');
    await fsp.writeFile(path.join(dest, 'x'), 'x');
    await expect(restoreCacheMount(root, store, ref, dest)).rejects.toThrow(CacheMountArchiveError);
  });

  it('checks the blob: a damaged or missing archive fails the restore', async () => {
    await makeCache('c');
    const ref = (await packCacheMount(root, store, 'c')) as BlobRef;
    // A valid archive of another tree sitting under this digest: the content unpacks but is not what was named.
    const second = await acquireCacheDir(root, { id: 'second', sharing: 'shared' });
    await fsp.writeFile(path.join(second.dir, 'f'), 'f');
    const secondRef = (await packCacheMount(root, store, 'second')) as BlobRef;
    await fsp.copyFile(store.blobPath(secondRef.digest), store.blobPath(ref.digest));
    const err = await restoreCacheMount(root, store, ref, await emptyDir('damaged')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CacheMountArchiveError);
    expect((err as Error).message).toMatch(/corrupt|damaged/);

    await expect(
      restoreCacheMount(root, store, { ...secondRef, size: secondRef.size + 1 }, await emptyDir('size')),
    ).rejects.toThrow(/damaged/);

    await fsp.rm(store.blobPath(secondRef.digest));
    await expect(restoreCacheMount(root, store, secondRef, await emptyDir('gone'))).rejects.toThrow(
      CacheMountArchiveError,
    );
  });

  it('never writes outside the target, whatever the archive says', async () => {
    const body = Buffer.from('pwned');
    const member = (name: string): Buffer[] => [
      encodeHeader({
        name,
        typeflag: TYPEFLAG.file,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: body.length,
        mtime: 0,
        linkname: '',
        devmajor: 0,
        devminor: 0,
      }),
      body,
      Buffer.alloc(padding(body.length)),
    ];
    const tar = Buffer.concat([...member('../escaped'), endOfArchive()]);
    const ref = await store.put(gzipSync(tar));
    const dest = await emptyDir('target');
    await expect(restoreCacheMount(root, store, ref, dest)).rejects.toThrow(/climbs out/);
    await expect(fsp.lstat(path.join(dir, 'escaped'))).rejects.toThrow(/ENOENT/);
  });
});
