/**
 * Layer compression in one streaming pass: the tar flows through a sha256 tap (the uncompressed diff_id),
 * then the compressor, then into the blob store (which hashes the compressed bytes for the blob digest).
 * Nothing is buffered whole and nothing is read twice.
 *
 * Both compressors use every core. gzip is `ParallelGzip` (pigz's scheme on node's zlib: fixed 1 MiB blocks
 * deflated in the thread pool, chained by 32 KiB dictionaries; header with no name and mtime 0); zstd is
 * zstd-napi's multi-threaded mode (its own worker threads, fixed-size jobs).
 *
 * Determinism: the same tar gives the same blob with the same library versions, on any number of cores: gzip's
 * block boundaries depend only on input offsets, and zstd's output is the same for any worker count of at least
 * one, so one worker is asked for even on a single core. (A different zlib or zstd build may compress
 * differently; the diff_id never changes.)
 */
import type { BlobCompression } from '../store/compression';
import { availableParallelism } from 'node:os';
import { Readable, pipeline, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { CompressStream, DecompressStream } from 'zstd-napi';
import type { BlobStore } from '../store/blob-store';
import { DigestTap, type Digest } from '../store/digest';
import { TsbuildError } from '../errors';
import { LayerFormatError } from './errors';
import { ParallelGzip } from './gzip-parallel';

export interface CompressOptions {
  compression: BlobCompression;
  /** gzip 1–9 (default 6, as `gzip`/containerd), zstd 1–19 (default 3, as `zstd`). */
  level?: number;
}

export interface StoredLayer {
  /** Digest and size of the blob as stored (compressed unless `none`). */
  digest: Digest;
  size: number;
  /** sha256 of the uncompressed tar: the image config's rootfs.diff_ids entry. */
  diffId: Digest;
  uncompressedSize: number;
  compression: BlobCompression;
}

export const DEFAULT_GZIP_LEVEL = 6;
export const DEFAULT_ZSTD_LEVEL = 3;
/**
 * Input per zstd job. The default at level 3 (8 MiB) keeps ~50 MB of job buffers in flight; 4 MiB halves that
 * for 0.3% more output. Fixed, so the output stays the same on any number of cores.
 */
export const ZSTD_JOB_SIZE = 4 << 20;

/** Compress a layer tar into the store, returning blob digest/size and diff_id from the same pass. */
export async function storeLayer(
  tar: Readable | AsyncIterable<Uint8Array>,
  store: BlobStore,
  options: CompressOptions,
): Promise<StoredLayer> {
  const source = tar instanceof Readable ? tar : Readable.from(tar, { objectMode: false });
  const tap = new DigestTap();
  const stages: Transform[] = [tap];
  const compressor = createCompressor(options);
  if (compressor !== undefined) stages.push(compressor);
  // The callback-style pipeline destroys the last stage on an error anywhere, which fails the put reading it.
  pipeline([source, ...stages], () => undefined);
  const blob = await store.put(stages[stages.length - 1] ?? tap);
  return {
    digest: blob.digest,
    size: blob.size,
    diffId: tap.digest(),
    uncompressedSize: tap.size,
    compression: options.compression,
  };
}

export function createCompressor(options: CompressOptions): Transform | undefined {
  switch (options.compression) {
    case 'gzip':
      return new ParallelGzip({ level: options.level ?? DEFAULT_GZIP_LEVEL });
    case 'zstd':
      return new CompressStream({
        compressionLevel: options.level ?? DEFAULT_ZSTD_LEVEL,
        nbWorkers: Math.max(1, availableParallelism()),
        jobSize: ZSTD_JOB_SIZE,
      });
    case 'none':
      return undefined;
  }
}

/** Which compression a layer blob uses, from its first bytes (4 are enough). */
export function detectCompression(head: Uint8Array): BlobCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
    return 'zstd';
  return 'none';
}

/** The uncompressed tar stream of a layer blob, whatever its compression (detected from magic bytes). */
export function decompressLayer(source: AsyncIterable<Uint8Array>): Readable {
  return Readable.from(decompressChunks(source), { objectMode: false });
}

async function* decompressChunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLength = 0;
  let ended = false;
  while (headLength < 4) {
    const r = await it.next();
    if (r.done === true) {
      ended = true;
      break;
    }
    head.push(Buffer.from(r.value));
    headLength += r.value.length;
  }
  const kind = detectCompression(Buffer.concat(head));
  const all = (async function* () {
    try {
      yield* head;
      while (!ended) {
        const r = await it.next();
        if (r.done === true) return;
        yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      }
    } finally {
      await it.return?.();
    }
  })();
  if (kind === 'none') {
    yield* all;
    return;
  }
  const decompressor = kind === 'gzip' ? zlib.createGunzip() : new DecompressStream();
  const out = pipeline(Readable.from(all, { objectMode: false }), decompressor, () => undefined);
  try {
    for await (const chunk of out) yield chunk as Buffer;
  } catch (err) {
    // Errors of our own (a corrupt blob under the stream) pass through; the rest are the codec's.
    if (err instanceof TsbuildError) throw err;
    throw new LayerFormatError(`cannot decompress ${kind} layer: ${(err as Error).message}`);
  }
}
