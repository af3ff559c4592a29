import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { crc32, GZIP_BLOCK, ParallelGzip } from '../../src/layers/gzip-parallel';
import { collect } from './support/tar-helpers';

/** Text-like and random bytes, interleaved: compressible blocks next to incompressible ones. */
function sample(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (i >> 16) % 3 === 0 ? x >>> 24 : 97 + ((x >>> 16) % 7);
  }
  return out;
}

async function gzip(data: Buffer, chunk: number, jobs?: number, level?: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) pieces.push(data.subarray(i, i + chunk));
  return collect(Readable.from(pieces).pipe(new ParallelGzip({ jobs, level })));
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('ParallelGzip', () => {
  it.each([0, 1, 1000, GZIP_BLOCK - 1, GZIP_BLOCK, GZIP_BLOCK + 1, 3 * GZIP_BLOCK, 5 * GZIP_BLOCK + 12345])(
    '%i bytes: one gzip member that zlib and gzip(1) decode to the input',
    async (size) => {
      const data = sample(size);
      const gz = await gzip(data, 100_000);
      expect(zlib.gunzipSync(gz).equals(data)).toBe(true);
      expect(sha(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 << 20 }))).toBe(sha(data));
      expect(gz.readUInt32LE(gz.length - 8)).toBe(crc32(data));
      expect(gz.readUInt32LE(gz.length - 4)).toBe(size);
    },
  );

  it('gives the same bytes however the input is chunked and however many blocks run at once', async () => {
    const data = sample(4 * GZIP_BLOCK + 777, 7);
    const reference = await gzip(data, 1 << 20, 1);
    for (const [chunk, jobs] of [
      [4096, 4],
      [65_537, 2],
      [3 << 20, 3],
      [data.length, 1],
    ]) {
      expect(sha(await gzip(data, chunk, jobs))).toBe(sha(reference));
    }
  });

  it("writes zlib's header (no name, mtime 0, OS Unix, XFL by level) and compresses", async () => {
    const data = sample(2 * GZIP_BLOCK);
    const six = await gzip(data, 1 << 16);
    expect([...six.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    expect(six.length).toBeLessThan(data.length * 0.7);
    expect((await gzip(data, 1 << 16, 2, 9))[8]).toBe(2);
    expect((await gzip(data, 1 << 16, 2, 1))[8]).toBe(4);
    const header = zlib.gzipSync(Buffer.from('x'), { level: 6 }).subarray(0, 10);
    expect([...six.subarray(0, 10)]).toEqual([...header]);
  });

  it('the CRC-32 matches zlib', () => {
    const data = sample(100_000);
    const viaZlib = zlib.gzipSync(data).readUInt32LE(zlib.gzipSync(data).length - 8);
    expect(crc32(data)).toBe(viaZlib);
    expect(crc32(data.subarray(5000), crc32(data.subarray(0, 5000)))).toBe(viaZlib);
  });

  it('rejects a level out of range', () => {
    expect(() => new ParallelGzip({ level: 12 })).toThrow(RangeError);
  });
});
