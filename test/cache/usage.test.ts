/**
 * `cache du` and `cache ls` data from a real store, and the size and age units the cache commands read and print.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BlobStore } from '../../src/store/blob-store';
import { formatAgo, formatDuration, formatSize, parseAge, parseSize } from '../../src/cache/units';
import { listCacheRecords, readStoreUsage } from '../../src/cache/usage';
import { UserError } from '../../src/errors';
import { ImageStore } from '../../src/image/image-store';
import { runBuild, tempDir, writeFiles } from '../helpers/build';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => fsp.rm(d, { recursive: true, force: true })));
});

/** Apparent size of everything under `p` but the collector's own bookkeeping, the way usage is measured. */
async function du(p: string): Promise<number> {
  const st = await fsp.lstat(p);
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const name of await fsp.readdir(p))
    if (name !== 'locks' && name !== 'gc') n += await du(path.join(p, name));
  return n;
}

describe('store usage', () => {
  test('every byte is counted once, in the kind that claims it', async () => {
    const ctx = await tempDir('usage-ctx');
    const root = await tempDir('usage-store');
    dirs.push(ctx, root);
    await writeFiles(ctx, {
      Dockerfile: 'FROM scratch\nCOPY a.txt /\nENV X=1\n',
      'a.txt': 'a'.repeat(5000),
    });
    const run = await runBuild(ctx, root);
    await new ImageStore(root).tag('u:1', {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: run.image.manifestDigest,
      size: run.image.manifestSize,
    });
    const garbage = await new BlobStore(root).put('nobody points at this');

    const usage = await readStoreUsage(root);
    const row = (kind: string) => usage.rows.find((r) => r.kind === kind);
    expect(row('layers')).toMatchObject({ count: 1, bytes: run.image.layers[0]?.size });
    // The manifest and config only the tag keeps.
    expect(row('images')).toMatchObject({ count: 2, bytes: run.image.manifestSize + run.image.configSize });
    expect(row('unreferenced')).toMatchObject({ count: 1, bytes: garbage.size });
    expect(row('records')?.count).toBe((await listCacheRecords(root)).length);
    // The listing of what COPY read, and the new layer's own (written with it, so nothing reads the blob back).
    expect(row('listings')?.count).toBe(2);
    expect(usage.total).toBe(usage.rows.reduce((n, r) => n + r.bytes, 0));
    expect(usage.total).toBe(await du(root));
  });

  test('records are listed most recently used first', async () => {
    const ctx = await tempDir('usage-ctx');
    const root = await tempDir('usage-store');
    dirs.push(ctx, root);
    await writeFiles(ctx, { Dockerfile: 'FROM scratch\nCOPY a.txt /\n', 'a.txt': '1' });
    await runBuild(ctx, root);
    await new Promise((r) => setTimeout(r, 5));
    await writeFiles(ctx, { 'a.txt': '2' });
    await runBuild(ctx, root);
    const copies = (await listCacheRecords(root)).filter((r) => r.description === 'COPY a.txt /');
    expect(copies).toHaveLength(2);
    expect(Date.parse(copies[0]?.lastUsedAt as string)).toBeGreaterThan(
      Date.parse(copies[1]?.lastUsedAt as string),
    );
  });
});

describe('units', () => {
  test('sizes: SI and IEC suffixes, bytes by default, case-insensitive', () => {
    expect(parseSize('500MB', '--keep-storage')).toBe(500e6);
    expect(parseSize('2GB', '--keep-storage')).toBe(2e9);
    expect(parseSize('1.5GiB', '--keep-storage')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('10k', '--keep-storage')).toBe(10_000);
    expect(parseSize('4096', '--keep-storage')).toBe(4096);
    expect(parseSize(' 3 mb ', '--keep-storage')).toBe(3e6);
    for (const bad of ['', 'lots', '5XB', '-1GB', '1e9']) {
      expect(() => parseSize(bad, '--keep-storage')).toThrow(UserError);
    }
    expect(() => parseSize('5XB', '--keep-storage')).toThrow('invalid --keep-storage "5XB"');
  });

  test('durations: ms s m h d w, combined', () => {
    expect(parseAge('24h', '--keep-duration')).toBe(86_400_000);
    expect(parseAge('7d', '--keep-duration')).toBe(7 * 86_400_000);
    expect(parseAge('1h30m', '--keep-duration')).toBe(90 * 60_000);
    expect(parseAge('2w', '--keep-duration')).toBe(14 * 86_400_000);
    expect(parseAge('1.5s', '--keep-duration')).toBe(1500);
    for (const bad of ['', '7', 'd', '1y', '1h 30m']) {
      expect(() => parseAge(bad, '--keep-duration')).toThrow(UserError);
    }
  });

  test('formatting', () => {
    expect(formatSize(0)).toBe('0B');
    expect(formatSize(999)).toBe('999B');
    expect(formatSize(1234)).toBe('1.23kB');
    expect(formatSize(45_600_000)).toBe('45.6MB');
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(4200)).toBe('4.2s');
    expect(formatDuration(185_000)).toBe('3m 05s');
    const now = Date.parse('2024-05-10T12:00:00Z');
    expect(formatAgo('2024-05-10T11:59:58Z', now)).toBe('just now');
    expect(formatAgo('2024-05-10T11:55:00Z', now)).toBe('5 minutes ago');
    expect(formatAgo('2024-05-07T12:00:00Z', now)).toBe('3 days ago');
    expect(formatAgo('garbage', now)).toBe('unknown');
  });
});
