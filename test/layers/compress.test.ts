import { execFileSync } from 'node:child_process';
import type { BlobCompression } from '../../src/store/compression';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { CompressStream } from 'zstd-napi';
import { BlobStore } from '../../src/store/blob-store';
import { decompressLayer, detectCompression, storeLayer, ZSTD_JOB_SIZE } from '../../src/layers/compress';
import { LayerFormatError } from '../../src/layers/errors';
import { createLayerTar, type LayerEntry } from '../../src/layers/tar-writer';
import { collect, sha256 } from './support/tar-helpers';

let tmp: string;

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-compress-'));
});

afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

function entries(): LayerEntry[] {
  const big = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i % 251) ^ (i >> 12);
  return [
    { type: 'dir', path: 'data', mtime: 1 },
    { type: 'file', path: 'data/big', content: big, mtime: 1 },
    { type: 'file', path: 'data/small', content: Buffer.from('small\n'.repeat(100)), mtime: 1 },
  ];
}

describe('storeLayer', () => {
  it.each<BlobCompression>(['gzip', 'zstd', 'none'])(
    '%s: one pass gives blob digest, size and diff_id, deterministically',
    async (compression) => {
      const tar = await collect(createLayerTar(entries()));
      const storeA = new BlobStore(path.join(tmp, 'a'));
      const storeB = new BlobStore(path.join(tmp, 'b'));
      const a = await storeLayer(createLayerTar(entries()), storeA, { compression });
      const b = await storeLayer(createLayerTar(entries()), storeB, { compression });
      expect(b).toEqual(a);
      expect(a.diffId).toBe(sha256(tar));
      expect(a.uncompressedSize).toBe(tar.length);
      const blob = await storeA.readAll(a.digest);
      expect(sha256(blob)).toBe(a.digest);
      expect(blob.length).toBe(a.size);
      expect(detectCompression(blob)).toBe(compression);
      if (compression === 'none') expect(a.digest).toBe(a.diffId);
      else expect(a.size).toBeLessThan(tar.length);
      expect((await collect(decompressLayer(storeA.open(a.digest)))).equals(tar)).toBe(true);
    },
  );

  it('gzip has a reproducible header (no name, mtime 0) and real gzip reads it', async () => {
    const store = new BlobStore(tmp);
    const layer = await storeLayer(createLayerTar(entries()), store, { compression: 'gzip' });
    const blob = await store.readAll(layer.digest);
    expect(blob[3]).toBe(0); // FLG: no FNAME, no FEXTRA, no FCOMMENT
    expect(blob.readUInt32LE(4)).toBe(0); // MTIME
    const unzipped = execFileSync('gzip', ['-dc'], { input: blob, maxBuffer: 64 << 20 });
    expect(sha256(unzipped)).toBe(layer.diffId);
  });

  it('zstd blobs are read by the zstd tool', async () => {
    const store = new BlobStore(tmp);
    const layer = await storeLayer(createLayerTar(entries()), store, { compression: 'zstd' });
    const out = execFileSync('zstd', ['-dc'], {
      input: await store.readAll(layer.digest),
      maxBuffer: 64 << 20,
    });
    expect(sha256(out)).toBe(layer.diffId);
  });

  it("zstd's multi-threaded output is the same for any number of workers (what storeLayer relies on)", async () => {
    const tar = await collect(createLayerTar(entries()));
    const bytes = async (nbWorkers: number): Promise<string> =>
      sha256(
        await collect(
          // Several jobs' worth of input, cut at the job size storeLayer uses.
          Readable.from(Array.from({ length: 6 }, () => tar)).pipe(
            new CompressStream({ compressionLevel: 3, nbWorkers, jobSize: ZSTD_JOB_SIZE }),
          ),
        ),
      );
    const one = await bytes(1);
    expect(await bytes(2)).toBe(one);
    expect(await bytes(5)).toBe(one);
  });

  it('decompresses what gzip and zstd tools wrote, including concatenated gzip members', async () => {
    const tar = await collect(createLayerTar(entries()));
    const gz = execFileSync('gzip', ['-c', '-9'], { input: tar, maxBuffer: 64 << 20 });
    const half = tar.length >> 1;
    const twoMembers = Buffer.concat([
      execFileSync('gzip', ['-c'], { input: tar.subarray(0, half) }),
      execFileSync('gzip', ['-c'], { input: tar.subarray(half) }),
    ]);
    const zst = execFileSync('zstd', ['-c', '-19'], { input: tar, maxBuffer: 64 << 20 });
    for (const blob of [gz, twoMembers, zst, tar]) {
      expect((await collect(decompressLayer(Readable.from([blob])))).equals(tar)).toBe(true);
    }
  });

  it('a failing tar source stores nothing', async () => {
    const store = new BlobStore(tmp);
    async function* failing() {
      yield Buffer.alloc(1024);
      throw new Error('source died');
    }
    await expect(storeLayer(failing(), store, { compression: 'gzip' })).rejects.toThrow('source died');
    expect(await store.list()).toEqual([]);
    expect(await fsp.readdir(path.join(tmp, 'tmp'))).toEqual([]);
  });

  it('corrupt compressed data is a LayerFormatError', async () => {
    const gz = execFileSync('gzip', ['-c'], { input: Buffer.alloc(10000, 1) });
    gz[20] ^= 0xff;
    gz[21] ^= 0xff;
    await expect(collect(decompressLayer(Readable.from([gz])))).rejects.toThrow(LayerFormatError);
  });

  it('detects compression from magic bytes', () => {
    expect(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(detectCompression(Buffer.from('etc/'))).toBe('none');
    expect(detectCompression(Buffer.alloc(0))).toBe('none');
  });
});
