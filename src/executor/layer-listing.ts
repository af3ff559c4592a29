/**
 * The entries of a layer blob (headers only), so a stage built on an image knows what its filesystem holds without
 * unpacking it. Listings are cached per diff_id under `<root>/listings/`, written atomically.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, isErrno } from '../cache/atomic';
import type { BlobStore } from '../cache/blob-store';
import { digestHex, type Digest } from '../cache/digest';
import { decompressLayer } from '../layers/compress';
import { readTar, type TarEntryType } from '../layers/tar-reader';
import type { FsEntry, FsType } from './stage-fs';

const TYPES: Partial<Record<TarEntryType, FsType>> = {
  file: 'file',
  dir: 'dir',
  symlink: 'symlink',
  hardlink: 'hardlink',
  char: 'char-device',
  block: 'block-device',
  fifo: 'fifo',
};

export async function layerListing(
  root: string,
  blobs: BlobStore,
  digest: Digest,
  diffId: Digest,
): Promise<FsEntry[]> {
  const cachePath = path.join(root, 'listings', `${digestHex(diffId)}.json`);
  try {
    return JSON.parse(await fsp.readFile(cachePath, 'utf8')) as FsEntry[];
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !(err instanceof SyntaxError)) throw err;
  }
  const entries: FsEntry[] = [];
  for await (const { header } of readTar(decompressLayer(blobs.open(digest)))) {
    const type = TYPES[header.type];
    const name = header.path.replace(/^\.?\/+/, '').replace(/\/+$/, '');
    if (!type || name === '' || name === '.') continue;
    entries.push({
      path: name,
      type,
      mode: header.mode & 0o7777,
      uid: header.uid,
      gid: header.gid,
      ...(header.linkname ? { linkTarget: header.linkname } : {}),
    });
  }
  await fsp.mkdir(path.dirname(cachePath), { recursive: true });
  await atomicWriteFile(cachePath, JSON.stringify(entries));
  return entries;
}
