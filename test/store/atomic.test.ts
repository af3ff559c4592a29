import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { atomicWriteFile } from '../../src/store/atomic';

let dir: string;

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-atomic-'));
});

afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('atomicWriteFile', () => {
  it('creates and replaces a file, leaving no temp files', async () => {
    const target = path.join(dir, 'index.json');
    await atomicWriteFile(target, '{"v":1}');
    expect(await fsp.readFile(target, 'utf8')).toBe('{"v":1}');
    const before = (await fsp.stat(target)).ino;
    await atomicWriteFile(target, Buffer.from('{"v":2}'));
    expect(await fsp.readFile(target, 'utf8')).toBe('{"v":2}');
    // Replaced by rename, not rewritten in place: a concurrent reader holding the old file keeps old bytes.
    expect((await fsp.stat(target)).ino).not.toBe(before);
    expect(await fsp.readdir(dir)).toEqual(['index.json']);
  });

  it('applies the requested mode', async () => {
    const target = path.join(dir, 'secret');
    await atomicWriteFile(target, 'x', { mode: 0o600 });
    expect((await fsp.stat(target)).mode & 0o777).toBe(0o600);
  });

  it('a failed write leaves the old content and no temp file', async () => {
    const target = path.join(dir, 'sub');
    await fsp.mkdir(target); // renaming a file over a directory fails
    await expect(atomicWriteFile(target, 'x')).rejects.toThrow();
    expect(await fsp.readdir(dir)).toEqual(['sub']);
  });

  it('concurrent writers each leave a complete file', async () => {
    const target = path.join(dir, 'f');
    const payloads = Array.from({ length: 20 }, (_, i) => String(i).repeat(10000));
    await Promise.all(payloads.map((p) => atomicWriteFile(target, p)));
    expect(payloads).toContain(await fsp.readFile(target, 'utf8'));
    expect(await fsp.readdir(dir)).toEqual(['f']);
  });
});
