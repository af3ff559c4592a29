/**
 * Unpacking one layer blob into an empty directory in overlayfs lower-dir format: a first pass over the tar headers
 * (checked against the diff_id) records the whiteouts, opaque directories, overlay xattrs to strip and the layer's
 * listing; the safe applier then writes the files, and the whiteouts become 0/0 character devices and the opaque
 * directories get `trusted.overlay.opaque=y`. `snapshots.ts` decides when and where (a temp dir renamed into place).
 */
import { lstatOrUndefined } from '../store/fs-probe';
import { execFile } from 'node:child_process';
import { promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { BlobStore } from '../store/blob-store';
import { applyLayer } from './apply';
import { hashedLayerTar } from './diff-id';
import { hasListing, headerListingEntry, saveListing, type FsEntry } from './listing';
import { LayerFormatError, UnsafeLayerError } from './errors';
import { cleanComponents, OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from './paths';
import { readTar } from './tar-reader';
import { isOverlayXattr, OPAQUE_XATTR, removeXattr, setXattr } from './xattrs';
import type { SnapshotLayer } from './snapshots';

const execFileAsync = promisify(execFile);

/**
 * What one tar member adds to the size of the tree it unpacks to, as the store's inventory measures a tree: a
 * file's bytes and a link's target (a hard link and a whiteout add nothing).
 */
export function memberTreeBytes(type: string, header: { size: number; linkname: string }): number {
  if (type === 'file') return header.size;
  if (type === 'symlink') return Buffer.byteLength(header.linkname);
  return 0;
}

/** What the header pass learns about a layer. */
interface LayerScan {
  /** Paths the layer deletes from the layers below (clean, relative). */
  whiteouts: string[];
  /** Directories whose lower contents the layer hides. */
  opaques: string[];
  /** Entries carrying overlay's own xattrs, which must not reach a lower dir (they would steer overlayfs). */
  overlayXattrs: Map<string, string[]>;
  /** The layer's listing, read on the way (saving a second pass over the blob when a stage lists its files). */
  listing: FsEntry[];
  /** The unpacked tree's size as `cache du` counts it (`memberTreeBytes`). */
  bytes: number;
}

/**
 * Unpack `layer` into the empty directory `dir` in overlay lower-dir format. Its listing is saved on the way when
 * `listingRoot` (the store) is given.
 */
export async function unpackInto(
  blobs: BlobStore,
  layer: SnapshotLayer,
  dir: string,
  listingRoot?: string,
): Promise<number> {
  const scan = await scanLayer(blobs, layer);
  if (listingRoot !== undefined && !(await hasListing(listingRoot, layer.diffId))) {
    await saveListing(listingRoot, layer.diffId, scan.listing);
  }
  await applyLayer(blobs.open(layer.digest), dir);
  await writeOverlayMarkers(dir, scan);
  await fsp.chmod(dir, 0o755);
  return scan.bytes;
}

async function scanLayer(blobs: BlobStore, layer: SnapshotLayer): Promise<LayerScan> {
  const scan: LayerScan = { whiteouts: [], opaques: [], overlayXattrs: new Map(), listing: [], bytes: 0 };
  const layerTar = hashedLayerTar(blobs.open(layer.digest));
  for await (const { header } of readTar(layerTar.tar)) {
    const listed = headerListingEntry(header);
    if (listed !== undefined) scan.listing.push(listed);
    scan.bytes += memberTreeBytes(header.type, header);
    const parts = cleanComponents(header.path);
    if (parts === undefined)
      throw new UnsafeLayerError(header.path, 'the path climbs out of the layer root with ..');
    if (parts.length === 0) continue;
    const base = parts[parts.length - 1] as string;
    const parent = parts.slice(0, -1);
    if (base === OPAQUE_WHITEOUT) {
      scan.opaques.push(parent.join('/'));
    } else if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) {
      continue; // aufs metadata; the applier skips it too
    } else if (base.startsWith(WHITEOUT_PREFIX)) {
      const name = base.slice(WHITEOUT_PREFIX.length);
      if (name === '' || name === '.' || name === '..')
        throw new UnsafeLayerError(header.path, 'malformed whiteout');
      scan.whiteouts.push([...parent, name].join('/'));
    } else {
      const names = [...header.xattrs.keys()].filter(isOverlayXattr);
      if (names.length > 0) scan.overlayXattrs.set(parts.join('/'), names);
    }
  }
  await layerTar.verify(layer.diffId, layer.digest);
  return scan;
}

async function writeOverlayMarkers(dir: string, scan: LayerScan): Promise<void> {
  const dirTimes = new Map<string, Stats>(); // parents whose mtime a marker would change, as the applier left them
  const remember = async (relParent: string): Promise<void> => {
    if (dirTimes.has(relParent)) return;
    const st = await lstatOrUndefined(path.join(dir, relParent));
    if (st?.isDirectory()) dirTimes.set(relParent, st);
  };

  for (const [rel, names] of scan.overlayXattrs) {
    // A later entry may have replaced the path or a parent (even by a symlink): only touch what is still there.
    if ((await lstatInside(dir, rel)) === undefined) continue;
    for (const name of names) await removeXattr(path.join(dir, rel), name);
  }
  for (const rel of scan.opaques) {
    const full = await realDir(dir, rel, true, `${rel}/${OPAQUE_WHITEOUT}`, remember);
    await setXattr(full, OPAQUE_XATTR, Buffer.from('y'));
  }
  for (const rel of scan.whiteouts) {
    const parentRel = rel.split('/').slice(0, -1).join('/');
    await realDir(dir, parentRel, true, rel, remember);
    const full = path.join(dir, rel);
    const existing = await lstatOrUndefined(full);
    if (existing?.isDirectory()) {
      // Deleted and re-created in the same layer: only this layer's content counts, which is what opaque means.
      await setXattr(full, OPAQUE_XATTR, Buffer.from('y'));
      continue;
    }
    if (existing !== undefined) continue; // replaced by a non-directory: it hides the lower path by itself
    await remember(parentRel);
    await execFileAsync('mknod', ['-m', '000', '--', full, 'c', '0', '0']);
  }
  for (const [rel, st] of dirTimes) await fsp.utimes(path.join(dir, rel), st.atime, st.mtime);
}

/**
 * `dir/rel` as a real directory (no component a symlink), creating missing components (0755) when `create`.
 * `remember` is told about each existing parent before something is created in it.
 */
async function realDir(
  dir: string,
  rel: string,
  create: boolean,
  entry: string,
  remember: (relParent: string) => Promise<void>,
): Promise<string> {
  const parts = rel === '' ? [] : rel.split('/');
  let cur = dir;
  for (let i = 0; i < parts.length; i++) {
    const next = path.join(cur, parts[i] as string);
    const st = await lstatOrUndefined(next);
    if (st === undefined && create) {
      await remember(parts.slice(0, i).join('/'));
      await fsp.mkdir(next, 0o755);
    } else if (st?.isSymbolicLink()) {
      throw new UnsafeLayerError(
        entry,
        `${parts.slice(0, i + 1).join('/')} is a symlink; whiteouts may not pass through links`,
      );
    } else if (st !== undefined && !st.isDirectory()) {
      throw new LayerFormatError(
        `layer entry ${entry}: ${parts.slice(0, i + 1).join('/')} is not a directory`,
      );
    }
    cur = next;
  }
  return cur;
}

/** lstat of `dir/rel` without following any symlink on the way; undefined when a parent is not a real dir. */
async function lstatInside(dir: string, rel: string): Promise<Stats | undefined> {
  const parts = rel.split('/');
  let cur = dir;
  for (let i = 0; i < parts.length; i++) {
    cur = path.join(cur, parts[i] as string);
    const st = await lstatOrUndefined(cur);
    if (st === undefined) return undefined;
    if (i === parts.length - 1) return st;
    if (!st.isDirectory()) return undefined;
  }
  return undefined;
}
