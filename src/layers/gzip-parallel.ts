/**
 * gzip on every core, the way pigz does it: the input is cut into fixed 1 MiB blocks, each block is deflated on
 * its own (in libuv's thread pool, several at once) with the previous block's last 32 KiB as its dictionary and
 * a sync flush at its end, and the raw deflate outputs are concatenated in order into one gzip member, with the
 * CRC-32 and length of the whole input in the trailer. Any gzip reader sees one ordinary stream.
 *
 * Deterministic: block boundaries depend only on the input's offsets (never on how it was chunked, nor on how
 * many blocks ran at once), so the same input and level give the same bytes with the same zlib. The header is
 * what zlib's own gzip writes (no name, mtime 0, OS Unix), so only the deflate blocks differ from a one-thread
 * `zlib.createGzip`: the output is a little larger (a few bytes per MiB) and made several times faster.
 */
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';

/** Input bytes per independently deflated block (pigz uses 128 KiB; fewer, larger jobs suit a thread pool). */
export const GZIP_BLOCK = 1 << 20;
/** zlib's output buffer per trip to the thread pool: a block's output is a few of these. */
const OUT_CHUNK = 256 * 1024;
/** deflate's window: what a block may refer back to in the block before it. */
const WINDOW = 32 * 1024;

export interface ParallelGzipOptions {
  /** 1–9 (default 6). */
  level?: number;
  /** Blocks deflated at once (default: one more than the cores, at most libuv's 4 pool threads). */
  jobs?: number;
}

type Job = Promise<{ input: Buffer; out: Buffer[] } | { err: Error }>;

export class ParallelGzip extends Transform {
  private readonly level: number;
  private readonly maxJobs: number;
  private readonly jobs: Job[] = [];
  private block: Buffer = Buffer.allocUnsafe(GZIP_BLOCK);
  private filled = 0;
  private dictionary: Buffer | undefined;
  /** The block whose tail is `dictionary`, and whether its own job is done. */
  private previousBlock: Buffer | undefined;
  private previousDone = false;
  /** Blocks whose jobs are done, to be filled again (every fresh megabyte would count towards V8's GC). */
  private readonly spare: Buffer[] = [];
  private crc = 0;
  private size = 0;

  constructor(options: ParallelGzipOptions = {}) {
    super();
    this.level = options.level ?? zlib.constants.Z_DEFAULT_COMPRESSION;
    if (this.level === zlib.constants.Z_DEFAULT_COMPRESSION) this.level = 6;
    if (!Number.isInteger(this.level) || this.level < 0 || this.level > 9) {
      throw new RangeError(`gzip level ${this.level} is not 0-9`);
    }
    this.maxJobs = Math.max(1, options.jobs ?? Math.min(4, availableParallelism() + 1));
    this.push(gzipHeader(this.level));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.consume(chunk).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.finish().then(() => cb(), cb);
  }

  private async consume(chunk: Buffer): Promise<void> {
    this.crc = crc32(chunk, this.crc);
    this.size += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(GZIP_BLOCK - this.filled, chunk.length - offset);
      chunk.copy(this.block, this.filled, offset, offset + n);
      this.filled += n;
      offset += n;
      if (this.filled === GZIP_BLOCK) {
        const full = this.block;
        this.block = this.newBlock();
        this.filled = 0;
        await this.dispatch(full, false);
      }
    }
  }

  private async finish(): Promise<void> {
    await this.dispatch(this.block.subarray(0, this.filled), true);
    while (this.jobs.length > 0) await this.emitOldest();
    const trailer = Buffer.allocUnsafe(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    trailer.writeUInt32LE(this.size % 2 ** 32, 4);
    this.push(trailer);
  }

  /** Start deflating one block; wait for the oldest when as many as allowed are running. */
  private async dispatch(input: Buffer, last: boolean): Promise<void> {
    const options: zlib.ZlibOptions = {
      level: this.level,
      finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
      chunkSize: OUT_CHUNK,
    };
    if (this.dictionary !== undefined) options.dictionary = this.dictionary;
    this.jobs.push(deflateBlock(input, options));
    // zlib copied the dictionary as the job was set up: the previous block is free once its own job is done.
    if (this.previousBlock !== undefined && this.previousDone) this.recycle(this.previousBlock);
    // Every block but the last is full, so the next block's dictionary is simply this block's tail.
    this.dictionary = input.subarray(Math.max(0, input.length - WINDOW));
    this.previousBlock = input;
    this.previousDone = false;
    while (this.jobs.length >= this.maxJobs) await this.emitOldest();
  }

  private async emitOldest(): Promise<void> {
    const result = await (this.jobs.shift() as Job);
    if ('err' in result) throw result.err;
    for (const chunk of result.out) this.push(chunk);
    // Done with its input; a block still serving as the next job's dictionary waits for that job to start.
    if (result.input === this.previousBlock) this.previousDone = true;
    else this.recycle(result.input);
  }

  /** A block that is neither being deflated nor anyone's dictionary may be filled again. */
  private recycle(block: Buffer): void {
    if (block.length === GZIP_BLOCK) this.spare.push(block);
  }

  private newBlock(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafe(GZIP_BLOCK);
  }
}

/**
 * Deflate one block in the thread pool; the output chunks as zlib produced them (no copy into one buffer).
 * Settles only when zlib is done with `input`.
 */
function deflateBlock(input: Buffer, options: zlib.ZlibOptions): Job {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const deflate = zlib.createDeflateRaw(options);
    deflate.on('data', (chunk: Buffer) => out.push(chunk));
    deflate.on('error', (err) => resolve({ err }));
    deflate.on('end', () => resolve({ input, out }));
    deflate.end(input);
  });
}

/** zlib's gzip header: no name, no mtime, XFL from the level as zlib sets it, OS 3 (Unix). */
function gzipHeader(level: number): Buffer {
  const xfl = level === 9 ? 2 : level < 2 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]);
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
let crcTable: Int32Array | undefined;

/** CRC-32 (as gzip's) of `data`, continuing from `value`: zlib's own where Node has it (20.15+). */
export function crc32(data: Uint8Array, value = 0): number {
  if (nativeCrc32) return nativeCrc32(data, value);
  const table = (crcTable ??= makeCrcTable());
  let c = ~value;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function makeCrcTable(): Int32Array {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
}
