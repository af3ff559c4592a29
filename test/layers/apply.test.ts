import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { applyLayer } from '../../src/layers/apply';
import { LayerFormatError, UnsafeLayerError } from '../../src/layers/errors';
import { createLayerTar, type LayerEntry } from '../../src/layers/tar-writer';
import { collect, rawTar, type RawMember } from './support/tar-helpers';

let tmp: string;
let root: string;
let outside: string;

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-apply-'));
  root = path.join(tmp, 'rootfs');
  outside = path.join(tmp, 'outside');
  await fsp.mkdir(root);
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(outside, 'victim'), 'untouched');
});

afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const T = 1600000000;

async function layerOf(entries: LayerEntry[], gzip = false): Promise<Readable> {
  const tar = await collect(createLayerTar(entries));
  return Readable.from([gzip ? zlib.gzipSync(tar) : tar]);
}

function raw(members: RawMember[]): Readable {
  return Readable.from([rawTar(members)]);
}

async function outsideUntouched(): Promise<void> {
  expect(await fsp.readdir(outside)).toEqual(['victim']);
  expect(await fsp.readFile(path.join(outside, 'victim'), 'utf8')).toBe('untouched');
}

const isRoot = process.getuid?.() === 0;

describe('applyLayer', () => {
  it('unpacks files, dirs, links, devices and fifos with modes, owners and mtimes (gzip)', async () => {
    const result = await applyLayer(
      await layerOf(
        [
          { type: 'dir', path: 'etc', mode: 0o755, mtime: T },
          { type: 'file', path: 'etc/passwd', content: Buffer.from('root:x:0:0\n'), mode: 0o644, mtime: T },
          { type: 'dir', path: 'home/app', mode: 0o700, uid: 1000, gid: 1000, mtime: T },
          {
            type: 'file',
            path: 'home/app/run.sh',
            content: Buffer.from('#!/bin/sh\n'),
            mode: 0o4755,
            uid: 1000,
            gid: 1001,
            mtime: T,
          },
          { type: 'symlink', path: 'bin', target: 'usr/bin', mtime: T },
          { type: 'hardlink', path: 'etc/passwd-', target: 'etc/passwd' },
          { type: 'fifo', path: 'run/pipe', mode: 0o620, mtime: T },
          { type: 'char', path: 'dev/null', major: 1, minor: 3, mode: 0o666, mtime: T },
          { type: 'dir', path: 'ro', mode: 0o555, mtime: T },
          { type: 'file', path: 'ro/inside', content: Buffer.from('x'), mtime: T },
        ],
        true,
      ),
      root,
    );
    expect(result.entries).toBe(10);
    const st = (p: string) => fsp.lstat(path.join(root, p));
    expect(await fsp.readFile(path.join(root, 'etc/passwd'), 'utf8')).toBe('root:x:0:0\n');
    expect((await st('etc/passwd')).mode & 0o7777).toBe(0o644);
    expect((await st('etc/passwd')).mtimeMs).toBe(T * 1000);
    expect((await st('etc/passwd-')).ino).toBe((await st('etc/passwd')).ino);
    expect((await st('home/app')).mode & 0o7777).toBe(0o700);
    expect((await st('home/app')).mtimeMs).toBe(T * 1000); // dir mtime survives writing its children
    expect((await st('ro')).mode & 0o7777).toBe(0o555);
    expect(await fsp.readlink(path.join(root, 'bin'))).toBe('usr/bin');
    expect((await st('bin')).mtimeMs).toBe(T * 1000);
    expect((await st('run/pipe')).isFIFO()).toBe(true);
    expect((await st('run/pipe')).mode & 0o7777).toBe(0o620);
    if (isRoot) {
      expect((await st('home/app/run.sh')).mode & 0o7777).toBe(0o4755); // setuid kept after chown
      expect((await st('home/app/run.sh')).uid).toBe(1000);
      expect((await st('home/app/run.sh')).gid).toBe(1001);
      expect((await st('home/app')).uid).toBe(1000);
      const dev = await st('dev/null');
      expect(dev.isCharacterDevice()).toBe(true);
      expect(dev.rdev).toBe((1 << 8) | 3); // makedev(1, 3)
    } else {
      expect(result.skipped.map((s) => s.path)).toContain('dev/null');
    }
  });

  it('sameOwner: false leaves files owned by the caller', async () => {
    await applyLayer(
      await layerOf([{ type: 'file', path: 'f', content: Buffer.from('x'), uid: 4242, gid: 4242 }]),
      root,
      { sameOwner: false },
    );
    expect((await fsp.stat(path.join(root, 'f'))).uid).toBe(process.getuid?.());
  });

  it('whiteouts remove lower files; opaque dirs hide lower contents but keep this layer', async () => {
    await applyLayer(
      await layerOf([
        { type: 'dir', path: 'a' },
        { type: 'file', path: 'a/keep', content: Buffer.from('1') },
        { type: 'file', path: 'a/gone', content: Buffer.from('2') },
        { type: 'dir', path: 'a/gonedir' },
        { type: 'file', path: 'a/gonedir/f', content: Buffer.from('3') },
        { type: 'dir', path: 'opq' },
        { type: 'file', path: 'opq/lower1', content: Buffer.from('4') },
        { type: 'dir', path: 'opq/sub' },
        { type: 'file', path: 'opq/sub/lower2', content: Buffer.from('5') },
      ]),
      root,
    );
    // Second layer, with the opaque marker *after* this layer's own entries in that directory (a valid
    // order for other writers): those must survive it.
    const second = raw([
      { header: { name: 'a/.wh.gone' } },
      { header: { name: 'a/.wh.gonedir' } },
      { header: { name: 'a/.wh.never-existed' } },
      { header: { name: 'opq/', typeflag: '5', mode: 0o755 } },
      { header: { name: 'opq/new' }, data: Buffer.from('6') },
      { header: { name: 'opq/sub/', typeflag: '5', mode: 0o755 } },
      { header: { name: 'opq/sub/new2' }, data: Buffer.from('7') },
      { header: { name: 'opq/.wh..wh..opq' } },
      { header: { name: 'nope/.wh.x' } },
    ]);
    const result = await applyLayer(second, root);
    expect(result.whiteouts).toBe(5);
    expect((await fsp.readdir(path.join(root, 'a'))).sort()).toEqual(['keep']);
    expect((await fsp.readdir(path.join(root, 'opq'))).sort()).toEqual(['new', 'sub']);
    expect(await fsp.readdir(path.join(root, 'opq/sub'))).toEqual(['new2']);
    expect(await fsp.readdir(root)).not.toContain('nope');
  });

  it('a whiteout does not remove what the same layer wrote', async () => {
    await applyLayer(
      raw([{ header: { name: 'f' }, data: Buffer.from('mine') }, { header: { name: '.wh.f' } }]),
      root,
    );
    expect(await fsp.readFile(path.join(root, 'f'), 'utf8')).toBe('mine');
  });

  it('replaces files, symlinks and directories of lower layers without following links', async () => {
    await fsp.symlink(path.join(outside, 'victim'), path.join(root, 'evil'));
    await fsp.mkdir(path.join(root, 'wasdir'));
    await fsp.writeFile(path.join(root, 'wasdir', 'child'), 'c');
    await fsp.writeFile(path.join(root, 'wasfile'), 'f');
    await applyLayer(
      await layerOf([
        { type: 'file', path: 'evil', content: Buffer.from('written through?') },
        { type: 'file', path: 'wasdir', content: Buffer.from('now a file') },
        { type: 'dir', path: 'wasfile' },
      ]),
      root,
    );
    await outsideUntouched();
    expect((await fsp.lstat(path.join(root, 'evil'))).isFile()).toBe(true);
    expect(await fsp.readFile(path.join(root, 'wasdir'), 'utf8')).toBe('now a file');
    expect((await fsp.lstat(path.join(root, 'wasfile'))).isDirectory()).toBe(true);
  });

  describe('path escapes', () => {
    it.each([['../escape'], ['a/../../escape'], ['./../../../../../../tmp/escape']])(
      'rejects %s',
      async (name) => {
        await expect(applyLayer(raw([{ header: { name }, data: Buffer.from('x') }]), root)).rejects.toThrow(
          UnsafeLayerError,
        );
        await outsideUntouched();
        expect(await fsp.readdir(tmp)).toEqual(['outside', 'rootfs']);
      },
    );

    it('confines absolute paths to the root', async () => {
      await applyLayer(raw([{ header: { name: `/${outside}/victim` }, data: Buffer.from('pwned') }]), root);
      await outsideUntouched();
      expect(await fsp.readFile(path.join(root, outside, 'victim'), 'utf8')).toBe('pwned');
    });

    it('refuses to write through a symlink planted by a lower layer', async () => {
      await applyLayer(raw([{ header: { name: 'link', typeflag: '2', linkname: outside } }]), root);
      await expect(
        applyLayer(raw([{ header: { name: 'link/pwned' }, data: Buffer.from('x') }]), root),
      ).rejects.toThrow(UnsafeLayerError);
      await outsideUntouched();
    });

    it('refuses to write through a symlink planted earlier in the same layer (relative target)', async () => {
      const rel = path.relative(root, outside);
      await expect(
        applyLayer(
          raw([
            { header: { name: 'sneaky', typeflag: '2', linkname: rel } },
            { header: { name: 'sneaky/pwned' }, data: Buffer.from('x') },
          ]),
          root,
        ),
      ).rejects.toThrow(UnsafeLayerError);
      await outsideUntouched();
    });

    it('refuses whiteouts through symlinks', async () => {
      await fsp.symlink(outside, path.join(root, 'link'));
      await expect(applyLayer(raw([{ header: { name: 'link/.wh.victim' } }]), root)).rejects.toThrow(
        UnsafeLayerError,
      );
      await expect(applyLayer(raw([{ header: { name: 'link/.wh..wh..opq' } }]), root)).rejects.toThrow(
        UnsafeLayerError,
      );
      await expect(applyLayer(raw([{ header: { name: '.wh...' } }]), root)).rejects.toThrow(UnsafeLayerError);
      await outsideUntouched();
    });

    it('refuses hardlinks that point outside or through symlinks', async () => {
      await fsp.symlink(outside, path.join(root, 'link'));
      const cases: RawMember[] = [
        { header: { name: 'h1', typeflag: '1', linkname: '../outside/victim' } },
        { header: { name: 'h2', typeflag: '1', linkname: 'link/victim' } },
        { header: { name: 'h3', typeflag: '1', linkname: `${'../'.repeat(10)}etc/passwd` } },
      ];
      for (const m of cases) await expect(applyLayer(raw([m]), root)).rejects.toThrow(UnsafeLayerError);
      await outsideUntouched();
      expect((await fsp.stat(path.join(outside, 'victim'))).nlink).toBe(1);
    });

    it('treats an absolute hardlink target as inside the root', async () => {
      await applyLayer(
        raw([
          { header: { name: 'etc/', typeflag: '5', mode: 0o755 } },
          { header: { name: 'etc/shadow' }, data: Buffer.from('inside') },
          { header: { name: 'copy', typeflag: '1', linkname: '/etc/shadow' } },
        ]),
        root,
      );
      expect(await fsp.readFile(path.join(root, 'copy'), 'utf8')).toBe('inside');
    });

    it('a hardlink to a missing file is a format error', async () => {
      await expect(
        applyLayer(raw([{ header: { name: 'h', typeflag: '1', linkname: 'missing' } }]), root),
      ).rejects.toThrow(LayerFormatError);
    });

    it('symlinks may point anywhere: they are data, never followed', async () => {
      await applyLayer(raw([{ header: { name: 'abs', typeflag: '2', linkname: '/etc/shadow' } }]), root);
      expect(await fsp.readlink(path.join(root, 'abs'))).toBe('/etc/shadow');
    });
  });

  it('applies a zstd layer and reports unsupported entry types', async () => {
    const { CompressStream } = await import('zstd-napi');
    const tar = rawTar([
      { header: { name: 'f' }, data: Buffer.from('zstd!') },
      { header: { name: 'weird', typeflag: 'V' }, data: Buffer.from('label') },
      { header: { name: 'after' }, data: Buffer.from('ok') },
    ]);
    const compressed = await collect(Readable.from([tar]).pipe(new CompressStream()));
    const result = await applyLayer(Readable.from([compressed]), root);
    expect(await fsp.readFile(path.join(root, 'f'), 'utf8')).toBe('zstd!');
    expect(await fsp.readFile(path.join(root, 'after'), 'utf8')).toBe('ok');
    expect(result.skipped).toEqual([{ path: 'weird', reason: "unsupported tar entry type 'V'" }]);
  });
});
