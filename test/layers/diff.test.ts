import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { diffAgainstBaseline, diffUpperDir, recordBaseline, splitDev } from '../../src/layers/diff';
import { planLayer } from '../../src/layers/tar-plan';
import type { LayerEntry } from '../../src/layers/tar-writer';
import { requireRoot, requireTools, tempDir } from '../executor/sandbox/support/fixtures';

requireRoot();
requireTools('setfattr', 'getfattr', 'mknod', 'mkfifo');

let dir: string;
beforeEach(async () => {
  dir = await tempDir('diff');
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const T = 1_600_000_000;

async function mk(
  rel: string,
  kind: 'dir' | 'file',
  opts: { mode?: number; content?: string } = {},
): Promise<void> {
  const full = path.join(dir, rel);
  if (kind === 'dir') await fsp.mkdir(full, { recursive: true });
  else await fsp.writeFile(full, opts.content ?? '');
  if (opts.mode !== undefined) await fsp.chmod(full, opts.mode);
}

async function stamp(root: string): Promise<void> {
  // Deepest first, so setting a child's time does not disturb its parent's.
  const all = execFileSync('find', [root, '-mindepth', '1', '-depth']).toString().split('\n').filter(Boolean);
  for (const p of all) await fsp.lutimes(p, T, T);
}

/** Entries with file contents read back, so they can be compared as data. */
async function plain(entries: LayerEntry[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const e of entries) {
    if (e.type === 'file') {
      const content = typeof e.content === 'string' ? await fsp.readFile(e.content, 'utf8') : '?';
      out.push({ ...e, content });
    } else {
      out.push(e);
    }
  }
  return out;
}

describe('diffUpperDir', () => {
  it('translates an overlay upper dir: whiteouts, opaque dirs, links, devices, fifos, owners and xattrs', async () => {
    await mk('etc', 'dir');
    await mk('etc/app.conf', 'file', { mode: 0o640, content: 'new config' });
    await fsp.chown(path.join(dir, 'etc/app.conf'), 1000, 50);
    execFileSync('mknod', ['-m', '000', path.join(dir, 'etc/removed'), 'c', '0', '0']);
    await mk('bin', 'dir');
    await mk('bin/tool', 'file', { mode: 0o4755, content: 'tool' });
    await fsp.link(path.join(dir, 'bin/tool'), path.join(dir, 'bin/tool-alias'));
    await fsp.symlink('../etc/app.conf', path.join(dir, 'bin/conf'));
    await mk('data', 'dir', { mode: 0o700 });
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(dir, 'data')]);
    await mk('data/only', 'file', { content: 'only' });
    execFileSync('mknod', ['-m', '640', path.join(dir, 'tty9'), 'c', '4', '9']);
    execFileSync('mkfifo', ['-m', '600', path.join(dir, 'fifo')]);
    execFileSync('setfattr', ['-n', 'user.note', '-v', 'hello', path.join(dir, 'etc/app.conf')]);
    execFileSync('setfattr', ['-n', 'trusted.overlay.origin', '-v', '0x00', path.join(dir, 'etc')]);
    // A socket cannot go into a tar: it is left out.
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(path.join(dir, 'sock'), r));
    try {
      await stamp(dir);
      const entries = await diffUpperDir(dir);
      expect(await plain(entries)).toEqual([
        { type: 'dir', path: 'bin', mode: 0o755, uid: 0, gid: 0, mtime: T },
        {
          type: 'symlink',
          path: 'bin/conf',
          target: '../etc/app.conf',
          mode: 0o777,
          uid: 0,
          gid: 0,
          mtime: T,
        },
        { type: 'file', path: 'bin/tool', content: 'tool', mode: 0o4755, uid: 0, gid: 0, mtime: T },
        {
          type: 'hardlink',
          path: 'bin/tool-alias',
          target: 'bin/tool',
          mode: 0o4755,
          uid: 0,
          gid: 0,
          mtime: T,
        },
        { type: 'dir', path: 'data', mode: 0o700, uid: 0, gid: 0, mtime: T },
        { type: 'opaque', path: 'data' },
        { type: 'file', path: 'data/only', content: 'only', mode: 0o644, uid: 0, gid: 0, mtime: T },
        { type: 'dir', path: 'etc', mode: 0o755, uid: 0, gid: 0, mtime: T },
        {
          type: 'file',
          path: 'etc/app.conf',
          content: 'new config',
          mode: 0o640,
          uid: 1000,
          gid: 50,
          mtime: T,
          xattrs: { 'user.note': Buffer.from('hello') },
        },
        { type: 'whiteout', path: 'etc/removed' },
        { type: 'fifo', path: 'fifo', mode: 0o600, uid: 0, gid: 0, mtime: T },
        { type: 'char', path: 'tty9', major: 4, minor: 9, mode: 0o640, uid: 0, gid: 0, mtime: T },
      ]);
      // And the tar writer accepts it as a layer.
      const names = planLayer(entries).map((p) => p.header.name);
      expect(names).toEqual([
        'bin/',
        'bin/conf',
        'bin/tool',
        'bin/tool-alias',
        'data/',
        'data/.wh..wh..opq',
        'data/only',
        'etc/',
        'etc/app.conf',
        'etc/.wh.removed',
        'fifo',
        'tty9',
      ]);
    } finally {
      server.close();
    }
  });

  it('does not take whiteouts for hardlinks even though overlayfs links them all to one inode', async () => {
    execFileSync('mknod', ['-m', '000', path.join(dir, 'a'), 'c', '0', '0']);
    await fsp.link(path.join(dir, 'a'), path.join(dir, 'b'));
    expect(await diffUpperDir(dir)).toEqual([
      { type: 'whiteout', path: 'a' },
      { type: 'whiteout', path: 'b' },
    ]);
  });

  it('leaves out directories that were only copied up, honouring whiteouts and opaque dirs below', async () => {
    const base = path.join(dir, 'base');
    const mid = path.join(dir, 'mid');
    const upper = path.join(dir, 'upper');
    for (const d of ['keep/same', 'x', 'p/q', 'changed', 'withchild'])
      await fsp.mkdir(path.join(base, d), { recursive: true });
    await fsp.mkdir(path.join(mid, 'x'), { recursive: true });
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(mid, 'x')]);
    await fsp.mkdir(path.join(mid, 'p'), { recursive: true });
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(mid, 'p')]);
    for (const d of ['keep/same', 'x', 'p/q', 'changed', 'withchild'])
      await fsp.mkdir(path.join(upper, d), { recursive: true });
    await fsp.writeFile(path.join(upper, 'withchild/f'), 'f');
    await stamp(base);
    await stamp(upper);
    await fsp.lutimes(path.join(mid, 'x'), T + 5, T + 5);
    await fsp.lutimes(path.join(upper, 'changed'), T + 9, T + 9);

    const entries = await diffUpperDir(upper, { lowers: [base, mid] });
    expect(entries.map((e) => `${e.type} ${e.path}`)).toEqual([
      // keep/ and keep/same/ are identical to the base: copied up only.
      'dir changed', // its mtime differs from below
      'dir p', // p/q is hidden by the opaque p in mid, so p/q is new, and p holds it
      'dir p/q',
      'dir withchild',
      'file withchild/f',
      'dir x', // differs from mid's x (the top one), not from base's
    ]);
  });

  it('decodes device numbers as glibc does', () => {
    const makedev = (major: bigint, minor: bigint): bigint =>
      (minor & 0xffn) | ((major & 0xfffn) << 8n) | ((minor & ~0xffn) << 12n) | ((major & ~0xfffn) << 32n);
    expect(splitDev(0x103n)).toEqual({ major: 1, minor: 3 });
    expect(splitDev(makedev(0x1234n, 0x56789n))).toEqual({ major: 0x1234, minor: 0x56789 });
  });
});

describe('diffAgainstBaseline', () => {
  it('finds changes stat alone cannot see by comparing content with the source', async () => {
    const tree = path.join(dir, 'tree');
    const src = path.join(dir, 'src');
    await fsp.mkdir(tree);
    await fsp.mkdir(src);
    await fsp.writeFile(path.join(tree, 'same'), 'aaaa');
    await fsp.writeFile(path.join(src, 'same'), 'aaaa');
    await fsp.writeFile(path.join(tree, 'sneaky'), 'bbbb');
    await fsp.writeFile(path.join(src, 'sneaky'), 'bbbb');
    await stamp(tree);
    const baseline = await recordBaseline(tree, (rel) => path.join(src, rel));
    // Same size, mtime put back: only the content (and ctime) tell.
    await fsp.writeFile(path.join(tree, 'sneaky'), 'cccc');
    await fsp.lutimes(path.join(tree, 'sneaky'), T, T);
    // Touched in place but the same bytes: not a change.
    await fsp.writeFile(path.join(tree, 'same'), 'aaaa');
    await fsp.lutimes(path.join(tree, 'same'), T, T);
    const entries = await diffAgainstBaseline(tree, baseline);
    expect(entries.map((e) => `${e.type} ${e.path}`)).toEqual(['file sneaky']);
  });
});
