/**
 * The entries of a layer blob (headers only), so a stage built on an image knows what its filesystem holds without
 * unpacking it. Listings are cached per diff_id under `<root>/listings/`, written atomically.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, isErrno } from '../store/atomic';
import type { BlobStore } from '../store/blob-store';
import { digestHex, type Digest } from '../store/digest';
import { BuildError } from '../errors';
import { decompressLayer } from './compress';
import { readTar, type TarEntryHeader, type TarEntryType } from './tar-reader';
import type { HeaderFields } from './tar-header';

export type FsType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo';

export interface FsMeta {
  type: FsType;
  /** Permission bits (`& 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  linkTarget?: string;
}

/** One entry of a layer as its tar lists it; whiteouts are kept as such (`.wh.name`, `.wh..wh..opq`). */
export interface FsEntry extends FsMeta {
  /** Relative, `/`-separated, no trailing slash. */
  path: string;
}

const TYPES: Partial<Record<TarEntryType, FsType>> = {
  file: 'file',
  dir: 'dir',
  symlink: 'symlink',
  hardlink: 'hardlink',
  char: 'char-device',
  block: 'block-device',
  fifo: 'fifo',
};

/** Tar typeflags as the writer sets them (`tar-header.ts`), to the reader's names. */
const TYPEFLAGS: Record<string, TarEntryType> = {
  '0': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

function listingPath(root: string, diffId: Digest): string {
  return path.join(root, 'listings', `${digestHex(diffId)}.json`);
}

/** Whether the listing of a layer is cached (then `layerListing` needs no layer blob). */
export async function hasListing(root: string, diffId: Digest): Promise<boolean> {
  try {
    await fsp.access(listingPath(root, diffId));
    return true;
  } catch {
    return false;
  }
}

/** Caches a listing that came from elsewhere (an imported cache), checked to be a listing before it is kept. */
export async function installListing(root: string, diffId: Digest, bytes: Buffer): Promise<void> {
  let entries: unknown;
  try {
    entries = JSON.parse(bytes.toString('utf8'));
  } catch {
    entries = undefined;
  }
  const valid =
    Array.isArray(entries) &&
    entries.every(
      (e: Partial<FsEntry> | null) =>
        e !== null && typeof e === 'object' && typeof e.path === 'string' && typeof e.type === 'string',
    );
  if (!valid) throw new BuildError(`the imported file listing of layer ${diffId} is damaged`);
  const cachePath = listingPath(root, diffId);
  await fsp.mkdir(path.dirname(cachePath), { recursive: true });
  await atomicWriteFile(cachePath, bytes);
}

export async function layerListing(
  root: string,
  blobs: BlobStore,
  digest: Digest,
  diffId: Digest,
): Promise<FsEntry[]> {
  const cachePath = listingPath(root, diffId);
  try {
    return JSON.parse(await fsp.readFile(cachePath, 'utf8')) as FsEntry[];
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !(err instanceof SyntaxError)) throw err;
  }
  const entries: FsEntry[] = [];
  for await (const { header } of readTar(decompressLayer(blobs.open(digest)))) {
    const entry = headerListingEntry(header);
    if (entry !== undefined) entries.push(entry);
  }
  await saveListing(root, diffId, entries);
  return entries;
}

/**
 * A collector for the listing of a layer being written, fed the writer's own headers (`onHeader`: the headers the
 * tar gets), so a layer built here needs no read of its blob to be listed.
 */
export function listingCollector(): { onHeader: (header: HeaderFields) => void; entries: FsEntry[] } {
  const entries: FsEntry[] = [];
  return {
    entries,
    onHeader: (header) => {
      const entry = listingEntry(header.name, TYPEFLAGS[header.typeflag] ?? 'other', header);
      if (entry !== undefined) entries.push(entry);
    },
  };
}

export async function saveListing(root: string, diffId: Digest, entries: readonly FsEntry[]): Promise<void> {
  const cachePath = listingPath(root, diffId);
  await fsp.mkdir(path.dirname(cachePath), { recursive: true });
  await atomicWriteFile(cachePath, JSON.stringify(entries));
}

/** A tar member as read, as a listing entry (undefined for the archive root and what a listing leaves out). */
export function headerListingEntry(header: TarEntryHeader): FsEntry | undefined {
  return listingEntry(header.path, header.type, header);
}

function listingEntry(
  rawPath: string,
  tarType: TarEntryType,
  h: { mode: number; uid: number; gid: number; linkname?: string },
): FsEntry | undefined {
  const type = TYPES[tarType];
  const name = rawPath.replace(/^\.?\/+/, '').replace(/\/+$/, '');
  if (!type || name === '' || name === '.') return undefined;
  return {
    path: name,
    type,
    mode: h.mode & 0o7777,
    uid: h.uid,
    gid: h.gid,
    ...(h.linkname ? { linkTarget: h.linkname } : {}),
  };
}

/** The listing's JSON bytes as cached (computed from the layer first when need be), e.g. to export it. */
export async function layerListingBytes(
  root: string,
  blobs: BlobStore,
  digest: Digest,
  diffId: Digest,
): Promise<Buffer> {
  if (!(await hasListing(root, diffId))) await layerListing(root, blobs, digest, diffId);
  return fsp.readFile(listingPath(root, diffId));
}
