/**
 * Apply a layer tar (gzip, zstd or plain) to a directory, as a container runtime would unpack it, and
 * never write outside that directory:
 *
 * - paths are cleaned lexically; one that climbs out with `..` is refused (absolute paths are taken
 *   relative to the root, as tar does);
 * - no path is ever resolved through a symlink: every parent component must be a real directory (checked
 *   with lstat), and the final component is replaced, never opened through (O_NOFOLLOW);
 * - hardlink targets are cleaned the same way and must be existing non-directories inside the root.
 *
 * Whiteouts follow the OCI layer spec: `.wh.<name>` removes `<name>` and `.wh..wh..opq` empties its
 * directory, both only of what lower layers put there (never of what this same layer wrote).
 * Directory metadata is applied last, deepest first, so read-only directories and mtimes come out right.
 *
 * The file system calls are synchronous: a layer of thousands of small files costs several calls each, and a
 * promise round trip through libuv's thread pool costs ten times the call itself on a warm cache (a COPY of 2,000
 * files took 1.7 s that way). Bodies still arrive as the tar is read, chunk by chunk.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { constants as fsc, type Stats } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { isErrno } from '../store/atomic';
import type { Digest } from '../store/digest';
import { decompressLayer } from './compress';
import { hashedLayerTar } from './diff-id';
import { LayerFormatError, UnsafeLayerError } from './errors';
import { cleanComponents, OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from './paths';
import { makeSpecialFile } from './special-files';
import { readTar, type TarEntryHeader } from './tar-reader';

const execFileAsync = promisify(execFile);

export interface ApplyOptions {
  /** Restore the tar's uid/gid (default: only when running as root, since others cannot chown). */
  sameOwner?: boolean;
  /** Check the uncompressed tar against this diff_id (`layer`: the blob's digest, for the message). */
  verify?: { diffId: Digest; layer: string };
}

export interface SkippedEntry {
  path: string;
  reason: string;
}

export interface ApplyResult {
  /** Entries written (files, directories, links, devices, fifos). */
  entries: number;
  /** Whiteout and opaque markers processed. */
  whiteouts: number;
  /** Entries, or parts of entries (xattrs), that could not be applied here, with why. */
  skipped: SkippedEntry[];
}

export async function applyLayer(
  layer: AsyncIterable<Uint8Array>,
  rootDir: string,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const root = await fs.promises.realpath(rootDir);
  const applier = new LayerApplier(root, options.sameOwner ?? isRoot());
  const layerTar = options.verify ? hashedLayerTar(layer) : undefined;
  for await (const { header, body } of readTar(layerTar?.tar ?? decompressLayer(layer))) {
    await applier.apply(header, body);
  }
  if (layerTar && options.verify) await layerTar.verify(options.verify.diffId, options.verify.layer);
  await applier.finish();
  return applier.result;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

class LayerApplier {
  readonly result: ApplyResult = { entries: 0, whiteouts: 0, skipped: [] };
  /** Relative paths this layer created or replaced. */
  private readonly written = new Set<string>();
  /** Every proper ancestor of a written path: directories holding this layer's content. */
  private readonly writtenAncestors = new Set<string>();
  /** Relative paths known to be real directories (not symlinks) right now. */
  private readonly realDirs = new Set<string>(['']);
  private readonly dirMeta = new Map<string, TarEntryHeader>();
  private setfattr: Promise<boolean> | undefined;

  constructor(
    private readonly root: string,
    private readonly sameOwner: boolean,
  ) {}

  async apply(h: TarEntryHeader, body: AsyncIterable<Buffer>): Promise<void> {
    const parts = cleanComponents(h.path);
    if (parts === undefined)
      throw new UnsafeLayerError(h.path, 'the path climbs out of the layer root with ..');
    if (parts.length === 0) return; // the root itself: its metadata belongs to whoever owns the directory
    const base = parts[parts.length - 1] as string;
    const parent = parts.slice(0, -1);

    if (base === OPAQUE_WHITEOUT) {
      this.result.whiteouts++;
      if (await this.existingRealDir(parent, h.path)) await this.clearLowerChildren(parent);
      return;
    }
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) {
      this.result.skipped.push({ path: h.path, reason: 'aufs metadata entry (.wh..wh.*) ignored' });
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      const name = base.slice(WHITEOUT_PREFIX.length);
      if (name === '' || name === '.' || name === '..')
        throw new UnsafeLayerError(h.path, 'malformed whiteout');
      this.result.whiteouts++;
      const victim = [...parent, name].join('/');
      // A whiteout hides lower layers only; what this layer itself wrote stays.
      if (this.written.has(victim) || this.writtenAncestors.has(victim)) return;
      if (await this.existingRealDir(parent, h.path)) await this.remove(victim);
      return;
    }

    await this.makeParents(parts, h.path);
    const rel = parts.join('/');
    const full = this.full(rel);
    const existing = await lstatOrUndefined(full);

    if (h.type === 'dir') {
      if (existing !== undefined && !existing.isDirectory()) await this.remove(rel);
      if (existing === undefined || !existing.isDirectory()) fs.mkdirSync(full, 0o700);
      this.realDirs.add(rel);
      this.dirMeta.set(rel, h);
      this.markWritten(rel);
      this.result.entries++;
      return;
    }

    if (h.type === 'other') {
      this.result.skipped.push({ path: h.path, reason: `unsupported tar entry type '${h.typeflag}'` });
      return;
    }
    if ((h.type === 'char' || h.type === 'block') && !isRoot()) {
      this.result.skipped.push({ path: h.path, reason: 'device nodes can only be created by root' });
      return;
    }
    let hardlinkTarget: string | undefined;
    if (h.type === 'hardlink') hardlinkTarget = await this.hardlinkTarget(h);

    if (existing !== undefined) await this.remove(rel);
    switch (h.type) {
      case 'file':
        await writeFileNoFollow(full, body);
        break;
      case 'symlink':
        // The target is only data: a symlink may point anywhere, because nothing here ever follows one.
        fs.symlinkSync(h.linkname, full);
        break;
      case 'hardlink':
        fs.linkSync(hardlinkTarget as string, full);
        break;
      case 'char':
      case 'block':
        await makeSpecialFile(full, { kind: h.type, major: h.devmajor, minor: h.devminor }, `/${rel}`);
        break;
      case 'fifo':
        await makeSpecialFile(full, { kind: 'fifo' });
        break;
    }
    // A hardlink shares its target's inode: setting metadata on it would rewrite the target's.
    if (h.type !== 'hardlink') await this.setMetadata(full, h, h.type === 'symlink');
    this.markWritten(rel);
    this.result.entries++;
  }

  /** Directory metadata, deepest first, once nothing more will be written into them. */
  async finish(): Promise<void> {
    const dirs = [...this.dirMeta.keys()].sort((a, b) => b.split('/').length - a.split('/').length);
    for (const rel of dirs) {
      const full = this.full(rel);
      const st = await lstatOrUndefined(full);
      if (st === undefined || !st.isDirectory()) continue; // removed later in the same layer
      await this.setMetadata(full, this.dirMeta.get(rel) as TarEntryHeader, false);
    }
  }

  private full(rel: string): string {
    return rel === '' ? this.root : path.join(this.root, rel);
  }

  private markWritten(rel: string): void {
    this.written.add(rel);
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) this.writtenAncestors.add(parts.slice(0, i).join('/'));
  }

  /** Create missing parent directories (0755, like containerd); refuse to pass through a symlink. */
  private async makeParents(parts: string[], entryPath: string): Promise<void> {
    for (let i = 1; i < parts.length; i++) {
      const rel = parts.slice(0, i).join('/');
      if (this.realDirs.has(rel)) continue;
      const full = this.full(rel);
      const st = await lstatOrUndefined(full);
      if (st === undefined) {
        fs.mkdirSync(full, 0o755);
        this.markWritten(rel);
      } else if (st.isSymbolicLink()) {
        throw new UnsafeLayerError(
          entryPath,
          `parent ${rel} is a symlink; layers may not write through links`,
        );
      } else if (!st.isDirectory()) {
        throw new LayerFormatError(`layer entry ${entryPath}: parent ${rel} is not a directory`);
      }
      this.realDirs.add(rel);
    }
  }

  /** Whether `parts` names an existing real directory (all components checked, none a symlink). */
  private async existingRealDir(parts: string[], entryPath: string): Promise<boolean> {
    for (let i = 1; i <= parts.length; i++) {
      const rel = parts.slice(0, i).join('/');
      if (this.realDirs.has(rel)) continue;
      const st = await lstatOrUndefined(this.full(rel));
      if (st === undefined || (!st.isDirectory() && !st.isSymbolicLink())) return false;
      if (st.isSymbolicLink())
        throw new UnsafeLayerError(entryPath, `${rel} is a symlink; whiteouts may not pass through links`);
      this.realDirs.add(rel);
    }
    return true;
  }

  /** Opaque directory: remove everything lower layers put under `dir`, keeping what this layer wrote. */
  private async clearLowerChildren(dir: string[]): Promise<void> {
    const dirRel = dir.join('/');
    for (const name of fs.readdirSync(this.full(dirRel))) {
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      if (this.written.has(rel) || this.writtenAncestors.has(rel)) {
        const st = fs.lstatSync(this.full(rel));
        if (st.isDirectory()) await this.clearLowerChildren([...dir, name]);
      } else {
        await this.remove(rel);
      }
    }
  }

  private async remove(rel: string): Promise<void> {
    fs.rmSync(this.full(rel), { recursive: true, force: true }); // rm never follows symlinks
    for (const d of [...this.realDirs]) if (d === rel || d.startsWith(`${rel}/`)) this.realDirs.delete(d);
  }

  private async hardlinkTarget(h: TarEntryHeader): Promise<string> {
    const target = cleanComponents(h.linkname);
    if (target === undefined || target.length === 0) {
      throw new UnsafeLayerError(
        h.path,
        `hardlink target ${JSON.stringify(h.linkname)} is outside the layer root`,
      );
    }
    if (!(await this.existingRealDir(target.slice(0, -1), h.path))) {
      throw new LayerFormatError(`layer entry ${h.path}: hardlink target ${h.linkname} does not exist`);
    }
    const full = this.full(target.join('/'));
    const st = await lstatOrUndefined(full);
    if (st === undefined)
      throw new LayerFormatError(`layer entry ${h.path}: hardlink target ${h.linkname} does not exist`);
    if (st.isDirectory()) throw new UnsafeLayerError(h.path, 'hardlinks to directories are not allowed');
    if (target.join('/') === cleanComponents(h.path)?.join('/')) {
      throw new LayerFormatError(`layer entry ${h.path} is a hardlink to itself`);
    }
    return full;
  }

  private async setMetadata(full: string, h: TarEntryHeader, isSymlink: boolean): Promise<void> {
    // chown before chmod: chown clears setuid/setgid bits.
    if (this.sameOwner) fs.lchownSync(full, h.uid, h.gid);
    if (!isSymlink) fs.chmodSync(full, h.mode & 0o7777);
    if (h.xattrs.size > 0) await this.setXattrs(full, h);
    fs.lutimesSync(full, h.mtime, h.mtime);
  }

  /** Node has no setxattr; use `setfattr` when installed, otherwise report the xattrs as skipped. */
  private async setXattrs(full: string, h: TarEntryHeader): Promise<void> {
    this.setfattr ??= execFileAsync('setfattr', ['--version']).then(
      () => true,
      () => false,
    );
    if (!(await this.setfattr)) {
      const names = [...h.xattrs.keys()].join(', ');
      this.result.skipped.push({
        path: h.path,
        reason: `xattrs not applied (setfattr not installed): ${names}`,
      });
      return;
    }
    for (const [name, value] of h.xattrs) {
      try {
        await execFileAsync('setfattr', ['-h', '-n', name, '-v', `0x${value.toString('hex')}`, '--', full]);
      } catch (err) {
        this.result.skipped.push({
          path: h.path,
          reason: `xattr ${name} not applied: ${(err as Error).message.trim()}`,
        });
      }
    }
  }
}

/** Create a new file without following a symlink at its name, and stream the body into it. */
async function writeFileNoFollow(full: string, body: AsyncIterable<Buffer>): Promise<void> {
  const fd = fs.openSync(full, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    for await (const chunk of body) {
      let off = 0;
      while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
    }
  } finally {
    fs.closeSync(fd);
  }
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
