/**
 * A build context that comes as an archive: sniffed as docker sniffs stdin (tar, gzip, bzip2, xz, zstd, or else a
 * Dockerfile), unpacked with every compression docker accepts (bzip2 and xz through the real tools), and never
 * written outside its directory: `..`, links out, writes through links and device nodes are refused or left out.
 */
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError, BuildError } from '../../src/errors';
import { isTarHeader, sniffArchive, unpackArchive } from '../../src/layers/unpack-archive';
import { once, rawTar, type RawMember } from './support/tar-helpers';

let tmp: string;
let root: string;
let outside: string;

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-unpack-'));
  root = path.join(tmp, 'context');
  outside = path.join(tmp, 'outside');
  await fsp.mkdir(root);
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(outside, 'victim'), 'untouched');
});

afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const T = 1600000000;

/** A tar made by GNU tar from real files: what a user pipes in. */
async function gnuTar(files: Record<string, string>): Promise<Buffer> {
  const src = path.join(tmp, `src-${Math.random().toString(16).slice(2)}`);
  for (const [rel, content] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(src, rel)), { recursive: true });
    await fsp.writeFile(path.join(src, rel), content);
  }
  return execFileSync('tar', ['-C', src, '-cf', '-', '.'], { maxBuffer: 64 << 20 });
}

function compress(tool: string, data: Buffer): Buffer {
  return execFileSync(tool, ['-c'], { input: data, maxBuffer: 64 << 20 });
}

async function unpack(archive: Buffer, warn?: (m: string) => void) {
  const kind = sniffArchive(archive.subarray(0, 1024));
  if (kind === undefined) throw new Error('not sniffed as an archive');
  return unpackArchive(once(archive), kind, root, { label: 'the build context on stdin', warn });
}

async function outsideUntouched(): Promise<void> {
  expect(await fsp.readdir(outside)).toEqual(['victim']);
  expect(await fsp.readdir(tmp)).toEqual(expect.not.arrayContaining(['escape', 'pwned']));
}

describe('sniffArchive', () => {
  test('a tar and each compression docker accepts are archives; Dockerfile text is not', async () => {
    const tar = await gnuTar({ Dockerfile: 'FROM scratch\n' });
    expect(sniffArchive(tar)).toBe('tar');
    expect(sniffArchive(compress('gzip', tar))).toBe('gzip');
    expect(sniffArchive(compress('bzip2', tar))).toBe('bzip2');
    expect(sniffArchive(compress('xz', tar))).toBe('xz');
    expect(sniffArchive(compress('zstd', tar))).toBe('zstd');
    expect(sniffArchive(rawTar([{ header: { name: 'a' }, data: Buffer.from('a') }]))).toBe('tar');

    expect(sniffArchive(Buffer.from('FROM scratch\nCOPY . /\n'))).toBeUndefined();
    expect(
      sniffArchive(Buffer.from(`# syntax=docker/dockerfile:1\n${'RUN true\n'.repeat(200)}`)),
    ).toBeUndefined();
    expect(sniffArchive(Buffer.alloc(0))).toBeUndefined();
    // An archive with no entries at all is no tar to Go's reader either.
    expect(sniffArchive(Buffer.alloc(1024))).toBeUndefined();
  });

  test('a header block with one byte changed is not a tar header', async () => {
    const block = Buffer.from(rawTar([{ header: { name: 'a' } }]).subarray(0, 512));
    expect(isTarHeader(block)).toBe(true);
    block[0] = 'b'.charCodeAt(0);
    expect(isTarHeader(block)).toBe(false);
    expect(isTarHeader(block.subarray(0, 511))).toBe(false);
  });
});

describe('unpackArchive', () => {
  test('files, directories, symlinks and hard links come out with their modes and times', async () => {
    const members: RawMember[] = [
      { header: { name: 'src/', typeflag: '5', mode: 0o750, mtime: T } },
      { header: { name: 'src/main.sh', mode: 0o755, mtime: T + 1 }, data: Buffer.from('#!/bin/sh\n') },
      { header: { name: 'src/link', typeflag: '2', linkname: 'main.sh', mtime: T + 2 } },
      { header: { name: 'src/abs', typeflag: '2', linkname: '/etc/passwd' } },
      { header: { name: 'hard', typeflag: '1', linkname: 'src/main.sh' } },
      // Not a whiteout here: a context is no layer.
      { header: { name: '.wh.kept', mode: 0o600 }, data: Buffer.from('plain file') },
    ];
    const r = await unpack(rawTar(members));
    expect(r).toEqual({ entries: 6, bytes: 20, skipped: [] });
    const st = await fsp.lstat(path.join(root, 'src/main.sh'));
    expect(st.mode & 0o7777).toBe(0o755);
    expect(st.mtimeMs).toBe((T + 1) * 1000);
    expect((await fsp.lstat(path.join(root, 'src'))).mode & 0o7777).toBe(0o750);
    expect((await fsp.lstat(path.join(root, 'src'))).mtimeMs).toBe(T * 1000);
    expect(await fsp.readlink(path.join(root, 'src/link'))).toBe('main.sh');
    // An absolute target is kept as written: it means the image's root, and nothing here follows it.
    expect(await fsp.readlink(path.join(root, 'src/abs'))).toBe('/etc/passwd');
    expect((await fsp.stat(path.join(root, 'hard'))).ino).toBe(st.ino);
    expect(await fsp.readFile(path.join(root, '.wh.kept'), 'utf8')).toBe('plain file');
  });

  test.each(['gzip', 'bzip2', 'xz', 'zstd'])('a %s-compressed tar unpacks', async (tool) => {
    const tar = await gnuTar({
      Dockerfile: 'FROM scratch\nCOPY . /\n',
      'deep/dir/file.txt': 'x'.repeat(100_000),
    });
    await unpack(compress(tool, tar));
    expect(await fsp.readFile(path.join(root, 'Dockerfile'), 'utf8')).toBe('FROM scratch\nCOPY . /\n');
    expect((await fsp.stat(path.join(root, 'deep/dir/file.txt'))).size).toBe(100_000);
  });

  test('a path climbing out with .. is refused, and nothing is written outside', async () => {
    const tar = rawTar([
      { header: { name: 'ok.txt' }, data: Buffer.from('ok') },
      { header: { name: '../escape' }, data: Buffer.from('gotcha') },
    ]);
    await expect(unpack(tar)).rejects.toThrow(
      new UserError(
        'the build context on stdin: refusing entry "../escape": its path climbs out of the archive with ..',
      ),
    );
    await expect(unpack(rawTar([{ header: { name: 'a/../../escape' } }]))).rejects.toThrow(/climbs out/);
    await outsideUntouched();
  });

  test('an absolute path lands inside the archive root', async () => {
    await unpack(rawTar([{ header: { name: '/etc/absolute.txt' }, data: Buffer.from('in') }]));
    expect(await fsp.readFile(path.join(root, 'etc/absolute.txt'), 'utf8')).toBe('in');
  });

  test('a symlink pointing out of the archive is refused, as docker refuses it', async () => {
    const tar = rawTar([{ header: { name: 'sub/out', typeflag: '2', linkname: '../../outside' } }]);
    await expect(unpack(tar)).rejects.toThrow(
      /refusing entry "sub\/out": it is a symlink to "..\/..\/outside", outside/,
    );
    await expect(fsp.lstat(path.join(root, 'sub/out'))).rejects.toThrow(/ENOENT/);
  });

  test('nothing is written through a symlink, even one an earlier entry made', async () => {
    // An absolute link is kept (it would mean the image's root), but never followed while unpacking.
    const tar = rawTar([
      { header: { name: 'lnk', typeflag: '2', linkname: outside } },
      { header: { name: 'lnk/pwned' }, data: Buffer.from('gotcha') },
    ]);
    await expect(unpack(tar)).rejects.toThrow(/refusing entry "lnk\/pwned": its parent lnk is a symlink/);
    await outsideUntouched();

    await fsp.rm(root, { recursive: true });
    await fsp.mkdir(root);
    const inside = rawTar([
      { header: { name: 'dir/', typeflag: '5' } },
      { header: { name: 'l', typeflag: '2', linkname: 'dir' } },
      { header: { name: 'l/f' }, data: Buffer.from('x') },
    ]);
    await expect(unpack(inside)).rejects.toThrow(/its parent l is a symlink/);
    expect(await fsp.readdir(path.join(root, 'dir'))).toEqual([]);
  });

  test('a file over a symlink of the same name replaces the link, not its target', async () => {
    const tar = rawTar([
      { header: { name: 'victim', typeflag: '2', linkname: path.join(outside, 'victim') } },
      { header: { name: 'victim' }, data: Buffer.from('mine') },
    ]);
    await unpack(tar);
    expect(await fsp.readFile(path.join(root, 'victim'), 'utf8')).toBe('mine');
    expect((await fsp.lstat(path.join(root, 'victim'))).isFile()).toBe(true);
    await outsideUntouched();
    expect(await fsp.readFile(path.join(outside, 'victim'), 'utf8')).toBe('untouched');
  });

  test('a hard link must name an earlier entry inside the archive', async () => {
    await expect(
      unpack(rawTar([{ header: { name: 'h', typeflag: '1', linkname: '../outside/victim' } }])),
    ).rejects.toThrow(/refusing entry "h": it is a hard link to "..\/outside\/victim", outside the archive/);
    // /etc/passwd means the archive's own etc/passwd, which it does not have: the host's is never linked.
    await expect(
      unpack(rawTar([{ header: { name: 'h', typeflag: '1', linkname: '/etc/passwd' } }])),
    ).rejects.toThrow(/hard link to \/etc\/passwd, which is not in the archive before it/);
    await expect(fsp.lstat(path.join(root, 'h'))).rejects.toThrow(/ENOENT/);
  });

  test('device nodes are left out and said; FIFOs are made', async () => {
    const warnings: string[] = [];
    const tar = rawTar([
      { header: { name: 'dev/null', typeflag: '3', devmajor: 1, devminor: 3 } },
      { header: { name: 'dev/sda', typeflag: '4', devmajor: 8, devminor: 0 } },
      { header: { name: 'pipe', typeflag: '6', mode: 0o644 } },
    ]);
    const r = await unpack(tar, (m) => warnings.push(m));
    expect(r.skipped).toEqual(['dev/null', 'dev/sda']);
    expect(warnings).toEqual([
      'the build context on stdin: left out "dev/null": a device node (a build context here carries none)',
      'the build context on stdin: left out "dev/sda": a device node (a build context here carries none)',
    ]);
    expect(await fsp.readdir(root)).toEqual(['pipe']);
    expect((await fsp.lstat(path.join(root, 'pipe'))).isFIFO()).toBe(true);
  });

  test('a file larger than the free space (less the reserve) stops the unpacking with one line', async () => {
    const st = await fsp.statfs(root);
    const free = st.bavail * st.bsize;
    const tar = rawTar([{ header: { name: 'big.bin' }, data: Buffer.alloc(4 << 20) }]);
    const kind = sniffArchive(tar) ?? 'tar';
    const err = await unpackArchive(once(tar), kind, root, {
      label: 'the build context on stdin',
      reserveBytes: free - (1 << 20),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildError);
    expect(String(err)).toMatch(/not enough free disk space to unpack "big.bin" \(4194304 bytes\)/);
    await expect(fsp.lstat(path.join(root, 'big.bin'))).rejects.toThrow(/ENOENT/);
  });

  test('a compressed stream that holds no tar, and a truncated tar, are one clear line', async () => {
    const notTar = compress('gzip', Buffer.from('FROM scratch\n'.repeat(100)));
    await expect(unpack(notTar)).rejects.toThrow(
      new UserError('the build context on stdin is gzip-compressed, but what it holds is not a tar archive'),
    );
    const tar = rawTar([{ header: { name: 'f' }, data: Buffer.alloc(5000, 1) }]);
    await expect(unpack(tar.subarray(0, 2048))).rejects.toThrow(
      /the build context on stdin is not a valid tar archive: tar archive is truncated inside f/,
    );
    const corrupt = compress('gzip', await gnuTar({ a: 'a' })).subarray(0, 30);
    await expect(unpack(corrupt)).rejects.toThrow(
      /the build context on stdin: cannot decompress it \(gzip\)/,
    );
  });
});
