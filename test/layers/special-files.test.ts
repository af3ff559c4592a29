import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { splitDev } from '../../src/layers/diff';
import { makeSpecialFile } from '../../src/layers/special-files';
import { requireRoot, tempDir } from '../executor/sandbox/support/fixtures';

requireRoot();

test('makes FIFOs and device nodes, mode 0600, with their device numbers', async () => {
  const dir = await tempDir('special');
  try {
    await makeSpecialFile(path.join(dir, 'pipe'), { kind: 'fifo' });
    await makeSpecialFile(path.join(dir, 'null'), { kind: 'char', major: 1, minor: 3 });
    await makeSpecialFile(path.join(dir, 'disk'), { kind: 'block', major: 300, minor: 70000 });
    const pipe = await fsp.lstat(path.join(dir, 'pipe'));
    expect(pipe.isFIFO()).toBe(true);
    expect(pipe.mode & 0o7777).toBe(0o600);
    const nul = await fsp.lstat(path.join(dir, 'null'), { bigint: true });
    expect(nul.isCharacterDevice()).toBe(true);
    expect(splitDev(nul.rdev)).toEqual({ major: 1, minor: 3 });
    const disk = await fsp.lstat(path.join(dir, 'disk'), { bigint: true });
    expect(disk.isBlockDevice()).toBe(true);
    expect(splitDev(disk.rdev)).toEqual({ major: 300, minor: 70000 });
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
