import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LayerFormatError } from '../../src/layers/errors';
import { readTar } from '../../src/layers/tar-reader';
import { collect, once, rawTar, readAll } from './support/tar-helpers';

let tmp: string;

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-tarr-'));
});

afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function gnuTar(format: string): Promise<Buffer> {
  const src = path.join(tmp, 'src');
  const long = `${'n'.repeat(120)}/${'m'.repeat(110)}`;
  await fsp.mkdir(path.join(src, long), { recursive: true });
  await fsp.writeFile(path.join(src, long, 'deep.txt'), 'deep');
  await fsp.writeFile(path.join(src, 'plain.txt'), 'plain');
  await fsp.symlink(`/${'target/'.repeat(20)}end`, path.join(src, 'longlink'));
  await fsp.link(path.join(src, 'plain.txt'), path.join(src, 'hard.txt'));
  const out = path.join(tmp, `${format}.tar`);
  execFileSync('tar', [`--format=${format}`, '--sort=name', '-cf', out, '-C', src, '.']);
  return fsp.readFile(out);
}

describe('tar reader', () => {
  it.each(['gnu', 'posix'])(
    'reads GNU tar %s archives with long names, links and content',
    async (format) => {
      const members = await readAll(await gnuTar(format));
      const byPath = new Map(members.map((m) => [m.header.path.replace(/^\.\//, ''), m]));
      const long = `${'n'.repeat(120)}/${'m'.repeat(110)}`;
      expect(byPath.get(`${long}/deep.txt`)?.data.toString()).toBe('deep');
      expect(byPath.get(long)?.header.type).toBe('dir');
      expect(byPath.get('longlink')?.header.linkname).toBe(`/${'target/'.repeat(20)}end`);
      // --sort=name puts hard.txt first, so it carries the data and plain.txt links to it.
      const first = byPath.get('hard.txt');
      const link = byPath.get('plain.txt');
      expect(first?.data.toString()).toBe('plain');
      expect(link?.header.type).toBe('hardlink');
      expect(link?.data.length).toBe(0);
      expect(link?.header.linkname.replace(/^\.\//, '')).toBe('hard.txt');
    },
  );

  it('skips unread bodies so the next header is found', async () => {
    const tar = rawTar([
      { header: { name: 'a' }, data: Buffer.alloc(1000, 1) },
      { header: { name: 'b' }, data: Buffer.from('bee') },
    ]);
    const seen: string[] = [];
    for await (const { header, body } of readTar(once(tar))) {
      seen.push(header.path);
      if (header.path === 'b') expect((await collect(body)).toString()).toBe('bee');
    }
    expect(seen).toEqual(['a', 'b']);
  });

  it('handles input split at every awkward boundary', async () => {
    const tar = rawTar([
      { header: { name: 'a' }, data: Buffer.alloc(700, 2) },
      { header: { name: 'b', typeflag: '5' } },
      { header: { name: 'c' }, data: Buffer.from('see') },
    ]);
    async function* dribble() {
      for (let i = 0; i < tar.length; i += 37) yield tar.subarray(i, i + 37);
    }
    const members: string[] = [];
    for await (const { header, body } of readTar(dribble())) {
      members.push(`${header.path}:${header.type}:${(await collect(body)).length}`);
    }
    expect(members).toEqual(['a:file:700', 'b:dir:0', 'c:file:3']);
  });

  it('reports truncated archives and bad checksums as LayerFormatError', async () => {
    const tar = rawTar([{ header: { name: 'a' }, data: Buffer.alloc(2000, 3) }]);
    await expect(readAll(tar.subarray(0, 1500))).rejects.toThrow(LayerFormatError);
    await expect(readAll(tar.subarray(0, 300))).rejects.toThrow(LayerFormatError);
    const bad = Buffer.from(tar);
    bad[10] = 0x41;
    await expect(readAll(bad)).rejects.toThrow(/checksum/);
  });

  it('applies global PAX records and reads binary xattr values exactly', async () => {
    const value = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x0a, 0x3d]);
    const tar = rawTar([
      {
        header: { name: 'f', extraPax: new Map([['SCHILY.xattr.user.bin', value]]) },
        data: Buffer.from('x'),
      },
    ]);
    const [m] = await readAll(tar);
    expect(m?.header.xattrs.get('user.bin')).toEqual(value);
    expect(m?.data.toString()).toBe('x');
  });
});
