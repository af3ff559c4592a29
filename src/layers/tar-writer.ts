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
 * place, and tar members are planned one at a time as they are written rather than all up front.
 */
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { BuildError } from '../errors';
import { LayerEntryError } from './errors';
import { cleanComponents, OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from './paths';
import { BLOCK, encodeHeader, endOfArchive, padding, TYPEFLAG, type HeaderFields } from './tar-header';

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

// ---- headers -----------------------------------------------------------------------------------------------

const NAME_SIZE = 100;

/**
 * Write the header of a member whose fields all fit a plain USTAR block (ASCII names of at most 100 bytes,
 * no PAX records, numbers within their octal fields) at `buf[offset]`, byte for byte what `encodeHeader`
 * makes of it, and return true; return false, writing nothing, for anything else.
 */
export function writeUstarHeader(buf: Buffer, offset: number, h: HeaderFields, size: number): boolean {
  if (h.extraPax !== undefined && h.extraPax.size > 0) return false;
  if (h.name.length > NAME_SIZE || h.linkname.length > NAME_SIZE) return false;
  if (!isAscii(h.name) || !isAscii(h.linkname)) return false;
  if (
    !fitsOctal(h.mode, 8) ||
    !fitsOctal(h.uid, 8) ||
    !fitsOctal(h.gid, 8) ||
    !fitsOctal(size, 12) ||
    !fitsOctal(h.mtime, 12) ||
    !fitsOctal(h.devmajor, 8) ||
    !fitsOctal(h.devminor, 8)
  )
    return false;
  buf.fill(0, offset, offset + BLOCK);
  buf.write(h.name, offset, 'latin1');
  octal(buf, offset + 100, 8, h.mode);
  octal(buf, offset + 108, 8, h.uid);
  octal(buf, offset + 116, 8, h.gid);
  octal(buf, offset + 124, 12, size);
  octal(buf, offset + 136, 12, h.mtime);
  buf.fill(0x20, offset + 148, offset + 156); // the checksum field counts as spaces
  buf.write(h.typeflag, offset + 156, 1, 'latin1');
  buf.write(h.linkname, offset + 157, 'latin1');
  buf.write('ustar\x0000', offset + 257, 'latin1');
  octal(buf, offset + 329, 8, h.devmajor);
  octal(buf, offset + 337, 8, h.devminor);
  let sum = 0;
  for (let i = offset; i < offset + BLOCK; i++) sum += buf[i];
  octal(buf, offset + 148, 7, sum);
  buf[offset + 155] = 0x20;
  return true;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

function fitsOctal(value: number, width: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value < 8 ** (width - 1);
}

/** Zero-padded octal in `width - 1` digits and a NUL, as Go's formatOctal. */
function octal(buf: Buffer, offset: number, width: number, value: number): void {
  let v = value;
  for (let i = offset + width - 2; i >= offset; i--) {
    buf[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
  buf[offset + width - 1] = 0;
}

// ---- planning ----------------------------------------------------------------------------------------------

interface Normalised {
  entry: LayerEntry;
  /** The clean path of the entry (for whiteouts and opaque markers: of the directory or removed path). */
  name: string;
  /**
   * Sort key: the path the entry affects, `/`-separated, compared with `/` below every other character, which is
   * walk order (component by component, by bytes). Opaque markers get a trailing `/`, so they sort first in
   * their directory.
   */
  key: string;
}

/** A path that is already clean: no empty, `.` or `..` components, no leading or trailing `/`. */
const NEEDS_CLEANING = /(?:^|\/)\.{0,2}(?:\/|$)/;

function cleanName(p: string): string | undefined {
  if (!NEEDS_CLEANING.test(p)) return p;
  const parts = cleanComponents(p);
  return parts === undefined ? undefined : parts.join('/');
}

/** Walk order of two sort keys (see `Normalised.key`): code points, with `/` ending a component. */
function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === 0x2f) return -1;
    if (y === 0x2f) return 1;
    // Only when one side is a surrogate does code-unit order disagree with code-point (= UTF-8 byte) order.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function baseName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/**
 * Validate and order the entries and turn them into tar members. Exposed for tests and for callers that
 * want to inspect a layer plan without writing it.
 */
export function planLayer(entries: readonly LayerEntry[], options: TarWriterOptions = {}): PlannedEntry[] {
  return [...planMembers(entries, options)];
}

/** `planLayer` one member at a time: validation and ordering happen up front, headers as they are needed. */
function planMembers(entries: readonly LayerEntry[], options: TarWriterOptions): Iterable<PlannedEntry> {
  const byKey = new Map<string, Normalised>();
  for (const entry of entries) {
    const name = cleanName(entry.path);
    if (name === undefined || name === '') {
      throw new LayerEntryError(`layer entry path ${JSON.stringify(entry.path)} is not inside the layer`);
    }
    if (baseName(name).startsWith(WHITEOUT_PREFIX)) {
      throw new LayerEntryError(
        `layer entry ${JSON.stringify(entry.path)}: names starting with .wh. are reserved`,
      );
    }
    if (name.includes('\0')) throw new LayerEntryError(`layer entry path contains NUL`);
    const key = entry.type === 'opaque' ? `${name}/` : name;
    if (byKey.has(key)) throw new LayerEntryError(`duplicate layer entry for ${JSON.stringify(name)}`);
    byKey.set(key, { entry, name, key });
  }
  const sorted = [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key));
  byKey.clear();

  // Hardlinks: every member of a link group shares one inode; in the tar the first member (in stream order)
  // must carry the content and the rest link to it, or an extractor would meet a link to a missing file.
  const primaryOf = new Map<Normalised, Normalised>(); // group root (the linked-to entry) -> first member
  const rootCache = new Map<Normalised, Normalised | undefined>();
  if (entries.some((e) => e.type === 'hardlink')) {
    const byPath = new Map<string, Normalised>();
    for (const n of sorted)
      if (n.entry.type !== 'whiteout' && n.entry.type !== 'opaque') byPath.set(n.name, n);
    const rootOf = (n: Normalised): Normalised | undefined => {
      const seen = new Set<Normalised>();
      let cur = n;
      while (cur.entry.type === 'hardlink') {
        if (seen.has(cur)) throw new LayerEntryError(`hardlink cycle at ${cur.name}`);
        seen.add(cur);
        const targetParts = cleanComponents(cur.entry.target);
        if (targetParts === undefined || targetParts.length === 0) {
          throw new LayerEntryError(`hardlink ${cur.name} points outside the layer`);
        }
        const next = byPath.get(targetParts.join('/'));
        if (next === undefined) return undefined; // target lives in a lower layer
        cur = next;
      }
      if (cur.entry.type === 'dir') throw new LayerEntryError(`hardlink to directory ${cur.name}`);
      return cur;
    };
    for (const n of sorted) {
      if (n.entry.type !== 'hardlink') continue;
      const root = rootOf(n);
      rootCache.set(n, root);
      if (root === undefined) continue;
      const first = primaryOf.get(root);
      if (first === undefined || compareKeys(n.key, first.key) < 0) primaryOf.set(root, n);
    }
    for (const [root, first] of primaryOf)
      if (compareKeys(root.key, first.key) < 0) primaryOf.set(root, root);
  }

  const epoch = options.sourceDateEpoch;
  const member = (n: Normalised): PlannedEntry => {
    const { entry, name } = n;
    if (entry.type === 'whiteout' || entry.type === 'opaque') {
      const slash = name.lastIndexOf('/');
      const marker =
        entry.type === 'opaque'
          ? `${name}/${OPAQUE_WHITEOUT}`
          : `${name.slice(0, slash + 1)}${WHITEOUT_PREFIX}${name.slice(slash + 1)}`;
      return { header: baseHeader(marker, TYPEFLAG.file, entry, entry.mode ?? 0, epoch) };
    }
    let root: Normalised | undefined = n;
    if (entry.type === 'hardlink') root = rootCache.get(n);
    else if (!primaryOf.has(n)) root = undefined; // not the target of any link in this layer
    if (root === undefined) return plainMember(name, entry, epoch);
    const primary = primaryOf.get(root) as Normalised;
    // The primary carries the group's content and metadata under its own name.
    if (primary === n) return plainMember(name, root.entry, epoch);
    const linkHeader = plainMember(name, root.entry, epoch).header;
    return {
      header: {
        ...linkHeader,
        typeflag: TYPEFLAG.hardlink,
        linkname: primary.name,
        devmajor: 0,
        devminor: 0,
      },
    };
  };
  // Every header is checked before the first byte is written, so a bad entry fails the layer up front.
  for (const n of sorted) checkMeta(n.name, n.entry);
  return {
    *[Symbol.iterator]() {
      for (const n of sorted) yield member(n);
    },
  };
}

function plainMember(name: string, entry: LayerEntry, epoch: number | undefined): PlannedEntry {
  switch (entry.type) {
    case 'file':
      return { header: baseHeader(name, TYPEFLAG.file, entry, entry.mode, epoch), content: entry.content };
    case 'dir':
      return { header: baseHeader(`${name}/`, TYPEFLAG.dir, entry, entry.mode ?? 0o755, epoch) };
    case 'symlink': {
      const header = baseHeader(name, TYPEFLAG.symlink, entry, entry.mode ?? 0o777, epoch);
      header.linkname = entry.target;
      return { header };
    }
    case 'hardlink': {
      const target = cleanComponents(entry.target);
      if (target === undefined || target.length === 0)
        throw new LayerEntryError(`hardlink ${name} points outside the layer`);
      const header = baseHeader(name, TYPEFLAG.hardlink, entry, entry.mode, epoch);
      header.linkname = target.join('/');
      return { header };
    }
    case 'char':
    case 'block': {
      const header = baseHeader(
        name,
        entry.type === 'char' ? TYPEFLAG.char : TYPEFLAG.block,
        entry,
        entry.mode,
        epoch,
      );
      header.devmajor = entry.major;
      header.devminor = entry.minor;
      return { header };
    }
    case 'fifo':
      return { header: baseHeader(name, TYPEFLAG.fifo, entry, entry.mode, epoch) };
    default:
      throw new LayerEntryError(`unexpected layer entry type for ${name}`);
  }
}

/** The checks `baseHeader` and `plainMember` would make, without building anything. */
function checkMeta(name: string, entry: LayerEntry): void {
  for (const [field, value] of [
    ['uid', entry.uid],
    ['gid', entry.gid],
    ['mode', entry.mode],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new LayerEntryError(`layer entry ${name}: ${field} ${value} is not a non-negative integer`);
    }
  }
  if (entry.xattrs !== undefined) {
    for (const k of Object.keys(entry.xattrs)) {
      if (k === '' || k.includes('=') || k.includes('\0'))
        throw new LayerEntryError(`invalid xattr name ${JSON.stringify(k)} on ${name}`);
    }
  }
  if (entry.type === 'char' || entry.type === 'block') {
    for (const n of [entry.major, entry.minor]) {
      if (!Number.isSafeInteger(n) || n < 0 || n > 0o7777777) {
        throw new LayerEntryError(`layer entry ${name}: device number ${n} is out of range`);
      }
    }
  }
  if (entry.type === 'hardlink') {
    const target = cleanComponents(entry.target);
    if (target === undefined || target.length === 0)
      throw new LayerEntryError(`hardlink ${name} points outside the layer`);
  }
}

function baseHeader(
  name: string,
  typeflag: string,
  meta: EntryMeta,
  mode: number | undefined,
  epoch: number | undefined,
): HeaderFields {
  let mtime =
    meta.mtime instanceof Date ? Math.floor(meta.mtime.getTime() / 1000) : Math.floor(meta.mtime ?? 0);
  if (epoch !== undefined && mtime > epoch) mtime = Math.floor(epoch);
  if (mtime < 0) mtime = 0;
  for (const [field, value] of [
    ['uid', meta.uid],
    ['gid', meta.gid],
    ['mode', mode],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new LayerEntryError(`layer entry ${name}: ${field} ${value} is not a non-negative integer`);
    }
  }
  let extraPax: Map<string, Buffer> | undefined;
  if (meta.xattrs !== undefined) {
    for (const [k, v] of Object.entries(meta.xattrs)) {
      if (k === '' || k.includes('=') || k.includes('\0'))
        throw new LayerEntryError(`invalid xattr name ${JSON.stringify(k)} on ${name}`);
      (extraPax ??= new Map()).set(`SCHILY.xattr.${k}`, typeof v === 'string' ? Buffer.from(v) : v);
    }
  }
  return {
    name,
    typeflag,
    mode: (mode ?? 0o644) & 0o7777,
    uid: meta.uid ?? 0,
    gid: meta.gid ?? 0,
    size: 0,
    mtime,
    linkname: '',
    devmajor: 0,
    devminor: 0,
    extraPax,
  };
}
