import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../../src/errors';
import { exportDirectory } from '../../src/layers/export-dir';

let dir: string;

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-export-dir-'));
});

afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

async function tree(name: string, files: Record<string, string>): Promise<string> {
  const root = path.join(dir, name);
  for (const [rel, content] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fsp.writeFile(path.join(root, rel), content);
  }
  return root;
}

describe('exportDirectory', () => {
  it('creates a missing destination, and leaves no staging dir', async () => {
    const src = await tree('src', { 'etc/a': 'a', b: 'b' });
    const dest = path.join(dir, 'out', 'rootfs');
    await exportDirectory(src, dest);
    expect(await fsp.readFile(path.join(dest, 'etc', 'a'), 'utf8')).toBe('a');
    expect(await fsp.readdir(path.join(dir, 'out'))).toEqual(['rootfs']);
  });

  it('never writes through a link already in the destination, to a file or to a directory', async () => {
    const hostFile = path.join(dir, 'host-file');
    const hostDir = path.join(dir, 'host-dir');
    await fsp.writeFile(hostFile, 'host secret');
    await fsp.mkdir(hostDir);
    const dest = path.join(dir, 'dest');
    await fsp.mkdir(dest);
    await fsp.symlink(hostFile, path.join(dest, 'x')); // what an earlier export of another image left
    await fsp.symlink(hostDir, path.join(dest, 'd'));
    await fsp.writeFile(path.join(dest, 'kept'), 'untouched');
    await exportDirectory(await tree('src', { x: 'image file', 'd/f': 'image dir file' }), dest);
    expect(await fsp.readFile(hostFile, 'utf8')).toBe('host secret');
    expect(await fsp.readdir(hostDir)).toEqual([]);
    expect((await fsp.lstat(path.join(dest, 'x'))).isFile()).toBe(true);
    expect(await fsp.readFile(path.join(dest, 'x'), 'utf8')).toBe('image file');
    expect(await fsp.readFile(path.join(dest, 'd', 'f'), 'utf8')).toBe('image dir file');
    expect(await fsp.readFile(path.join(dest, 'kept'), 'utf8')).toBe('untouched');
    expect((await fsp.readdir(dir)).filter((n) => n.includes('tsbuild'))).toEqual([]);
  });

  it('refuses a destination that is a file', async () => {
    const file = path.join(dir, 'file');
    await fsp.writeFile(file, '');
    await expect(exportDirectory(await tree('src', { a: 'a' }), file)).rejects.toThrow(UserError);
    await expect(exportDirectory(await tree('src2', { a: 'a' }), file)).rejects.toThrow(
      `--output type=local: ${file} exists and is not a directory`,
    );
  });
});
