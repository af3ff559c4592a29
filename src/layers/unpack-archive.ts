/**
 * An archive that is a build context (`tsbuild build - < ctx.tar`, a tarball URL): told apart from a Dockerfile as
 * docker tells them apart, and unpacked into a fresh directory without anything landing outside it.
 *
 * - Sniffing is docker's (`IsArchive` of the CLI, `isArchive` of BuildKit's frontend): the magic of bzip2, gzip, xz
 *   or zstd, or else a first 512-byte block that is a tar header with a right checksum. Anything else is text.
 * - A path that climbs out with `..` is refused; a leading `/` means the archive's root, as tar has it.
 * - Nothing is written through a symlink: every parent must be a real directory made by this unpacking, and files
 *   are created with O_EXCL | O_NOFOLLOW. A symlink whose target, taken from the link's own directory, climbs out
 *   of the root is refused, as docker's unpacker refuses it ("invalid symlink"); an absolute target is kept, since
 *   it means the image's root and nothing here follows it. A hard link must name an earlier entry in the archive.
 * - Device nodes are left out (each said through `warn`); FIFOs are made; owners are not restored (a COPY from the
 *   context gives its files 0:0 anyway) and the directory unpacked into keeps its own mode, as docker's does.
 * - Before each file is written, its size is checked against the free space of the file system, less a reserve, so
 *   that an archive bomb stops with one clear line instead of a full disk.
 *
 * Unlike a layer it has no whiteouts: a `.wh.` name is a file like any other.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { constants as fsc, type Stats } from 'node:fs';
import * as path from 'node:path';
import { pipeline, Readable, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { DecompressStream } from 'zstd-napi';
import { BuildError, TsbuildError, UserError } from '../errors';
import { isErrno } from '../store/atomic';
import { LayerFormatError } from './errors';
import { cleanComponents } from './paths';
import { makeSpecialFile } from './special-files';
import { readTar, type TarEntryHeader } from './tar-reader';

export type ArchiveKind = 'tar' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** The leading bytes `sniffArchive` looks at: as many as docker peeks at. */
export const ARCHIVE_SNIFF_BYTES = 1024;

/** Free space an unpacking leaves on the file system unless told otherwise. */
export const DEFAULT_RESERVE_BYTES = 128 * 1024 * 1024;

const BLOCK = 512;

const MAGIC: readonly (readonly [ArchiveKind, readonly number[]])[] = [
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['gzip', [0x1f, 0x8b, 0x08]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/** What kind of archive `head` (the first `ARCHIVE_SNIFF_BYTES` bytes, or all there are) starts, if any. */
export function sniffArchive(head: Uint8Array): ArchiveKind | undefined {
  for (const [kind, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return kind;
  }
  return isTarHeader(head.subarray(0, BLOCK)) ? 'tar' : undefined;
}

/**
 * Whether `block` is a whole tar header: not all zeros (an archive that ends at once is no tar to Go's reader
 * either), with its checksum right, summed as unsigned or as signed bytes (both are accepted by Go and GNU tar).
 */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < BLOCK) return false;
  let unsigned = 0;
  let signed = 0;
  let zero = true;
  for (let i = 0; i < BLOCK; i++) {
    const byte = block[i];
    if (byte !== 0) zero = false;
    const c = i >= 148 && i < 156 ? 0x20 : byte;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  if (zero) return false;
  const field = Buffer.from(block.subarray(148, 156))
    .toString('latin1')
    .replace(/^[ \0]+|[ \0]+$/g, '');
  if (!/^[0-7]+$/.test(field)) return false;
  const stored = parseInt(field, 8);
  return stored === unsigned || stored === signed;
}

export interface UnpackOptions {
  /** The archive in messages: "the build context on stdin", "the build context https://…". */
  label: string;
  /** Told, one line each, of the entries left out (device nodes, entry types this unpacking does not make). */
  warn?: (message: string) => void;
  /** Free bytes to leave on the file system (default `DEFAULT_RESERVE_BYTES`). */
  reserveBytes?: number;
}

export interface UnpackResult {
  /** Entries written: files, directories, links, FIFOs. */
  entries: number;
  /** Bytes of file content written. */
  bytes: number;
  /** Paths of the entries left out. */
  skipped: string[];
}

/**
 * Unpack the archive `source` (of `kind`, as `sniffArchive` said) into the existing, empty directory `dir`. A path
 * escape, a symlink out of the root, a link written through or an archive that is no tar is a `UserError`; too
 * little disk space, or a missing bzip2/xz program, a `BuildError`. What was unpacked before an error stays for the
 * caller to remove with `dir`.
 */
export async function unpackArchive(
  source: AsyncIterable<Uint8Array>,
  kind: ArchiveKind,
  dir: string,
  options: UnpackOptions,
): Promise<UnpackResult> {
  const root = await fs.promises.realpath(dir);
  const unpacker = new Unpacker(root, options);
  const tar =
    kind === 'tar' ? source : mustBeTar(decompress(source, kind, options.label), kind, options.label);
  try {
    for await (const { header, body } of readTar(tar)) await unpacker.add(header, body);
  } catch (err) {
    if (err instanceof LayerFormatError) {
      throw new UserError(`${options.label} is not a valid tar archive: ${err.message}`);
    }
    throw err;
  }
  unpacker.finish();
  return unpacker.result;
}

class Unpacker {
  readonly result: UnpackResult = { entries: 0, bytes: 0, skipped: [] };
  /** Relative paths that are real directories (made here, so never a symlink). */
  private readonly realDirs = new Set<string>(['']);
  private readonly dirMeta = new Map<string, TarEntryHeader>();
  private readonly disk: DiskBudget;

  constructor(
    private readonly root: string,
    private readonly options: UnpackOptions,
  ) {
    this.disk = new DiskBudget(root, options.reserveBytes ?? DEFAULT_RESERVE_BYTES, options.label);
  }

  async add(h: TarEntryHeader, body: AsyncIterable<Buffer>): Promise<void> {
    const parts = cleanComponents(h.path);
    if (parts === undefined) throw this.refuse(h.path, 'its path climbs out of the archive with ..');
    // The root itself: the directory unpacked into keeps its own metadata, as docker's unpacker leaves it.
    if (parts.length === 0) return;
    if (h.type === 'char' || h.type === 'block') {
      this.skip(h.path, 'a device node (a build context here carries none)');
      return;
    }
    if (h.type === 'other') {
      this.skip(h.path, `tar entry type '${h.typeflag}', which is not unpacked`);
      return;
    }
    const rel = parts.join('/');
    const parent = parts.slice(0, -1);
    this.makeParents(parent, h.path);
    const full = path.join(this.root, rel);
    const existing = lstatOrUndefined(full);

    if (h.type === 'dir') {
      if (existing !== undefined && !existing.isDirectory()) this.remove(rel);
      if (existing === undefined || !existing.isDirectory()) fs.mkdirSync(full, 0o700);
      this.realDirs.add(rel);
      this.dirMeta.set(rel, h);
      this.result.entries++;
      return;
    }
    // Checked before anything at `rel` is removed: a refused entry changes nothing.
    let linkTarget: string | undefined;
    if (h.type === 'symlink') {
      if (h.linkname === '') throw this.refuse(h.path, 'it is a symlink with an empty target');
      if (cleanComponents([...parent, h.linkname].join('/')) === undefined) {
        throw this.refuse(h.path, `it is a symlink to ${JSON.stringify(h.linkname)}, outside the archive`);
      }
    } else if (h.type === 'hardlink') {
      linkTarget = this.hardlinkTarget(h, rel);
    } else if (h.type === 'file') {
      await this.disk.take(h.size, h.path);
    }
    if (existing !== undefined) this.remove(rel);
    switch (h.type) {
      case 'file':
        this.result.bytes += await writeNewFile(full, body);
        setMetadata(full, h);
        break;
      case 'symlink':
        fs.symlinkSync(h.linkname, full);
        fs.lutimesSync(full, h.mtime, h.mtime);
        break;
      case 'hardlink':
        // A hard link shares its target's inode, metadata and all.
        fs.linkSync(path.join(this.root, linkTarget ?? ''), full);
        break;
      case 'fifo':
        await makeSpecialFile(full, { kind: 'fifo' });
        setMetadata(full, h);
        break;
    }
    this.result.entries++;
  }

  /** Directory modes and times last, deepest first, once nothing more is written into them. */
  finish(): void {
    const dirs = [...this.dirMeta.keys()].sort((a, b) => b.split('/').length - a.split('/').length);
    for (const rel of dirs) {
      const h = this.dirMeta.get(rel);
      if (h !== undefined && this.realDirs.has(rel)) setMetadata(path.join(this.root, rel), h);
    }
  }

  /** Creates missing parents (0755); one that is a symlink or a file is refused, never passed through. */
  private makeParents(parent: string[], entryPath: string): void {
    for (let i = 1; i <= parent.length; i++) {
      const rel = parent.slice(0, i).join('/');
      if (this.realDirs.has(rel)) continue;
      const full = path.join(this.root, rel);
      const st = lstatOrUndefined(full);
      if (st === undefined) {
        fs.mkdirSync(full, 0o755);
        this.realDirs.add(rel);
      } else if (st.isSymbolicLink()) {
        throw this.refuse(entryPath, `its parent ${rel} is a symlink, and nothing is written through a link`);
      } else {
        throw this.refuse(entryPath, `its parent ${rel} is not a directory`);
      }
    }
  }

  /** The target of a hard link, relative to the root: an earlier entry of the archive that is not a directory. */
  private hardlinkTarget(h: TarEntryHeader, rel: string): string {
    const target = cleanComponents(h.linkname);
    if (target === undefined || target.length === 0) {
      throw this.refuse(h.path, `it is a hard link to ${JSON.stringify(h.linkname)}, outside the archive`);
    }
    const targetRel = target.join('/');
    if (targetRel === rel) throw this.refuse(h.path, 'it is a hard link to itself');
    const parentsReal = target.every((_, i) => i === 0 || this.realDirs.has(target.slice(0, i).join('/')));
    const st = parentsReal ? lstatOrUndefined(path.join(this.root, targetRel)) : undefined;
    if (st === undefined) {
      throw this.refuse(h.path, `it is a hard link to ${h.linkname}, which is not in the archive before it`);
    }
    if (st.isDirectory()) throw this.refuse(h.path, 'it is a hard link to a directory');
    return targetRel;
  }

  private remove(rel: string): void {
    fs.rmSync(path.join(this.root, rel), { recursive: true, force: true }); // rm never follows symlinks
    for (const d of [...this.realDirs]) if (d === rel || d.startsWith(`${rel}/`)) this.realDirs.delete(d);
  }

  private skip(entryPath: string, why: string): void {
    this.result.skipped.push(entryPath);
    this.options.warn?.(`${this.options.label}: left out ${JSON.stringify(entryPath)}: ${why}`);
  }

  private refuse(entryPath: string, why: string): UserError {
    return new UserError(`${this.options.label}: refusing entry ${JSON.stringify(entryPath)}: ${why}`);
  }
}

/**
 * Free space, checked before each file: the file system is asked again only when what it last said is used up, so
 * an archive of many small files costs a handful of statfs calls.
 */
class DiskBudget {
  private left = 0;

  constructor(
    private readonly dir: string,
    private readonly reserve: number,
    private readonly label: string,
  ) {}

  async take(size: number, entryPath: string): Promise<void> {
    // Whole blocks, and one more for the inode's share and the directory entry.
    const need = Math.ceil(size / 4096) * 4096 + 4096;
    if (need > this.left) {
      const st = await fs.promises.statfs(this.dir);
      this.left = st.bavail * st.bsize - this.reserve;
      if (need > this.left) {
        throw new BuildError(
          `${this.label}: not enough free disk space to unpack ${JSON.stringify(entryPath)} (${size} bytes) ` +
            `in ${this.dir}: ${Math.max(0, st.bavail * st.bsize)} bytes are free and ${this.reserve} are kept free`,
        );
      }
    }
    this.left -= need;
  }
}

/** The decompressed stream, which must start with a tar header (or be an empty archive): said in one line if not. */
async function* mustBeTar(
  stream: AsyncIterable<Buffer>,
  kind: ArchiveKind,
  label: string,
): AsyncGenerator<Buffer> {
  const it = stream[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  try {
    while (size < BLOCK) {
      const r = await it.next();
      if (r.done === true) break;
      head.push(r.value);
      size += r.value.length;
    }
    const first = Buffer.concat(head);
    const block = first.subarray(0, BLOCK);
    if (first.length > 0 && !isTarHeader(block) && block.some((b) => b !== 0)) {
      throw new UserError(`${label} is ${kind}-compressed, but what it holds is not a tar archive`);
    }
    if (first.length > 0) yield first;
    for (;;) {
      const r = await it.next();
      if (r.done === true) return;
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
}

function decompress(
  source: AsyncIterable<Uint8Array>,
  kind: Exclude<ArchiveKind, 'tar'>,
  label: string,
): AsyncIterable<Buffer> {
  switch (kind) {
    case 'gzip':
      return throughStream(source, zlib.createGunzip(), kind, label);
    case 'zstd':
      return throughStream(source, new DecompressStream(), kind, label);
    case 'bzip2':
    case 'xz':
      // Node has neither codec; docker itself runs `xz` for xz.
      return throughTool(kind, source, label);
  }
}

async function* throughStream(
  source: AsyncIterable<Uint8Array>,
  codec: Transform,
  kind: ArchiveKind,
  label: string,
): AsyncGenerator<Buffer> {
  const out = pipeline(Readable.from(source, { objectMode: false }), codec, () => undefined);
  try {
    for await (const chunk of out) yield Buffer.from(chunk);
  } catch (err) {
    if (err instanceof TsbuildError) throw err;
    throw new UserError(`${label}: cannot decompress it (${kind}): ${errorText(err)}`);
  } finally {
    out.destroy();
  }
}

/** `bzip2 -dc` or `xz -dc`, fed `source` on stdin. */
async function* throughTool(
  tool: 'bzip2' | 'xz',
  source: AsyncIterable<Uint8Array>,
  label: string,
): AsyncGenerator<Buffer> {
  const child = spawn(tool, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  // Awaited below; when the reader stops early it is not, and must not become an unhandled rejection.
  exited.catch(() => undefined);
  const fed = new Promise<Error | undefined>((resolve) => {
    pipeline(Readable.from(source, { objectMode: false }), child.stdin, (err) => resolve(err ?? undefined));
  });
  try {
    for await (const chunk of child.stdout) yield Buffer.from(chunk);
    let code: number | null;
    try {
      code = await exited;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
        throw new BuildError(
          `${label} is ${tool}-compressed, and unpacking it needs \`${tool}\`, which is not installed`,
        );
      }
      throw err;
    }
    // The source failing (a dropped connection) is the cause of whatever the tool then said.
    const feedError = await fed;
    if (feedError !== undefined && !isErrno(feedError, 'EPIPE')) throw feedError;
    if (code !== 0) {
      throw new UserError(
        `${label}: cannot decompress it (${tool}): ${stderr.trim() || `${tool} exited ${code}`}`,
      );
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  }
}

/** Creates `full` (which must not exist, nor be a symlink) and writes `body` into it; the bytes written. */
async function writeNewFile(full: string, body: AsyncIterable<Buffer>): Promise<number> {
  const fd = fs.openSync(full, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  let total = 0;
  try {
    for await (const chunk of body) {
      let off = 0;
      while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
      total += chunk.length;
    }
  } finally {
    fs.closeSync(fd);
  }
  return total;
}

function setMetadata(full: string, h: TarEntryHeader): void {
  fs.chmodSync(full, h.mode & 0o7777);
  fs.lutimesSync(full, h.mtime, h.mtime);
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

function errorText(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string') {
    return err.message;
  }
  return String(err);
}
