import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeTreeParent } from '../../src/store/tree-parent';

const made: string[] = [];

async function scratch(under: string): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(under, 'tsbuild-tree-parent-'));
  made.push(dir);
  return dir;
}

afterAll(async () => {
  for (const dir of made) await fsp.rm(dir, { recursive: true, force: true });
});

/** The attribute letters `lsattr -d` prints for a directory. */
function attributes(dir: string): string {
  return execFileSync('lsattr', ['-d', dir], { encoding: 'utf8' }).split(' ')[0] ?? '';
}

/** `stat -f`'s name for the file system holding `dir` (ext4 is reported as ext2/ext3). */
function fileSystemType(dir: string): string {
  return execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
}

describe('makeTreeParent', () => {
  it('creates the directory with its parents and marks it as a top directory on ext4', async () => {
    const base = await scratch(os.tmpdir());
    const dir = path.join(base, 'store', 'runs');
    await makeTreeParent(dir);
    expect((await fsp.stat(dir)).isDirectory()).toBe(true);
    // The store's own file system on the machines it runs on; elsewhere the mark is refused, as the next test shows.
    if (fileSystemType(base) === 'ext2/ext3') expect(attributes(dir)).toContain('T');
    // again, on a directory that exists: no error, the mark stays
    await makeTreeParent(dir);
    if (fileSystemType(base) === 'ext2/ext3') expect(attributes(dir)).toContain('T');
  });

  it('leaves a directory on a file system without the flag (tmpfs) unmarked, without an error', async () => {
    const base = await scratch('/dev/shm');
    expect(fileSystemType(base)).toBe('tmpfs');
    const dir = path.join(base, 'tmp');
    await makeTreeParent(dir);
    expect((await fsp.stat(dir)).isDirectory()).toBe(true);
  });
});
