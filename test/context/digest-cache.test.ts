import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DigestCache } from '../../src/context/digest-cache';
import { hashEntries, hashFile } from '../../src/context/hash';
import { statKey } from '../../src/context/types';
import { walkContext } from '../../src/context/walk';
import { tempDir, writeTree } from './support/data';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
// A clock far ahead of every file's times, so no entry counts as "changed too recently to trust".
const LATER = { now: () => BigInt(Date.now() + 3_600_000) * 1_000_000n };

describe('DigestCache with hashEntries', () => {
  let dir: string;
  let root: string;
  let cacheDir: string;
  beforeEach(() => {
    dir = tempDir();
    root = path.join(dir, 'ctx');
    cacheDir = path.join(dir, 'cache');
    fs.mkdirSync(root);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function run(options = LATER): Promise<{ digests: Map<string, string>; hashed: string[] }> {
    const cache = await DigestCache.open(cacheDir, root, options);
    const result = await hashEntries(root, await walkContext(root, null), { cache, concurrency: 4 });
    await cache.save();
    return { digests: new Map([...result.digests].map(([k, v]) => [k, v.sha256])), hashed: result.hashed };
  }

  test('hashes every file the first time and none when nothing changed', async () => {
    writeTree(root, { a: 'alpha', 'd/b': 'beta', 'd/e/c': '' });
    const first = await run();
    expect(first.hashed).toEqual(['a', 'd/b', 'd/e/c']);
    expect(first.digests).toEqual(
      new Map([
        ['a', sha('alpha')],
        ['d/b', sha('beta')],
        ['d/e/c', sha('')],
      ]),
    );
    const open = jest.spyOn(fs.promises, 'open');
    const openSync = jest.spyOn(jest.requireActual<typeof fs>('node:fs'), 'openSync');
    const cacheFile = fs.readdirSync(cacheDir)[0];
    const savedBefore = fs.statSync(path.join(cacheDir, cacheFile), { bigint: true });
    try {
      const second = await run();
      expect(second.hashed).toEqual([]);
      expect(second.digests).toEqual(first.digests);
      // Not a single file of the context was opened.
      const opened = [...open.mock.calls, ...openSync.mock.calls].map((c) => String(c[0]));
      expect(opened.filter((p) => p.startsWith(root))).toEqual([]);
      // And the cache, which holds exactly what was used, was not rewritten.
      const savedAfter = fs.statSync(path.join(cacheDir, cacheFile), { bigint: true });
      expect([savedAfter.ino, savedAfter.mtimeNs]).toEqual([savedBefore.ino, savedBefore.mtimeNs]);
      // The spies do see opens: a changed file is read, and the cache rewritten.
      fs.writeFileSync(path.join(root, 'a'), 'alpha2');
      expect((await run()).hashed).toEqual(['a']);
      const reopened = [...open.mock.calls, ...openSync.mock.calls].map((c) => String(c[0]));
      expect(reopened.filter((p) => p.startsWith(root))).toEqual([path.join(root, 'a')]);
      expect(reopened.some((p) => p.startsWith(cacheDir))).toBe(true);
    } finally {
      open.mockRestore();
      openSync.mockRestore();
    }
  });

  test('reads large files in chunks and caches their digests too', async () => {
    const big = Buffer.alloc(3 << 20, 'x');
    writeTree(root, { small: 's' });
    fs.writeFileSync(path.join(root, 'big'), big);
    const first = await run();
    expect(first.hashed).toEqual(['big', 'small']);
    expect(first.digests.get('big')).toBe(createHash('sha256').update(big).digest('hex'));
    expect((await run()).hashed).toEqual([]);
  });

  test('re-hashes a file whose content changed with the same size and mtime', async () => {
    const file = path.join(root, 'f');
    fs.writeFileSync(file, 'aaaa');
    // Whole seconds, so utimes can restore the mtime exactly (it takes seconds as a float).
    fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
    const before = fs.statSync(file, { bigint: true });
    expect((await run()).digests.get('f')).toBe(sha('aaaa'));

    fs.writeFileSync(file, 'bbbb');
    fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
    const after = fs.statSync(file, { bigint: true });
    // The premise: size, mtime and inode are all as before; only ctime moved.
    expect([after.size, after.mtimeNs, after.ino]).toEqual([before.size, before.mtimeNs, before.ino]);

    const second = await run();
    expect(second.hashed).toEqual(['f']);
    expect(second.digests.get('f')).toBe(sha('bbbb'));
  });

  test('re-hashes when the file was replaced (new inode), even with identical size and times', async () => {
    const file = path.join(root, 'f');
    fs.writeFileSync(file, 'one');
    await run();
    fs.writeFileSync(path.join(root, 'tmp'), 'two');
    fs.renameSync(path.join(root, 'tmp'), file);
    const second = await run();
    expect(second.hashed).toEqual(['f']);
    expect(second.digests.get('f')).toBe(sha('two'));
  });

  test('files changed within the racy window are hashed but not remembered', async () => {
    writeTree(root, { fresh: 'x' });
    // The real clock: the file was written a moment ago, inside the default 2 s window.
    expect((await run({ now: () => BigInt(Date.now()) * 1_000_000n })).hashed).toEqual(['fresh']);
    expect((await run({ now: () => BigInt(Date.now()) * 1_000_000n })).hashed).toEqual(['fresh']);
    // Once it is old enough it is remembered, and then reused.
    expect((await run()).hashed).toEqual(['fresh']);
    expect((await run()).hashed).toEqual([]);
  });

  test('the cache file keeps only entries used by the last run', async () => {
    writeTree(root, { a: '1', b: '2' });
    await run();
    fs.rmSync(path.join(root, 'b'));
    await run();
    const [file] = fs.readdirSync(cacheDir);
    const saved = JSON.parse(fs.readFileSync(path.join(cacheDir, file), 'utf8')) as { entries: string[] };
    expect(saved.entries.filter((_, i) => i % 3 === 0)).toEqual(['a']);
  });

  test('is written atomically: no temp files are left, and a damaged cache is ignored', async () => {
    writeTree(root, { a: '1' });
    await run();
    const files = fs.readdirSync(cacheDir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^context-digests-[0-9a-f]{32}\.json$/);
    fs.writeFileSync(path.join(cacheDir, files[0]), '{"version":1,"root":');
    expect((await run()).hashed).toEqual(['a']);
    expect((await run()).hashed).toEqual([]);
  });

  test('one cache file per context root', async () => {
    const other = path.join(dir, 'other');
    writeTree(root, { a: '1' });
    writeTree(other, { a: '1' });
    await run();
    const cache = await DigestCache.open(cacheDir, other, LATER);
    await hashEntries(other, await walkContext(other, null), { cache });
    await cache.save();
    expect(fs.readdirSync(cacheDir)).toHaveLength(2);
  });

  test('get() needs every stat field to match', async () => {
    writeTree(root, { f: 'x' });
    const stat = fs.statSync(path.join(root, 'f'), { bigint: true });
    const cache = await DigestCache.open(cacheDir, root, LATER);
    cache.set('f', stat, sha('x'));
    expect(cache.get('f', statKey(stat))).toBe(sha('x'));
    for (const field of ['size', 'mtimeNs', 'ctimeNs', 'ino', 'dev'] as const) {
      const changed = Object.assign(
        Object.create(Object.getPrototypeOf(stat) as object) as fs.BigIntStats,
        stat,
        {
          [field]: stat[field] + 1n,
        },
      );
      expect(cache.get('f', statKey(changed))).toBeUndefined();
    }
  });
});

describe('hashEntries against a context that changes after the walk', () => {
  let root: string;
  beforeEach(() => {
    root = tempDir();
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  test('a file rewritten since the walk is hashed as it is now, with its new stat', async () => {
    writeTree(root, { f: 'old' });
    const walked = await walkContext(root, null);
    fs.writeFileSync(path.join(root, 'f'), 'new content');
    const { digests } = await hashEntries(root, walked);
    expect(digests.get('f')?.sha256).toBe(sha('new content'));
    expect(digests.get('f')?.stat.size).toBe(11);
  });

  test('a file replaced by a directory or a FIFO since the walk is an error, not a hang', async () => {
    writeTree(root, { f: 'x', g: 'y' });
    const walked = await walkContext(root, null);
    fs.rmSync(path.join(root, 'f'));
    fs.mkdirSync(path.join(root, 'f'));
    await expect(hashEntries(root, walked)).rejects.toThrow(/no longer a regular file/);
    fs.rmSync(path.join(root, 'g'));
    execFileSync('mkfifo', [path.join(root, 'g')]);
    await expect(hashEntries(root, walked.slice(1))).rejects.toThrow(/no longer a regular file/);
  });
});

describe('hashEntries on worker threads (many misses)', () => {
  let root: string;
  beforeEach(() => {
    root = tempDir();
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  test('gives the same digests as the main thread, and files changed since the walk are hashed as they are now', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i++) files[`d${i % 7}/f${i}`] = `${i}`.repeat(16 * 1024);
    writeTree(root, files);
    const walked = await walkContext(root, null);
    fs.writeFileSync(path.join(root, 'd3/f10'), 'changed since the walk');
    fs.rmSync(path.join(root, 'd4/f11'));
    fs.mkdirSync(path.join(root, 'd4/f11'));
    fs.rmSync(path.join(root, 'd5/f12'));
    await expect(hashEntries(root, walked, { threads: 2 })).rejects.toThrow(
      /d4\/f11 is no longer a regular file/,
    );
    fs.rmSync(path.join(root, 'd4/f11'), { recursive: true });
    fs.writeFileSync(path.join(root, 'd4/f11'), 'back');
    const rest = walked.filter((e) => e.path !== 'd5/f12');
    const onWorkers = await hashEntries(root, rest, { threads: 2 });
    const onMain = await hashEntries(root, rest, { threads: 0 });
    expect([...onWorkers.digests.keys()]).toEqual(rest.filter((e) => e.type === 'file').map((e) => e.path));
    expect(onWorkers.digests).toEqual(onMain.digests);
    expect(onWorkers.digests.get('d3/f10')?.sha256).toBe(sha('changed since the walk'));
    expect(onWorkers.digests.get('d4/f11')?.sha256).toBe(sha('back'));
    expect(onWorkers.digests.get('d1/f1')?.sha256).toBe(sha('1'.repeat(16 * 1024)));
  });
});

describe('hashFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('streams large files', async () => {
    const file = path.join(dir, 'big');
    const chunk = Buffer.alloc(1 << 20, 7);
    const fd = fs.openSync(file, 'w');
    const h = createHash('sha256');
    for (let i = 0; i < 5; i++) {
      fs.writeSync(fd, chunk);
      h.update(chunk);
    }
    fs.closeSync(fd);
    const got = await hashFile(file);
    expect(got.sha256).toBe(h.digest('hex'));
    expect(got.stat.size).toBe(5 << 20);
  });

  test('does not follow a symlink', async () => {
    writeTree(dir, { target: 'x' });
    fs.symlinkSync('target', path.join(dir, 'link'));
    await expect(hashFile(path.join(dir, 'link'))).rejects.toThrow(/cannot read/);
  });
});
