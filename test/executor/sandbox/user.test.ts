import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { resolveUser } from '../../../src/executor/sandbox/user';
import { tempDir } from './support/fixtures';

let root: string;
beforeEach(async () => {
  root = await tempDir('user');
  await fsp.mkdir(path.join(root, 'etc'));
  await fsp.writeFile(
    path.join(root, 'etc/passwd'),
    '# comment\nroot:x:0:0:root:/root:/bin/sh\napp:x:1001:1002:App:/srv/app:/bin/sh\nnohome:x:1003:1003:::/bin/sh\n',
  );
  await fsp.writeFile(
    path.join(root, 'etc/group'),
    'root:x:0:\nappgrp:x:1002:\nextra:x:2000:app,other\nwheel:x:10:root\n',
  );
});
afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

describe('resolveUser', () => {
  it('resolves names, uids and groups as Docker does', async () => {
    expect(await resolveUser(root, '')).toEqual({
      uid: 0,
      gid: 0,
      additionalGids: [0, 10],
      home: '/root',
      name: 'root',
    });
    expect(await resolveUser(root, 'app')).toEqual({
      uid: 1001,
      gid: 1002,
      additionalGids: [1002, 2000],
      home: '/srv/app',
      name: 'app',
    });
    expect(await resolveUser(root, '1001')).toMatchObject({ uid: 1001, gid: 1002, home: '/srv/app' });
    expect(await resolveUser(root, 'app:extra')).toMatchObject({ uid: 1001, gid: 2000, additionalGids: [] });
    expect(await resolveUser(root, 'app:55')).toMatchObject({ uid: 1001, gid: 55, additionalGids: [] });
    expect(await resolveUser(root, '7000')).toEqual({ uid: 7000, gid: 0, additionalGids: [], home: '/root' });
    expect(await resolveUser(root, '7000:7000')).toMatchObject({ uid: 7000, gid: 7000 });
    expect((await resolveUser(root, 'nohome')).home).toBe('/root');
  });

  it('fails for names the image does not know', async () => {
    await expect(resolveUser(root, 'ghost')).rejects.toThrow(
      'unable to find user ghost: no matching entries in passwd file',
    );
    await expect(resolveUser(root, 'app:ghosts')).rejects.toThrow(
      'unable to find group ghosts: no matching entries in group file',
    );
    await expect(resolveUser(root, '-1')).rejects.toThrow(/unable to find user -1/);
  });

  it('runs as 0:0 without a USER in an image that has no /etc/passwd or /etc/group, as Docker does', async () => {
    await fsp.rm(path.join(root, 'etc'), { recursive: true });
    expect(await resolveUser(root, '')).toEqual({ uid: 0, gid: 0, additionalGids: [], home: '/root' });
    await expect(resolveUser(root, 'root')).rejects.toThrow(/unable to find user root/);
  });

  it('does not hang on a FIFO, nor read a huge file, where /etc/passwd should be', async () => {
    await fsp.rm(path.join(root, 'etc/passwd'));
    execFileSync('mkfifo', [path.join(root, 'etc/passwd')]);
    expect(await resolveUser(root, '')).toMatchObject({ uid: 0, gid: 0 });
    await fsp.rm(path.join(root, 'etc/passwd'));
    await fsp.symlink('/dev/zero', path.join(root, 'etc/passwd'));
    expect(await resolveUser(root, '1001')).toMatchObject({ uid: 1001, gid: 0 });
    await fsp.rm(path.join(root, 'etc/passwd'));
    await fsp.writeFile(path.join(root, 'etc/passwd'), Buffer.alloc(5 * 1024 * 1024, 0x61));
    await expect(resolveUser(root, 'app')).rejects.toThrow(
      '/etc/passwd is larger than 4194304 bytes; refusing to read it',
    );
  });

  it('reads the image’s own /etc/passwd even through a symlink that names a host path', async () => {
    await fsp.rm(path.join(root, 'etc/passwd'));
    await fsp.mkdir(path.join(root, 'data'));
    await fsp.writeFile(path.join(root, 'data/passwd'), 'inside:x:42:42::/inside:/bin/sh\n');
    await fsp.symlink('/data/passwd', path.join(root, 'etc/passwd'));
    expect(await resolveUser(root, 'inside')).toMatchObject({ uid: 42, home: '/inside' });
    // The host's root user is not visible: a link to ../../../../etc/passwd stays in the rootfs.
    await fsp.rm(path.join(root, 'etc/passwd'));
    await fsp.symlink('../../../../../../../../etc/shadow-not-here', path.join(root, 'etc/passwd'));
    await expect(resolveUser(root, 'root')).rejects.toThrow(/unable to find user root/);
  });
});
