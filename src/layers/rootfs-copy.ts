/**
 * The copy fallback's root filesystem: overlay-format lower dirs (snapshots) merged into one plain directory, as
 * overlayfs would show them. Whiteouts (0/0 character devices) delete, opaque directories hide what the layers
 * below put there, a directory over a non-directory replaces it.
 *
 * Hardlinks between files of a snapshot are not kept: every path gets its own copy, as a copy-up in overlayfs
 * gives a changed file its own inode, so a command changing one path never changes another behind its back.
 * Nothing is read through a symlink: every parent in the destination was made a real directory by this merge.
 */
import { constants as fsc, promises as fsp, type BigIntStats } from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../store/atomic';
import { splitDev } from './diff';
import { makeSpecialFile } from './special-files';
import { isLayerXattr, OPAQUE_XATTR, readTreeXattrs, restoreXattrs, type XattrMap } from './xattrs';

/**
 * Merge `lowers` (base first) into the empty directory `dest`. Returns, for each regular file of the result, the
 * snapshot file it was copied from. (Paths deleted later keep a stale entry: only paths that exist are asked.)
 */
export async function mergeLowers(lowers: readonly string[], dest: string): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  for (const lower of lowers) await mergeOne(lower, dest, sources);
  return sources;
}

async function mergeOne(lower: string, dest: string, sources: Map<string, string>): Promise<void> {
  const xattrs = await readTreeXattrs(lower);
  const dirMeta: Array<{ rel: string; st: BigIntStats }> = [];
  const restore: Array<{ file: string; xattrs: XattrMap }> = [];

  const visit = async (rel: string): Promise<void> => {
    const src = path.join(lower, rel);
    const dst = path.join(dest, rel);
    const st = await fsp.lstat(src, { bigint: true });
    const attrs = xattrs.get(rel) ?? new Map<string, Buffer>();
    const existing = await lstatOrUndefined(dst);

    if (st.isCharacterDevice() && st.rdev === 0n) {
      if (existing !== undefined) await fsp.rm(dst, { recursive: true, force: true });
      return;
    }
    if (st.isDirectory()) {
      if (existing !== undefined && !existing.isDirectory()) await fsp.rm(dst, { force: true });
      if (existing === undefined || !existing.isDirectory()) {
        await fsp.mkdir(dst, 0o700);
      } else if (attrs.get(OPAQUE_XATTR)?.toString() === 'y') {
        for (const child of await fsp.readdir(dst))
          await fsp.rm(path.join(dst, child), { recursive: true, force: true });
      }
      dirMeta.push({ rel, st });
      queueXattrs(dst, attrs, restore);
      for (const child of (await fsp.readdir(src)).sort()) await visit(path.join(rel, child));
      return;
    }
    if (st.isSocket()) return; // nothing a layer can carry
    if (existing !== undefined) await fsp.rm(dst, { recursive: true, force: true });
    if (st.isFile()) {
      await fsp.copyFile(src, dst, fsc.COPYFILE_FICLONE);
      sources.set(rel, src);
    } else if (st.isSymbolicLink()) {
      await fsp.symlink(await fsp.readlink(src), dst);
    } else if (st.isFIFO()) {
      await makeSpecialFile(dst, { kind: 'fifo' });
    } else {
      await makeSpecialFile(dst, { kind: st.isCharacterDevice() ? 'char' : 'block', ...splitDev(st.rdev) });
    }
    // chown before chmod: chown clears setuid/setgid bits.
    await fsp.lchown(dst, Number(st.uid), Number(st.gid));
    if (!st.isSymbolicLink()) await fsp.chmod(dst, Number(st.mode & 0o7777n));
    queueXattrs(dst, attrs, restore);
    await fsp.lutimes(dst, nsToDate(st.atimeNs), nsToDate(st.mtimeNs));
  };

  for (const child of (await fsp.readdir(lower)).sort()) await visit(child);
  await restoreXattrs(restore);
  // Directory metadata last and deepest first: writing children changes a directory's mtime.
  dirMeta.sort((a, b) => b.rel.split('/').length - a.rel.split('/').length);
  for (const { rel, st } of dirMeta) {
    const dst = path.join(dest, rel);
    await fsp.lchown(dst, Number(st.uid), Number(st.gid));
    await fsp.chmod(dst, Number(st.mode & 0o7777n));
    await fsp.utimes(dst, nsToDate(st.atimeNs), nsToDate(st.mtimeNs));
  }
}

function queueXattrs(
  file: string,
  attrs: XattrMap,
  restore: Array<{ file: string; xattrs: XattrMap }>,
): void {
  const kept: XattrMap = new Map();
  for (const [k, v] of attrs) if (isLayerXattr(k)) kept.set(k, v);
  if (kept.size > 0) restore.push({ file, xattrs: kept });
}

/** Dates hold milliseconds; utimes with a fractional-second number keeps microseconds, enough for mtimes. */
function nsToDate(ns: bigint): number {
  return Number(ns / 1000n) / 1_000_000;
}

async function lstatOrUndefined(p: string): Promise<BigIntStats | undefined> {
  try {
    return await fsp.lstat(p, { bigint: true });
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
