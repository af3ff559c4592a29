import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LayerEntryError } from '../../src/layers/errors';
import { encodeHeader, writeUstarHeader, type HeaderFields } from '../../src/layers/tar-header';
import { planLayer } from '../../src/layers/tar-plan';
import { createLayerTar, type LayerEntry } from '../../src/layers/tar-writer';
import { collect, gnuTarList, readAll, sha256 } from './support/tar-helpers';

let tmp: string;

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-tarw-'));
});

afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const T = 1700000000;

/** A small tree written to `dir` with deliberately varying on-disk metadata. */
async function makeSources(dir: string, diskMtime: Date): Promise<LayerEntry[]> {
  await fsp.mkdir(path.join(dir, 'src'), { recursive: true });
  const a = path.join(dir, 'src', 'a.txt');
  const big = path.join(dir, 'src', 'big.bin');
  await fsp.writeFile(a, 'alpha\n');
  const bigData = Buffer.alloc(300 * 1024);
  for (let i = 0; i < bigData.length; i++) bigData[i] = (i * 7) & 0xff;
  await fsp.writeFile(big, bigData);
  await fsp.utimes(a, diskMtime, diskMtime);
  await fsp.utimes(big, diskMtime, diskMtime);
  return [
    { type: 'file', path: 'app/big.bin', content: big, mode: 0o600, mtime: T },
    { type: 'dir', path: 'app', mtime: T },
    { type: 'file', path: 'app/a.txt', content: a, mode: 0o755, uid: 1000, gid: 1000, mtime: T },
    { type: 'symlink', path: 'app/link', target: 'a.txt', mtime: T },
    { type: 'file', path: 'etc/motd', content: Buffer.from('hi\n'), mtime: T },
    { type: 'dir', path: 'etc', mtime: T },
    { type: 'whiteout', path: 'etc/old.conf', mtime: T },
    { type: 'opaque', path: 'var/cache', mtime: T },
    { type: 'dir', path: 'var/cache', mtime: T },
    { type: 'dir', path: 'var', mtime: T },
    { type: 'fifo', path: 'run/fifo', mtime: T },
    { type: 'char', path: 'dev/null', major: 1, minor: 3, mode: 0o666, mtime: T },
  ];
}

describe('layer tar writer', () => {
  it('is deterministic across runs and source directories', async () => {
    const d1 = path.join(tmp, 'one');
    const d2 = path.join(tmp, 'two');
    const e1 = await makeSources(d1, new Date('2001-01-01T00:00:00Z'));
    const e2 = await makeSources(d2, new Date('2020-05-05T12:34:56Z'));
    const t1 = await collect(createLayerTar(e1));
    const t1again = await collect(createLayerTar(e1));
    const t2 = await collect(createLayerTar([...e2].reverse()));
    expect(sha256(t1)).toBe(sha256(t1again));
    expect(sha256(t2)).toBe(sha256(t1));
    expect(t1.length % 512).toBe(0);
  });

  it('orders entries as a directory walk: parents first, siblings by bytes, opaque markers first', async () => {
    const entries = await makeSources(tmp, new Date());
    entries.push(
      { type: 'dir', path: 'app/sub', mtime: T },
      { type: 'file', path: 'app-b', content: Buffer.alloc(0) },
      { type: 'file', path: 'app.c', content: Buffer.alloc(0) },
      { type: 'file', path: 'var/cache/-first', content: Buffer.alloc(0) },
    );
    const names = planLayer(entries).map((p) => p.header.name);
    expect(names).toEqual([
      'app/',
      'app/a.txt',
      'app/big.bin',
      'app/link',
      'app/sub/',
      'app-b',
      'app.c',
      'dev/null',
      'etc/',
      'etc/motd',
      'etc/.wh.old.conf',
      'run/fifo',
      'var/',
      'var/cache/',
      'var/cache/.wh..wh..opq',
      'var/cache/-first',
    ]);
  });

  it('writes USTAR headers the way Go archive/tar does for BuildKit', async () => {
    const tar = await collect(
      createLayerTar([
        { type: 'file', path: '/etc/passwd', content: Buffer.from('root\n'), mtime: T, uid: 5, gid: 6 },
      ]),
    );
    const h = tar.subarray(0, 512);
    const field = (off: number, len: number) => h.subarray(off, off + len).toString('latin1');
    expect(field(0, 11)).toBe('etc/passwd\0');
    expect(field(100, 8)).toBe('0000644\0');
    expect(field(108, 8)).toBe('0000005\0');
    expect(field(116, 8)).toBe('0000006\0');
    expect(field(124, 12)).toBe('00000000005\0');
    expect(field(136, 12)).toBe(`${T.toString(8)}\0`);
    expect(field(148, 8)).toMatch(/^[0-7]{6}\0 $/);
    expect(field(156, 1)).toBe('0');
    expect(field(257, 8)).toBe('ustar\x0000');
    expect(h.subarray(265, 329).every((b) => b === 0)).toBe(true); // uname/gname empty
    expect(field(329, 8)).toBe('0000000\0');
    expect(field(337, 8)).toBe('0000000\0');
    expect(h.subarray(345, 512).every((b) => b === 0)).toBe(true); // no prefix, no atime/ctime
    expect(tar.subarray(512, 517).toString()).toBe('root\n');
    expect(tar.length).toBe(512 + 512 + 1024); // header, padded data, two zero blocks, no record padding
  });

  it('uses PAX records only when needed: long or non-ASCII names, big ids, xattrs', async () => {
    const longSplittable = `${'d'.repeat(60)}/${'e'.repeat(60)}/file.txt`;
    const longUnsplittable = `x/${'f'.repeat(120)}`;
    const capability = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xff, 0x00]);
    const tar = await collect(
      createLayerTar([
        { type: 'file', path: longSplittable, content: Buffer.from('1') },
        { type: 'file', path: longUnsplittable, content: Buffer.from('2') },
        { type: 'file', path: 'ünïcode.txt', content: Buffer.from('3') },
        { type: 'file', path: 'bigid', content: Buffer.from('4'), uid: 3000000, gid: 70000 },
        {
          type: 'file',
          path: 'ping',
          content: Buffer.from('5'),
          xattrs: { 'security.capability': capability },
        },
        { type: 'symlink', path: 'longlink', target: `/${'t'.repeat(150)}` },
      ]),
    );
    const members = await readAll(tar);
    const byPath = new Map(members.map((m) => [m.header.path, m]));
    expect([...byPath.keys()].sort()).toEqual(
      [longSplittable, longUnsplittable, 'ünïcode.txt', 'bigid', 'ping', 'longlink'].sort(),
    );
    expect(byPath.get(longSplittable)?.header.pax.size).toBe(0); // USTAR prefix split, as Go does
    expect(byPath.get(longUnsplittable)?.header.pax.get('path')?.toString()).toBe(longUnsplittable);
    expect(byPath.get('ünïcode.txt')?.header.pax.has('path')).toBe(true);
    expect(byPath.get('bigid')?.header.uid).toBe(3000000);
    expect(byPath.get('bigid')?.header.gid).toBe(70000);
    expect(byPath.get('ping')?.header.xattrs.get('security.capability')).toEqual(capability);
    expect(byPath.get('longlink')?.header.linkname).toBe(`/${'t'.repeat(150)}`);
    for (const m of members) {
      for (const key of m.header.pax.keys()) expect(['atime', 'ctime', 'mtime']).not.toContain(key);
    }
    // GNU tar reads the same names, and the PAX header is named as Go names it.
    const tarPath = path.join(tmp, 'pax.tar');
    await fsp.writeFile(tarPath, tar);
    const listing = gnuTarList(tarPath).join('\n');
    expect(listing).toContain(longUnsplittable);
    expect(listing).toContain('ünïcode.txt');
    expect(tar.toString('latin1')).toContain('PaxHeaders.0/ping');
  });

  it('clamps mtimes to SOURCE_DATE_EPOCH and never writes atime/ctime', async () => {
    const entries: LayerEntry[] = [
      { type: 'file', path: 'new', content: Buffer.from('n'), mtime: 2_000_000_000 },
      { type: 'file', path: 'old', content: Buffer.from('o'), mtime: new Date(500_000) },
    ];
    const members = await readAll(await collect(createLayerTar(entries, { sourceDateEpoch: 1_000_000 })));
    expect(members.map((m) => [m.header.path, m.header.mtime])).toEqual([
      ['new', 1_000_000],
      ['old', 500],
    ]);
  });

  it('writes a hardlink group with the content on the first member in stream order', async () => {
    const entries: LayerEntry[] = [
      { type: 'file', path: 'z/original', content: Buffer.from('shared'), mode: 0o640, mtime: T },
      { type: 'hardlink', path: 'a/alias', target: 'z/original' },
      { type: 'hardlink', path: 'm/alias2', target: '/a/alias' },
      { type: 'hardlink', path: 'lower', target: 'usr/bin/from-lower-layer' },
      { type: 'dir', path: 'a' },
      { type: 'dir', path: 'm' },
      { type: 'dir', path: 'z' },
    ];
    const members = await readAll(await collect(createLayerTar(entries)));
    const summary = members.map((m) => [m.header.path, m.header.type, m.header.linkname, m.data.toString()]);
    expect(summary).toEqual([
      ['a', 'dir', '', ''],
      ['a/alias', 'file', '', 'shared'],
      ['lower', 'hardlink', 'usr/bin/from-lower-layer', ''],
      ['m', 'dir', '', ''],
      ['m/alias2', 'hardlink', 'a/alias', ''],
      ['z', 'dir', '', ''],
      ['z/original', 'hardlink', 'a/alias', ''],
    ]);
    expect(members[1]?.header.mode).toBe(0o640);
    expect(members[6]?.header.mode).toBe(0o640);
    // GNU tar can extract it: all three names share one inode.
    const tarPath = path.join(tmp, 'links.tar');
    const out = path.join(tmp, 'out');
    await fsp.writeFile(tarPath, await collect(createLayerTar(entries.filter((e) => e.path !== 'lower'))));
    await fsp.mkdir(out);
    execFileSync('tar', ['-xf', tarPath, '-C', out]);
    const inodes = await Promise.all(
      ['a/alias', 'm/alias2', 'z/original'].map((p) => fsp.stat(path.join(out, p))),
    );
    expect(new Set(inodes.map((s) => s.ino)).size).toBe(1);
    expect(await fsp.readFile(path.join(out, 'z/original'), 'utf8')).toBe('shared');
  });

  it('streams contents from paths, buffers and custom sources', async () => {
    const p = path.join(tmp, 'f');
    await fsp.writeFile(p, 'from disk');
    const members = await readAll(
      await collect(
        createLayerTar([
          { type: 'file', path: 'disk', content: p },
          { type: 'file', path: 'buf', content: Buffer.from('from buffer') },
          {
            type: 'file',
            path: 'stream',
            content: {
              size: 11,
              open: async function* () {
                yield Buffer.from('from ');
                yield Buffer.from('stream');
              },
            },
          },
        ]),
      ),
    );
    expect(members.map((m) => [m.header.path, m.data.toString()])).toEqual([
      ['buf', 'from buffer'],
      ['disk', 'from disk'],
      ['stream', 'from stream'],
    ]);
  });

  it('fails when a source changes size while being written', async () => {
    const shrinking: LayerEntry = {
      type: 'file',
      path: 'x',
      content: {
        size: 10,
        open: async function* () {
          yield Buffer.from('12345');
        },
      },
    };
    await expect(collect(createLayerTar([shrinking]))).rejects.toThrow(/shrank/);
    const growing: LayerEntry = {
      type: 'file',
      path: 'x',
      content: {
        size: 2,
        open: async function* () {
          yield Buffer.from('12345');
        },
      },
    };
    await expect(collect(createLayerTar([growing]))).rejects.toThrow(/grew/);
  });

  it('refuses to read a file source through a symlink', async () => {
    await fsp.writeFile(path.join(tmp, 'secret'), 'host secret');
    await fsp.symlink(path.join(tmp, 'secret'), path.join(tmp, 'planted'));
    await expect(
      collect(createLayerTar([{ type: 'file', path: 'x', content: path.join(tmp, 'planted') }])),
    ).rejects.toThrow();
  });

  it('rejects entry lists that cannot make a valid layer', () => {
    const bad: LayerEntry[][] = [
      [{ type: 'dir', path: '../escape' }],
      [{ type: 'dir', path: '/' }],
      [
        { type: 'dir', path: 'a' },
        { type: 'dir', path: './a/' },
      ],
      [{ type: 'file', path: 'd/.wh.sneaky', content: Buffer.alloc(0) }],
      [
        { type: 'dir', path: 'd' },
        { type: 'hardlink', path: 'l', target: 'd' },
      ],
      [
        { type: 'hardlink', path: 'l1', target: 'l2' },
        { type: 'hardlink', path: 'l2', target: 'l1' },
      ],
      [{ type: 'hardlink', path: 'l1', target: '../../etc/shadow' }],
      [
        { type: 'file', path: 'x', content: Buffer.alloc(0) },
        { type: 'whiteout', path: 'x' },
      ],
      [{ type: 'file', path: 'x', content: Buffer.alloc(0), xattrs: { 'a=b': 'v' } }],
      [{ type: 'file', path: 'x', content: Buffer.alloc(0), uid: -1 }],
      [{ type: 'dir', path: 'x', mode: 0.5 }],
      [{ type: 'char', path: 'x', major: 1 << 30, minor: 0 }],
    ];
    for (const entries of bad) expect(() => planLayer(entries)).toThrow(LayerEntryError);
  });

  it('produces a tar GNU tar extracts with the recorded modes, owners and mtimes', async () => {
    const entries = await makeSources(path.join(tmp, 'src'), new Date());
    const tarPath = path.join(tmp, 'layer.tar');
    await fsp.writeFile(tarPath, await collect(createLayerTar(entries)));
    const listing = gnuTarList(tarPath);
    expect(listing).toContain('-rwxr-xr-x 1000/1000         6 2023-11-14 22:13:20 app/a.txt');
    expect(listing).toContain('lrwxrwxrwx 0/0               0 2023-11-14 22:13:20 app/link -> a.txt');
    expect(listing).toContain('crw-rw-rw- 0/0             1,3 2023-11-14 22:13:20 dev/null');
    expect(listing).toContain('prw-r--r-- 0/0               0 2023-11-14 22:13:20 run/fifo');
    expect(listing).toContain('---------- 0/0               0 2023-11-14 22:13:20 var/cache/.wh..wh..opq');
  });

  it('encodes plain USTAR headers in place exactly as encodeHeader does', () => {
    let x = 42;
    const rand = (n: number): number => {
      x = (x * 1103515245 + 12345) >>> 0;
      return x % n;
    };
    const names = [
      'a',
      'dir/',
      'x'.repeat(100),
      'y'.repeat(101),
      'caf\u00e9',
      `${'d'.repeat(60)}/${'e'.repeat(50)}`,
    ];
    const buf = Buffer.alloc(4096, 0xaa);
    let plain = 0;
    for (let i = 0; i < 2000; i++) {
      const h: HeaderFields = {
        name: names[rand(names.length)],
        typeflag: '0125'[rand(4)],
        mode: [0o644, 0o4755, 0o7777, 0o10000000][rand(4)],
        uid: [0, 1000, 65534, 0o7777777, 0o10000000][rand(5)],
        gid: [0, 1000, 0o10000000][rand(3)],
        size: 0,
        mtime: [0, T, 0o77777777777, 2 ** 33 + 1][rand(4)],
        linkname: ['', 'target', 'l'.repeat(101)][rand(3)],
        devmajor: [0, 7][rand(2)],
        devminor: [0, 0o7777777][rand(2)],
        extraPax: rand(5) === 0 ? new Map([['SCHILY.xattr.user.a', Buffer.from('v')]]) : undefined,
      };
      const size = [0, 5, 0o77777777777, 2 ** 33 + 5][rand(4)];
      const at = 512 * rand(6);
      if (writeUstarHeader(buf, at, h, size)) {
        plain++;
        expect(buf.subarray(at, at + 512).equals(encodeHeader({ ...h, size }))).toBe(true);
      } else {
        // Not plain: encodeHeader writes PAX records or refuses, and the fast path touched nothing.
        expect(buf.subarray(at, at + 512).equals(Buffer.alloc(512, buf[at]))).toBe(true);
      }
      buf.fill(0xaa);
    }
    expect(plain).toBeGreaterThan(100);
  });

  it('sorts tricky names component by component, by UTF-8 bytes', () => {
    const names = [
      'a',
      'a/b',
      'a-b',
      'a.b',
      'a/b/c',
      'a\u00e9',
      'a\uffff',
      'a\u{1F600}',
      'a/\u{1F600}',
      'a/\uffff',
      'b',
      'a0',
      'a/-',
    ];
    const entries: LayerEntry[] = names.map((p) => ({ type: 'dir', path: p }));
    entries.push({ type: 'opaque', path: 'a' });
    const byBytes = [...names].sort((p, q) => {
      const [x, y] = [p.split('/'), q.split('/')];
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = Buffer.compare(Buffer.from(x[i]), Buffer.from(y[i]));
        if (c !== 0) return c;
      }
      return x.length - y.length;
    });
    const expected = byBytes.flatMap((n) => (n === 'a' ? ['a/', 'a/.wh..wh..opq'] : [`${n}/`]));
    expect(planLayer([...entries].reverse()).map((p) => p.header.name)).toEqual(expected);
  });

  it('reads path sources of any size, and refuses a FIFO without hanging', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 100);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    await fsp.writeFile(path.join(tmp, 'big'), big);
    await fsp.writeFile(path.join(tmp, 'empty'), '');
    const members = await readAll(
      await collect(
        createLayerTar([
          { type: 'file', path: 'big', content: path.join(tmp, 'big') },
          { type: 'file', path: 'empty', content: path.join(tmp, 'empty') },
        ]),
      ),
    );
    expect(members.map((m) => [m.header.path, m.data.length])).toEqual([
      ['big', big.length],
      ['empty', 0],
    ]);
    expect(members[0].data.equals(big)).toBe(true);
    execFileSync('mkfifo', [path.join(tmp, 'fifo')]);
    await expect(
      collect(createLayerTar([{ type: 'file', path: 'f', content: path.join(tmp, 'fifo') }])),
    ).rejects.toThrow(/not a regular file/);
  });
});
