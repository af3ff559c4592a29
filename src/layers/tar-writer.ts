/**
 * Deterministic layer tars. Given a list of entries (not a directory walk: the caller decides what is in
 * the layer), produce the tar stream BuildKit/containerd would: entries in walk order (parents before
 * children, siblings by bytes), numeric owners with empty user/group names, permission bits only, one
 * fixed mtime per entry (clamped to SOURCE_DATE_EPOCH), no atime/ctime, xattrs as `SCHILY.xattr.` records.
 * The same entries give the same bytes on any machine. File contents stream; nothing is held whole.
 *
 * Built for contexts of tens of thousands of small files: members are written into 1 MiB chunks, a small file
 * is read straight into its chunk with blocking calls (open, fstat, one read, close: on a warm page cache a
 * thread-pool round trip per call would cost more than the call), the common plain USTAR header is encoded in
 * place, and tar members are planned (`tar-plan.ts`) one at a time as they are written rather than all up front.
 */
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { BuildError } from '../errors';
import { LayerEntryError } from './errors';
import {
  BLOCK,
  encodeHeader,
  endOfArchive,
  padding,
  writeUstarHeader,
  type HeaderFields,
} from './tar-header';
import { planMembers } from './tar-plan';

/** Where a regular file's bytes come from. */
export type ContentSource =
  | Buffer
  /** A path on disk, read at write time; it must be a regular file (symlinks are not followed). */
  | string
  | { size: number; open: () => AsyncIterable<Uint8Array> };

export interface EntryMeta {
  /** Permission bits incl. setuid/setgid/sticky; type bits are stripped. Defaults: dir 0755, file 0644. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch (fractions dropped) or a Date. Default 0. */
  mtime?: number | Date;
  /** Extended attributes, written as PAX `SCHILY.xattr.<name>` records. */
  xattrs?: Readonly<Record<string, string | Buffer>>;
}

export type LayerEntry = EntryMeta &
  (
    | { type: 'file'; path: string; content: ContentSource }
    | { type: 'dir'; path: string }
    | { type: 'symlink'; path: string; target: string }
    /** `target` is a path in the layer (or a lower layer), not relative to `path`. */
    | { type: 'hardlink'; path: string; target: string }
    | { type: 'char' | 'block'; path: string; major: number; minor: number }
    | { type: 'fifo'; path: string }
    /** Deletes `path` from lower layers: written as `<dir>/.wh.<name>`. */
    | { type: 'whiteout'; path: string }
    /** Hides everything lower layers have under directory `path`: written as `<path>/.wh..wh..opq`. */
    | { type: 'opaque'; path: string }
  );

export interface TarWriterOptions {
  /** SOURCE_DATE_EPOCH in seconds: every mtime later than this is clamped to it. */
  sourceDateEpoch?: number;
  /**
   * Told each member's header as it is written, with the bytes of data that follow it (a file's size, known only
   * once the source is open): a layer's listing and its unpacked size are gathered in the same pass.
   */
  onHeader?: (header: HeaderFields, dataBytes: number) => void;
}

/** One tar member, ready to write: header fields plus where its data comes from. */
export interface PlannedEntry {
  header: HeaderFields;
  content?: ContentSource;
}

/** Chunks handed downstream: big enough that per-chunk costs vanish, small enough to stay out of the way. */
const CHUNK = 1 << 20;
/** Chunks handed out between two turns of the event loop. */
const CHUNKS_PER_TURN = 16;
/** Files up to this size are read into the chunk in one blocking read; larger ones in CHUNK-sized reads. */
const SMALL_FILE = 1 << 20;

/** The tar stream for `entries`. Errors (unreadable source, file changed while read) surface as stream errors. */
export function createLayerTar(entries: readonly LayerEntry[], options: TarWriterOptions = {}): Readable {
  return Readable.from(layerTarChunks(entries, options), { objectMode: false, highWaterMark: CHUNK });
}

export async function* layerTarChunks(
  entries: readonly LayerEntry[],
  options: TarWriterOptions = {},
): AsyncGenerator<Buffer> {
  const out = new Chunks();
  let chunksSinceTurn = 0;
  for (const { header, content } of planMembers(entries, options)) {
    if (content === undefined) {
      options.onHeader?.(header, 0);
      out.header(header, 0);
    } else if (Buffer.isBuffer(content)) {
      options.onHeader?.(header, content.length);
      out.header(header, content.length);
      if (content.length <= SMALL_FILE) out.copy(content);
      else {
        yield* out.take();
        yield content;
      }
      out.zeros(padding(content.length));
    } else if (typeof content === 'string') {
      const fd = openSource(content);
      try {
        const st = fstatSync(fd);
        if (!st.isFile()) throw new LayerEntryError(`${content} is not a regular file`);
        options.onHeader?.(header, st.size);
        out.header(header, st.size);
        if (st.size <= SMALL_FILE) out.readFile(fd, st.size, header.name);
        else {
          yield* out.take();
          yield* readLargeFile(fd, st.size, header.name);
        }
        out.zeros(padding(st.size));
      } finally {
        closeSync(fd);
      }
    } else {
      options.onHeader?.(header, content.size);
      out.header(header, content.size);
      yield* out.take();
      let written = 0;
      for await (const chunk of content.open()) {
        written += chunk.length;
        if (written > content.size) throw fileChanged(header.name, 'grew');
        yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
      if (written !== content.size) throw fileChanged(header.name, 'shrank');
      out.zeros(padding(content.size));
    }
    if (out.full()) {
      yield* out.take();
      // Downstream may be synchronous all the way (zstd, the blob store's writes): give the event loop a turn
      // now and then, or timers, signals and I/O callbacks would wait for the whole layer.
      if (++chunksSinceTurn >= CHUNKS_PER_TURN) {
        chunksSinceTurn = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }
  out.copy(endOfArchive());
  yield* out.take();
}

function fileChanged(name: string, how: string): BuildError {
  return new BuildError(
    `${name} ${how} while it was being written to a layer; nothing may modify its source`,
  );
}

/**
 * O_NOFOLLOW: the file is declared a regular file; a symlink here (say, planted in a build's rootfs to point
 * at a host file) must not be read through. O_NONBLOCK: a FIFO planted the same way must not hang the open.
 */
function openSource(file: string): number {
  try {
    return openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    throw new BuildError(`cannot read ${file} for a layer: ${(err as Error).message}`);
  }
}

/** Read exactly `size` bytes of an open file, a chunk at a time, then check it has no more. */
function* readLargeFile(fd: number, size: number, name: string): Generator<Buffer> {
  let position = 0;
  while (position < size) {
    const want = Math.min(CHUNK, size - position);
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const n = readSync(fd, buf, got, want - got, position + got);
      if (n === 0) throw fileChanged(name, 'shrank');
      got += n;
    }
    position += got;
    yield buf;
  }
  if (readSync(fd, Buffer.alloc(1), 0, 1, position) !== 0) throw fileChanged(name, 'grew');
}

/** The tar stream being assembled: a chunk buffer filled member by member and handed out when full. */
class Chunks {
  private buf: Buffer | undefined;
  private used = 0;

  /** Filled chunks not yet handed out. */
  private pending: Buffer[] = [];

  /** Room for at least `n` more bytes in the current chunk (starting a new one, after setting the old aside). */
  private reserve(n: number): Buffer {
    if (this.buf !== undefined && this.buf.length - this.used >= n) return this.buf;
    if (this.buf !== undefined && this.used > 0) this.pending.push(this.buf.subarray(0, this.used));
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK, n));
    this.used = 0;
    return this.buf;
  }

  full(): boolean {
    return this.pending.length > 0 || (this.buf !== undefined && this.used >= CHUNK - BLOCK);
  }

  /** Everything written so far, as chunks to yield; the next write starts a fresh chunk. */
  *take(): Generator<Buffer> {
    const out = this.pending;
    this.pending = [];
    if (this.buf !== undefined && this.used > 0) out.push(this.buf.subarray(0, this.used));
    this.buf = undefined;
    this.used = 0;
    yield* out;
  }

  copy(data: Uint8Array): void {
    const buf = this.reserve(data.length);
    buf.set(data, this.used);
    this.used += data.length;
  }

  zeros(n: number): void {
    if (n === 0) return;
    const buf = this.reserve(n);
    buf.fill(0, this.used, this.used + n);
    this.used += n;
  }

  /** The header block(s) of a member with `size` bytes of data. */
  header(h: HeaderFields, size: number): void {
    const buf = this.reserve(BLOCK);
    if (writeUstarHeader(buf, this.used, h, size)) this.used += BLOCK;
    else this.copy(encodeHeader({ ...h, size }));
  }

  /**
   * A small file's `size` bytes, read straight into the chunk. One byte more is asked for, so a file that grew
   * since its fstat is caught by the same read; a file that shrank comes up short.
   */
  readFile(fd: number, size: number, name: string): void {
    const buf = this.reserve(size + padding(size) + 1);
    let got = 0;
    while (got <= size) {
      const n = readSync(fd, buf, this.used + got, size + 1 - got, null);
      if (n === 0) break;
      got += n;
    }
    if (got > size) throw fileChanged(name, 'grew');
    if (got < size) throw fileChanged(name, 'shrank');
    this.used += size;
  }
}
