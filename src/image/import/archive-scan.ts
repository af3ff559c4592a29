/**
 * One pass over an image archive (an OCI layout tar or a `docker save` tar, possibly gzip- or
 * zstd-compressed): big files stream straight into the blob store, small metadata stays in memory, links
 * are remembered. Reading once matters because the metadata that says what the blobs are (`index.json`,
 * `manifest.json`) may come after them, and archives can be gigabytes.
 *
 * Blobs named `blobs/sha256/<hex>` are verified against that name on the way in; anything else is stored
 * under the digest of its content, which the format readers then check against what the metadata claims.
 * Nothing is ever written outside the store, so hostile paths cannot escape anywhere.
 */
import * as path from 'node:path';
import type { BlobInfo, BlobStore } from '../../store/blob-store';
import type { Digest } from '../../store/digest';
import { decompressLayer } from '../../layers/compress';
import { readTar } from '../../layers/tar-reader';
import { ImageFormatError } from '../errors';

export interface ScannedArchive {
  /** Small metadata files (JSON, `oci-layout`, `repositories`), by normalised path. */
  files: Map<string, Buffer>;
  /** Files stored in the blob store, by normalised path. */
  blobs: Map<string, BlobInfo>;
  /** Symlinks and hardlinks: path → the path they point at (normalised, relative to the archive root). */
  links: Map<string, string>;
}

/** Metadata files are tiny; a JSON file bigger than this is not metadata we know. */
const MAX_METADATA_BYTES = 4 << 20;
const MAX_LINK_HOPS = 16;
const OCI_BLOB = /^blobs\/sha256\/([a-f0-9]{64})$/;

export async function scanArchive(
  source: AsyncIterable<Uint8Array>,
  store: BlobStore,
): Promise<ScannedArchive> {
  const scanned: ScannedArchive = { files: new Map(), blobs: new Map(), links: new Map() };
  for await (const entry of readTar(decompressLayer(source))) {
    const name = normalize(entry.header.path);
    if (name === '') continue;
    const h = entry.header;
    if (h.type === 'symlink') {
      scanned.links.set(name, normalize(path.posix.join(path.posix.dirname(name), h.linkname)));
      continue;
    }
    if (h.type === 'hardlink') {
      scanned.links.set(name, normalize(h.linkname));
      continue;
    }
    if (h.type !== 'file') continue;
    const ociBlob = OCI_BLOB.exec(name);
    if (ociBlob !== null) {
      const expectedDigest = `sha256:${ociBlob[1]}` as Digest;
      scanned.blobs.set(name, await store.put(entry.body, { expectedDigest, expectedSize: h.size }));
    } else if (isMetadata(name) && h.size <= MAX_METADATA_BYTES) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry.body) chunks.push(chunk);
      scanned.files.set(name, Buffer.concat(chunks));
    } else {
      scanned.blobs.set(name, await store.put(entry.body, { expectedSize: h.size }));
    }
  }
  return scanned;
}

function isMetadata(name: string): boolean {
  return name.endsWith('.json') || name === 'oci-layout' || name === 'repositories';
}

/** `./a//b/` → `a/b`; `..` cannot climb above the archive root. */
function normalize(p: string): string {
  const n = path.posix.normalize(`/${p}`).replace(/^\/+/, '').replace(/\/+$/, '');
  return n === '.' ? '' : n;
}

/** Follow links to the file a path names. */
export function resolvePath(archive: ScannedArchive, p: string): string {
  let current = normalize(p);
  for (let hops = 0; hops < MAX_LINK_HOPS; hops++) {
    const next = archive.links.get(current);
    if (next === undefined) return current;
    current = next;
  }
  throw new ImageFormatError(`the archive's links starting at ${p} go round in circles`);
}

/** The stored blob for an archive path, storing it now if it was kept in memory. */
export async function blobFor(archive: ScannedArchive, store: BlobStore, p: string): Promise<BlobInfo> {
  const resolved = resolvePath(archive, p);
  const stored = archive.blobs.get(resolved);
  if (stored !== undefined) return stored;
  const data = archive.files.get(resolved);
  if (data === undefined) throw new ImageFormatError(`the archive has no file ${p}`);
  const info = await store.put(data);
  archive.blobs.set(resolved, info);
  return info;
}

/** A metadata file's bytes (following links); undefined when absent. */
export function metadataFile(archive: ScannedArchive, p: string): Buffer | undefined {
  return archive.files.get(resolvePath(archive, p));
}
