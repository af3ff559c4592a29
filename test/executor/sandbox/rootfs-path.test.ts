import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { makeInRoot, resolveInRoot } from '../../../src/executor/sandbox/rootfs-path';
import { BuildError } from '../../../src/errors';
import { tempDir } from './support/fixtures';

let root: string;
beforeEach(async () => {
  root = await tempDir('rootfs-path');
  await fsp.mkdir(path.join(root, 'etc'));
  await fsp.mkdir(path.join(root, 'data/real'), { recursive: true });
  await fsp.writeFile(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await fsp.symlink('/data/real', path.join(root, 'abs'));
  await fsp.symlink('../../../../../../etc', path.join(root, 'data/climb'));
  await fsp.symlink('loop2', path.join(root, 'loop1'));
  await fsp.symlink('loop1', path.join(root, 'loop2'));
});
afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

describe('resolveInRoot', () => {
  it('follows absolute symlinks from the rootfs, not from the host', async () => {
    const r = await resolveInRoot(root, '/abs/x');
    expect(r).toEqual({
      containerPath: '/data/real/x',
      hostPath: path.join(root, 'data/real/x'),
      stat: undefined,
    });
  });

  it('stops .. at the rootfs', async () => {
    const r = await resolveInRoot(root, '/data/climb/passwd');
    expect(r.containerPath).toBe('/etc/passwd');
    expect(r.stat?.isFile()).toBe(true);
    expect((await resolveInRoot(root, '/../../../etc')).hostPath).toBe(path.join(root, 'etc'));
  });

  it('keeps a missing tail as written', async () => {
    expect((await resolveInRoot(root, '/data/./new/../other/file')).containerPath).toBe('/data/other/file');
  });

  it('refuses symlink loops and paths through files', async () => {
    await expect(resolveInRoot(root, '/loop1/x')).rejects.toThrow(/too many levels of symbolic links/);
    await expect(resolveInRoot(root, '/etc/passwd/x')).rejects.toThrow(BuildError);
  });
});

describe('makeInRoot', () => {
  it('creates what is missing inside the rootfs, owned as asked, and says what it made', async () => {
    const before = await fsp.stat(path.join(root, 'data/real'));
    const made = await makeInRoot(root, '/abs/a/b', 'file', { uid: 1000, gid: 1000 });
    expect(made.created).toEqual([path.join(root, 'data/real/a'), path.join(root, 'data/real/a/b')]);
    expect(made.parentBefore?.path).toBe(path.join(root, 'data/real'));
    expect(made.parentBefore?.mtime).toEqual(before.mtime);
    const st = await fsp.stat(path.join(root, 'data/real/a/b'));
    expect([st.isFile(), st.uid, st.mode & 0o777]).toEqual([true, 1000, 0o644]);
    expect((await makeInRoot(root, '/abs/a/b', 'file')).created).toEqual([]);
    await expect(makeInRoot(root, '/abs/a/b', 'dir')).rejects.toThrow(/is not a directory/);
  });
});
