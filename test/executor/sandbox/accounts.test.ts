import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readGroups, readPasswd } from '../../../src/executor/sandbox/accounts';
import { tempDir } from './support/fixtures';

let root: string;
beforeEach(async () => {
  root = await tempDir('accounts');
  await fsp.mkdir(path.join(root, 'etc'));
});
afterEach(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

describe('readPasswd / readGroups', () => {
  it('reads fields by position, missing trailing fields empty, and skips comments, blanks and non-numeric ids', async () => {
    await fsp.writeFile(
      path.join(root, 'etc/passwd'),
      '# comment\n\nroot:x:0:0:root:/root:/bin/sh\nshort:x:1000\nbad:x:abc:0::/:/bin/sh\nbadgid:x:5:x::/:/bin/sh\n',
    );
    await fsp.writeFile(
      path.join(root, 'etc/group'),
      'wheel:x:10:root,app\nempty:x:11:\nnogid:x::\nbare:x:12\n',
    );
    expect(await readPasswd(root)).toEqual([
      { name: 'root', uid: 0, gid: 0, home: '/root' },
      { name: 'short', uid: 1000, gid: 0, home: '' },
    ]);
    expect(await readGroups(root)).toEqual([
      { name: 'wheel', gid: 10, members: ['root', 'app'] },
      { name: 'empty', gid: 11, members: [] },
      { name: 'bare', gid: 12, members: [] },
    ]);
  });

  it('has no entries without the files, and never follows a symlink out of the rootfs', async () => {
    expect(await readPasswd(root)).toEqual([]);
    expect(await readGroups(root)).toEqual([]);
    const outside = await tempDir('accounts-host');
    await fsp.writeFile(path.join(outside, 'passwd'), 'host:x:4242:4242::/:/bin/sh\n');
    await fsp.symlink(path.join(outside, 'passwd'), path.join(root, 'etc/passwd'));
    try {
      expect((await readPasswd(root)).map((e) => e.name)).not.toContain('host');
    } finally {
      await fsp.rm(outside, { recursive: true, force: true });
    }
  });
});
