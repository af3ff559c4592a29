/**
 * A streaming tar reader that keeps every byte of metadata: PAX records (including binary xattr values,
 * which tar-stream decodes lossily as UTF-8), GNU long names, base-256 numbers. It yields one entry at a
 * time; the entry's body must be consumed (or is skipped) before the next entry is read.
 */
import { LayerFormatError } from './errors';

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo' | 'other';

export interface TarEntryHeader {
  /** The path as stored (after PAX/GNU long-name records), without any trailing `/`. */
  path: string;
  type: TarEntryType;
  /** The raw typeflag character, for diagnostics on `other` entries. */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch; fractional when a PAX record gave sub-second precision. */
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from `SCHILY.xattr.<name>` records, values as raw bytes. */
  xattrs: Map<string, Buffer>;
  /** All PAX records that applied to this entry (global and local), values as raw bytes. */
  pax: Map<string, Buffer>;
}

export interface TarEntry {
  header: TarEntryHeader;
  /** The entry's data (empty for anything but regular files). Read it fully or not at all. */
  body: AsyncIterable<Buffer>;
}

const BLOCK = 512;

/** Pulls exact byte counts out of an async stream of chunks. */
class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;
  private readonly it: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.done) {
      const r = await this.it.next();
      if (r.done === true) {
        this.done = true;
        break;
      }
      const buf = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      if (buf.length > 0) {
        this.chunks.push(buf);
        this.buffered += buf.length;
      }
    }
  }

  /** Exactly `n` bytes, or fewer only at end of input. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    return this.take(Math.min(n, this.buffered));
  }

  /** Up to `max` bytes that are already available (reading once if none are); empty at end of input. */
  async readSome(max: number): Promise<Buffer> {
    if (this.buffered === 0) await this.fill(1);
    return this.take(Math.min(max, this.buffered, this.chunks[0]?.length ?? 0));
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) {
      this.chunks[0] = first.subarray(n);
      if ((this.chunks[0] as Buffer).length === 0) this.chunks.shift();
      this.buffered -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0] as Buffer;
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

export async function* readTar(source: AsyncIterable<Uint8Array>): AsyncGenerator<TarEntry> {
  const r = new ByteReader(source);
  const globalPax = new Map<string, Buffer>();
  let localPax = new Map<string, Buffer>();
  let gnuLongName: string | undefined;
  let gnuLongLink: string | undefined;
  try {
    for (;;) {
      const block = await r.read(BLOCK);
      if (block.length === 0) return; // end of input at a block boundary: accept a missing trailer
      if (block.length < BLOCK) throw new LayerFormatError('tar archive is truncated inside a header');
      if (isZeroBlock(block)) return; // end-of-archive marker; ignore whatever follows
      const raw = decodeBlock(block);

      if (raw.typeflag === 'x' || raw.typeflag === 'g' || raw.typeflag === 'L' || raw.typeflag === 'K') {
        const data = await readData(r, raw.size);
        if (raw.typeflag === 'x') localPax = new Map([...localPax, ...parsePax(data)]);
        else if (raw.typeflag === 'g') for (const [k, v] of parsePax(data)) globalPax.set(k, v);
        else if (raw.typeflag === 'L') gnuLongName = cString(data);
        else gnuLongLink = cString(data);
        continue;
      }
      if (raw.typeflag === 'S') throw new LayerFormatError('GNU sparse files in layers are not supported');

      const pax = new Map([...globalPax, ...localPax]);
      localPax = new Map();
      const header = applyOverrides(raw, pax, gnuLongName, gnuLongLink);
      gnuLongName = undefined;
      gnuLongLink = undefined;

      // Regular files carry data; link, device, fifo and directory headers never do (their size field is
      // ignored, as Go's reader ignores it); unknown types' data is skipped by size.
      const headerOnly = header.type !== 'file' && header.type !== 'other';
      const bodySize = header.type === 'file' ? header.size : 0;
      let remaining = bodySize;
      const body = (async function* () {
        while (remaining > 0) {
          const chunk = await r.readSome(remaining);
          if (chunk.length === 0)
            throw new LayerFormatError(`tar archive is truncated inside ${header.path}`);
          remaining -= chunk.length;
          yield chunk;
        }
      })();
      yield { header, body };
      while (remaining > 0) {
        const chunk = await r.readSome(remaining);
        if (chunk.length === 0) throw new LayerFormatError(`tar archive is truncated inside ${header.path}`);
        remaining -= chunk.length;
      }
      const skip = headerOnly ? 0 : (header.type === 'other' ? header.size : 0) + padTo(header.size);
      if (skip > 0 && (await readData(r, skip, false)).length < skip) {
        throw new LayerFormatError(`tar archive is truncated after ${header.path}`);
      }
    }
  } finally {
    await r.close();
  }
}

async function readData(r: ByteReader, size: number, padded = true): Promise<Buffer> {
  const total = padded ? size + padTo(size) : size;
  const data = await r.read(total);
  if (data.length < total) throw new LayerFormatError('tar archive is truncated');
  return data.subarray(0, size);
}

function padTo(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

interface RawHeader {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

function decodeBlock(b: Buffer): RawHeader {
  const stored = parseNumber(b.subarray(148, 156), 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : (b[i] as number);
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new LayerFormatError(
      'invalid tar header checksum (is the layer compressed with an unknown method?)',
    );
  }
  const magic = b.subarray(257, 263).toString('latin1');
  let name = cString(b.subarray(0, 100));
  if (magic === 'ustar\0') {
    // POSIX ustar: a prefix field extends the name. (GNU's "ustar  " uses those bytes for times.)
    const prefix = cString(b.subarray(345, 500));
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  const tf = b[156] === 0 ? '0' : String.fromCharCode(b[156] as number);
  return {
    name,
    typeflag: tf,
    mode: parseNumber(b.subarray(100, 108), 'mode'),
    uid: parseNumber(b.subarray(108, 116), 'uid'),
    gid: parseNumber(b.subarray(116, 124), 'gid'),
    size: parseNumber(b.subarray(124, 136), 'size'),
    mtime: parseNumber(b.subarray(136, 148), 'mtime'),
    linkname: cString(b.subarray(157, 257)),
    uname: cString(b.subarray(265, 297)),
    gname: cString(b.subarray(297, 329)),
    devmajor: parseNumber(b.subarray(329, 337), 'devmajor'),
    devminor: parseNumber(b.subarray(337, 345), 'devminor'),
  };
}

function applyOverrides(
  raw: RawHeader,
  pax: Map<string, Buffer>,
  longName: string | undefined,
  longLink: string | undefined,
): TarEntryHeader {
  const str = (k: string): string | undefined => pax.get(k)?.toString('utf8');
  const num = (k: string, fallback: number): number => {
    const v = str(k);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new LayerFormatError(`invalid PAX ${k} record ${JSON.stringify(v)}`);
    return n;
  };
  let path = str('path') ?? longName ?? raw.name;
  const linkname = str('linkpath') ?? longLink ?? raw.linkname;
  let tf = raw.typeflag;
  // V7 and old GNU writers mark directories only with a trailing slash.
  if ((tf === '0' || tf === '7') && path.endsWith('/')) tf = '5';
  if (path.length > 1) path = path.replace(/\/+$/, '');
  const xattrs = new Map<string, Buffer>();
  for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
  return {
    path,
    type: typeOf(tf),
    typeflag: tf,
    mode: raw.mode & 0o7777,
    uid: num('uid', raw.uid),
    gid: num('gid', raw.gid),
    size: num('size', raw.size),
    mtime: num('mtime', raw.mtime),
    linkname,
    uname: str('uname') ?? raw.uname,
    gname: str('gname') ?? raw.gname,
    devmajor: raw.devmajor,
    devminor: raw.devminor,
    xattrs,
    pax,
  };
}

function typeOf(tf: string): TarEntryType {
  switch (tf) {
    case '0':
    case '7':
      return 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'char';
    case '4':
      return 'block';
    case '5':
      return 'dir';
    case '6':
      return 'fifo';
    default:
      return 'other';
  }
}

/** PAX records: `<len> <key>=<value>\n`, where len counts the whole record in bytes. */
function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < data.length) {
    const space = data.indexOf(0x20, off);
    if (space < 0) break;
    const len = Number(data.subarray(off, space).toString('latin1'));
    if (!Number.isInteger(len) || len <= 0 || off + len > data.length) {
      throw new LayerFormatError('invalid PAX extended header');
    }
    const rec = data.subarray(space + 1, off + len - 1); // drop the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq < 0 || data[off + len - 1] !== 0x0a) throw new LayerFormatError('invalid PAX record');
    out.set(rec.subarray(0, eq).toString('utf8'), Buffer.from(rec.subarray(eq + 1)));
    off += len;
  }
  return out;
}

/** Octal (space/NUL padded) or GNU base-256 (high bit set) numeric fields. */
function parseNumber(field: Buffer, what: string): number {
  if (field.length > 0 && ((field[0] as number) & 0x80) !== 0) {
    if (field[0] === 0xff) throw new LayerFormatError(`negative ${what} in tar header`);
    let v = (field[0] as number) & 0x7f;
    for (let i = 1; i < field.length; i++) v = v * 256 + (field[i] as number);
    if (!Number.isSafeInteger(v)) throw new LayerFormatError(`${what} in tar header is too large`);
    return v;
  }
  const s = field
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^[ \0]+/, '')
    .replace(/\0.*$/s, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new LayerFormatError(`invalid ${what} field in tar header`);
  return parseInt(s, 8);
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return (nul < 0 ? b : b.subarray(0, nul)).toString('utf8');
}

function isZeroBlock(b: Buffer): boolean {
  for (const byte of b) if (byte !== 0) return false;
  return true;
}
