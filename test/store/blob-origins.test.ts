import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listBlobOrigins, readBlobOrigin, writeBlobOrigin } from '../../src/store/blob-origins';
import type { Digest } from '../../src/store/digest';

const made: string[] = [];
afterAll(async () => {
  for (const dir of made) await fsp.rm(dir, { recursive: true, force: true });
});

async function store(): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-origins-'));
  made.push(dir);
  return dir;
}

const blob = (c: string): Digest => `sha256:${c.repeat(64)}`;

describe('blob origin notes', () => {
  it('remember where a blob came from; the first origin stays', async () => {
    const root = await store();
    expect(await readBlobOrigin(root, blob('a'))).toBeUndefined();
    await writeBlobOrigin(root, blob('a'), { registry: '127.0.0.1:5000', repository: 'library/debian' });
    await writeBlobOrigin(root, blob('a'), { registry: 'other.example', repository: 'mirror/debian' });
    expect(await readBlobOrigin(root, blob('a'))).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'library/debian',
    });
    expect(await listBlobOrigins(root)).toEqual(new Set([blob('a')]));
  });

  it('a damaged or foreign note names no origin (the blob is then kept)', async () => {
    const root = await store();
    await writeBlobOrigin(root, blob('b'), { registry: 'r', repository: 'x' });
    await fsp.writeFile(path.join(root, 'origins', `${'c'.repeat(64)}.json`), '{"registry": 7');
    await fsp.writeFile(
      path.join(root, 'origins', `${'d'.repeat(64)}.json`),
      '{"registry": "", "repository": "x"}',
    );
    await fsp.writeFile(path.join(root, 'origins', 'stray.txt'), 'x');
    expect(await readBlobOrigin(root, blob('c'))).toBeUndefined();
    expect(await readBlobOrigin(root, blob('d'))).toBeUndefined();
    expect(await listBlobOrigins(root)).toEqual(new Set([blob('b')]));
  });
});
