/**
 * Tar header blocks exactly as Go's archive/tar writes them when asked for PAX format — which is what
 * containerd and BuildKit ask for — so our layers are byte-for-byte what those tools would produce from
 * the same file metadata: a plain USTAR block when every field fits, otherwise a PAX extended header
 * (named `<dir>/PaxHeaders.0/<base>`, records sorted by key) before the main block.
 * `writeUstarHeader` is the fast path for the plain block, written in place into the tar writer's chunk.
 */

export const BLOCK = 512;

export const TYPEFLAG = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
  paxHeader: 'x',
} as const;

export interface HeaderFields {
  /** Path inside the archive, `/`-separated, no leading `/`; directories end in `/`. */
  name: string;
  typeflag: string;
  /** Permission bits plus setuid/setgid/sticky; file type bits must already be stripped. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Whole seconds since the epoch. */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extra PAX records (e.g. `SCHILY.xattr.user.foo`); any record forces the PAX format, as in Go. */
  extraPax?: ReadonlyMap<string, Buffer>;
}

const NAME_SIZE = 100;
const PREFIX_SIZE = 155;

/** The header bytes for one entry: a PAX extended header (with its data) when needed, then the main block. */
export function encodeHeader(h: HeaderFields): Buffer {
  const pax = new Map<string, Buffer>();
  let ustarAllowed = true;

  const nameTooLong = Buffer.byteLength(h.name) > NAME_SIZE;
  if (!isAscii(h.name) || nameTooLong) {
    if (splitUstarPath(h.name) === undefined) ustarAllowed = false;
    pax.set('path', Buffer.from(h.name));
  }
  if (!isAscii(h.linkname) || Buffer.byteLength(h.linkname) > NAME_SIZE) {
    ustarAllowed = false;
    pax.set('linkpath', Buffer.from(h.linkname));
  }
  const numeric: [number, number, string, string | undefined][] = [
    [h.mode, 8, 'mode', undefined],
    [h.uid, 8, 'uid', 'uid'],
    [h.gid, 8, 'gid', 'gid'],
    [h.size, 12, 'size', 'size'],
    [h.mtime, 12, 'mtime', 'mtime'],
    [h.devmajor, 8, 'devmajor', undefined],
    [h.devminor, 8, 'devminor', undefined],
  ];
  for (const [value, width, field, paxKey] of numeric) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`tar ${field} ${value} is not a whole number`);
    if (!fitsInOctal(width, value)) {
      if (paxKey === undefined) throw new RangeError(`tar ${field} ${value} is too large`);
      ustarAllowed = false;
      pax.set(paxKey, Buffer.from(String(value)));
    }
  }
  if (h.extraPax !== undefined && h.extraPax.size > 0) {
    ustarAllowed = false;
    for (const [k, v] of h.extraPax) {
      if (k.includes('=') || k.includes('\0') || k === '')
        throw new RangeError(`invalid PAX record key ${k}`);
      if (!pax.has(k)) pax.set(k, v);
    }
  }

  if (ustarAllowed) {
    const split = splitUstarPath(h.name);
    const block = templateBlock({ ...h, name: split === undefined ? h.name : split[1] }, (s) => s);
    if (split !== undefined) writeString(block, 345, PREFIX_SIZE, split[0]);
    return finishBlock(block);
  }
  const paxData = Buffer.concat(
    [...pax.keys()].sort(compareBytes).map((k) => formatPaxRecord(k, pax.get(k) as Buffer)),
  );
  return Buffer.concat([
    rawFileBlock(paxHeaderName(h.name), paxData.length),
    paxData,
    Buffer.alloc(padding(paxData.length)),
    finishBlock(templateBlock(h, toAscii)),
  ]);
}

/** Zero bytes needed after `size` bytes of data to reach a block boundary. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The two zero blocks that end an archive (Go writes no further record padding). */
export function endOfArchive(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

function templateBlock(h: HeaderFields, str: (s: string) => string): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.typeflag, 156, 1, 'latin1');
  writeString(b, 0, NAME_SIZE, str(h.name));
  writeString(b, 157, NAME_SIZE, str(h.linkname));
  writeOctal(b, 100, 8, h.mode);
  writeOctal(b, 108, 8, h.uid);
  writeOctal(b, 116, 8, h.gid);
  writeOctal(b, 124, 12, h.size);
  writeOctal(b, 136, 12, h.mtime);
  writeString(b, 265, 32, ''); // uname: numeric ids only, as BuildKit
  writeString(b, 297, 32, ''); // gname
  writeOctal(b, 329, 8, h.devmajor);
  writeOctal(b, 337, 8, h.devminor);
  return b;
}

/** Go's writeRawFile: the header of the PAX extended-header pseudo-file, all metadata zero. */
function rawFileBlock(name: string, size: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  let n = toAscii(name);
  if (Buffer.byteLength(n) > NAME_SIZE) n = Buffer.from(n).subarray(0, NAME_SIZE).toString('latin1');
  n = n.replace(/\/+$/, '');
  b.write(TYPEFLAG.paxHeader, 156, 1, 'latin1');
  writeString(b, 0, NAME_SIZE, n);
  writeOctal(b, 100, 8, 0);
  writeOctal(b, 108, 8, 0);
  writeOctal(b, 116, 8, 0);
  writeOctal(b, 124, 12, size);
  writeOctal(b, 136, 12, 0);
  return finishBlock(b);
}

/** Set the USTAR magic and the checksum (six octal digits, NUL, space — as Go and GNU tar do). */
function finishBlock(b: Buffer): Buffer {
  b.write('ustar\0', 257, 6, 'latin1');
  b.write('00', 263, 2, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  writeOctal(b, 148, 7, sum);
  b[155] = 0x20;
  return b;
}

/** `path.Join(dir, "PaxHeaders.0", file)` of Go, where dir/file come from `path.Split(name)`. */
function paxHeaderName(name: string): string {
  const cut = name.lastIndexOf('/');
  const dir = name.slice(0, cut + 1);
  const file = name.slice(cut + 1);
  const parts = [...dir.split('/'), 'PaxHeaders.0', ...file.split('/')].filter((p) => p !== '');
  return parts.join('/');
}

function formatPaxRecord(key: string, value: Buffer): Buffer {
  const base = Buffer.byteLength(key) + value.length + 3; // ' ', '=', '\n'
  let size = base + String(base).length;
  if (String(size).length + base !== size) size = base + String(size).length;
  return Buffer.concat([Buffer.from(`${size} ${key}=`), value, Buffer.from('\n')]);
}

/** Go's splitUSTARPath: [prefix, name] when a long ASCII path can use the USTAR prefix field. */
function splitUstarPath(name: string): [string, string] | undefined {
  let length = name.length;
  if (length <= NAME_SIZE || !isAscii(name)) return undefined;
  if (length > PREFIX_SIZE + 1) length = PREFIX_SIZE + 1;
  else if (name[length - 1] === '/') length--;
  const i = name.lastIndexOf('/', length - 1);
  const nlen = name.length - i - 1;
  if (i <= 0 || nlen > NAME_SIZE || nlen === 0 || i > PREFIX_SIZE) return undefined;
  return [name.slice(0, i), name.slice(i + 1)];
}

/** Go's formatOctal: zero-padded octal leaving room for a NUL; a value that does not fit is written as 0. */
function writeOctal(b: Buffer, offset: number, width: number, value: number): void {
  const v = fitsInOctal(width, value) ? value : 0;
  const s = v.toString(8).padStart(width - 1, '0');
  writeString(b, offset, width, s);
}

function fitsInOctal(width: number, value: number): boolean {
  return value >= 0 && (width >= 22 || value < 2 ** ((width - 1) * 3));
}

/** Go's formatString: copy (truncating), NUL-terminate when there is room. */
function writeString(b: Buffer, offset: number, width: number, s: string): void {
  const bytes = Buffer.from(s);
  bytes.copy(b, offset, 0, Math.min(bytes.length, width));
  if (bytes.length < width) b[offset + bytes.length] = 0;
}

/** Go's toASCII: drop non-ASCII characters and NULs (a best-effort name for old readers). */
function toAscii(s: string): string {
  // eslint-disable-next-line no-control-regex
  return isAscii(s) ? s : s.replace(/[^\x01-\x7f]/gu, '');
}

/** Go sorts strings by bytes; JS sorts by UTF-16 units. They differ above U+FFFF, so compare bytes. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

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
