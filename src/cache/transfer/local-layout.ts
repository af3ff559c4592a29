/**
 * `--cache-to type=local` / `--cache-from type=local`: the cache artifact in an OCI image layout directory
 * (`oci-layout`, `index.json`, `blobs/sha256/<hex>`), tagged with `org.opencontainers.image.ref.name`, so that
 * `skopeo inspect oci:DIR:TAG` reads it and CI systems can cache the directory as plain files.
 *
 * Crash safety comes from order: blobs first (each to a temp file, fsynced, renamed), then `index.json` in one
 * atomic rename, and only then the removal of blobs the new index no longer reaches. Whenever a process dies, the
 * index on disk (old or new) names only blobs that are complete under their final names.
 */
import { BlobNotFoundError } from '../../store/errors';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, atomicWriteStream, fsyncDir, isErrno } from '../../store/atomic';
import type { BlobStore } from '../../store/blob-store';
import { digestHex, isDigest, sha256Digest, type Digest } from '../../store/digest';
import { DigestMismatchError } from '../../store/errors';
import { withFileLock } from '../../store/file-lock';
import { OCI_LAYOUT_FILE } from '../../image/oci-layout';
import {
  Annotation,
  MediaType,
  isIndexMediaType,
  isManifestMediaType,
  parseIndex,
  parseManifest,
  serializeIndex,
  type Descriptor,
  type ImageIndex,
} from '../../image/oci-types';
import { TsbuildError } from '../../errors';
import { CacheFormatError } from './errors';
import {
  CACHE_ARTIFACT_TYPE,
  INLINE_CACHE_ANNOTATION,
  cacheBlobDescriptors,
  cacheManifest,
  isCacheManifest,
  parseCacheConfig,
  serializeCacheConfig,
  type CacheConfig,
} from './format';
import type { EnsureLocalBlob, LoadedCache } from './types';

export interface LocalCacheWriteResult {
  /** The cache manifest's digest (what `index.json` now names under the tag). */
  manifest: Digest;
  /** Blob files this export wrote (layers, listings, cache mounts, config, manifest), and their bytes. */
  blobs: number;
  bytes: number;
  /** Blob files the directory already held with the right size (left untouched). */
  reused: number;
  /** Blob files removed because no tag in the new `index.json` reaches them any more. */
  removed: number;
}

/** Serialises writers of one directory (two CI jobs sharing a cache volume): index update and sweep. */
const LOCK_FILE = '.tsbuild-cache.lock';
/** A big blob copies for minutes; a second writer waits for the first rather than failing. */
const LOCK_TIMEOUT_MS = 15 * 60 * 1000;
/**
 * Temp files (`tempPathFor`) older than this belong to a writer that died. A live writer's temp file is younger:
 * its mtime moves with every write, and writers copy outside the lock, so age is the only safe test.
 */
const STALE_TEMP_MS = 60 * 60 * 1000;
const HEX_NAME = /^[a-f0-9]{64}$/;
const TEMP_NAME = /^\..+\.\d+\.[a-f0-9]{12}\.tmp$/;
const READ_CHUNK = 1 << 20;

export async function writeLocalCache(
  store: BlobStore,
  dir: string,
  tag: string,
  config: CacheConfig,
  ensureLocal: EnsureLocalBlob,
): Promise<LocalCacheWriteResult> {
  const label = `cache directory ${dir}`;
  const blobDir = path.join(dir, 'blobs', 'sha256');
  await fsp.mkdir(blobDir, { recursive: true });
  const configBytes = serializeCacheConfig(config);
  const { bytes: manifestBytes } = cacheManifest(config, configBytes);
  const manifestDigest = sha256Digest(manifestBytes);
  const blobs = cacheBlobDescriptors(config);
  const written = new Map<Digest, number>();

  // The slow copying happens outside the lock: two writers copying the same blob is harmless (same bytes).
  const reused = await copyMissing(store, blobDir, label, blobs, ensureLocal, written);

  return withFileLock(
    path.join(dir, LOCK_FILE),
    async () => {
      // Another writer's sweep may have removed a blob we found (or wrote) before we held the lock: look again.
      await copyMissing(store, blobDir, label, blobs, ensureLocal, written);
      for (const data of [configBytes, manifestBytes]) {
        const digest = sha256Digest(data);
        const dest = blobPath(blobDir, digest, label);
        if ((await sizeOf(dest)) === Buffer.byteLength(data)) continue;
        await atomicWriteFile(dest, data);
        written.set(digest, Buffer.byteLength(data));
      }
      await atomicWriteFile(path.join(dir, 'oci-layout'), OCI_LAYOUT_FILE);

      const previous = await readIndexForUpdate(dir);
      const kept = (previous?.manifests ?? []).filter((d) => d.annotations?.[Annotation.refName] !== tag);
      const index: ImageIndex = {
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: [
          ...kept,
          {
            mediaType: MediaType.ociManifest,
            digest: manifestDigest,
            size: Buffer.byteLength(manifestBytes),
            annotations: { [Annotation.refName]: tag },
            artifactType: CACHE_ARTIFACT_TYPE,
          },
        ],
      };
      await atomicWriteFile(path.join(dir, 'index.json'), serializeIndex(index));

      // A damaged old index hid what its other tags needed: keep every blob this time rather than guess.
      const removed = previous === undefined ? 0 : await sweep(blobDir, label, index);
      await removeStaleTemps(dir);
      await removeStaleTemps(blobDir);
      return {
        manifest: manifestDigest,
        blobs: written.size,
        bytes: [...written.values()].reduce((a, b) => a + b, 0),
        reused,
        removed,
      };
    },
    { timeoutMs: LOCK_TIMEOUT_MS },
  );
}

/**
 * The cache under `tag` in `dir`, or undefined when there is none yet (no directory, no index, no such tag: a
 * first CI run). The manifest and config are verified against their digests; layers are fetched on demand.
 */
export async function openLocalCache(dir: string, tag: string): Promise<LoadedCache | undefined> {
  const label = `cache directory ${dir}`;
  const blobDir = path.join(dir, 'blobs', 'sha256');
  let indexBytes: Buffer;
  try {
    indexBytes = await fsp.readFile(path.join(dir, 'index.json'));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    if (isErrno(err, 'ENOTDIR')) throw new CacheFormatError(`${label} is not a directory`);
    throw err;
  }
  const index = formatted(label, 'index.json', () => parseIndex(indexBytes));
  // The last entry wins should a foreign writer have left two with the same name (ours replaces, never adds).
  const desc = index.manifests.findLast((d) => d.annotations?.[Annotation.refName] === tag);
  if (desc === undefined) return undefined;
  if (!isManifestMediaType(desc.mediaType)) {
    throw new CacheFormatError(`${label}: tag ${tag} is a ${desc.mediaType}, not a tsbuild cache`);
  }
  const manifestBytes = await readVerified(blobDir, desc, label, 'manifest');
  const manifest = formatted(label, `the manifest of tag ${tag}`, () => parseManifest(manifestBytes));
  let config: CacheConfig;
  const inline = manifest.annotations?.[INLINE_CACHE_ANNOTATION];
  if (isCacheManifest(manifest)) {
    config = parseCacheConfig(await readVerified(blobDir, manifest.config, label, 'config'), label);
  } else if (inline !== undefined) {
    // An image exported with `--cache-to type=inline` and then saved as a layout: its layers are right here.
    config = parseCacheConfig(inline, label);
  } else {
    throw new CacheFormatError(`${label}: tag ${tag} is an image without a tsbuild cache`);
  }
  return {
    config,
    source: {
      label,
      async fetch(blob: Descriptor, into: BlobStore): Promise<void> {
        if (await into.has(blob.digest)) return;
        const file = blobPath(blobDir, blob.digest, label);
        try {
          await into.put(fileChunks(file), { expectedDigest: blob.digest, expectedSize: blob.size });
        } catch (err) {
          if (isErrno(err, 'ENOENT')) throw new CacheFormatError(`${label}: blob ${blob.digest} is missing`);
          if (err instanceof DigestMismatchError) {
            throw new CacheFormatError(`${label}: blob ${blob.digest} is damaged (${err.message})`);
          }
          throw err;
        }
      },
    },
  };
}

// ---- writing ------------------------------------------------------------------------------------------------

/**
 * Copy into `blobDir` each blob not already there with its size, making it local first (`ensureLocal`: a lazily
 * imported layer may still be remote). Records what it wrote in `written`; returns how many were already there.
 */
async function copyMissing(
  store: BlobStore,
  blobDir: string,
  label: string,
  blobs: readonly Descriptor[],
  ensureLocal: EnsureLocalBlob,
  written: Map<Digest, number>,
): Promise<number> {
  let present = 0;
  for (const desc of blobs) {
    const dest = blobPath(blobDir, desc.digest, label);
    if ((await sizeOf(dest)) === desc.size) {
      present++;
      continue;
    }
    await ensureLocal(desc);
    // Said up front: a stream that fails before anyone reads it would surface as an unhandled error instead.
    if (!(await store.has(desc.digest))) throw new BlobNotFoundError(desc.digest);
    // store.open verifies the digest at end of stream; the size is checked here, both before the rename.
    await atomicWriteStream(dest, exactSize(store.open(desc.digest), desc));
    written.set(desc.digest, desc.size);
  }
  return present;
}

async function* exactSize(source: AsyncIterable<Uint8Array>, desc: Descriptor): AsyncGenerator<Uint8Array> {
  let n = 0;
  for await (const chunk of source) {
    n += chunk.length;
    yield chunk;
  }
  if (n !== desc.size) {
    throw new DigestMismatchError(`${desc.size} bytes`, `${n} bytes`, `blob ${desc.digest} size`);
  }
}

/** The index to add our tag to; undefined (start afresh) when it is missing or unreadable. */
async function readIndexForUpdate(dir: string): Promise<ImageIndex | undefined> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(path.join(dir, 'index.json'));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { schemaVersion: 2, manifests: [] };
    throw err;
  }
  try {
    return parseIndex(bytes);
  } catch (err) {
    // A damaged index would otherwise wedge every later CI run; the next export replaces it.
    if (err instanceof TsbuildError) return undefined;
    throw err;
  }
}

/**
 * Remove blob files no manifest of `index` reaches (configs, layers, nested manifests of an image index), so a
 * directory re-exported by many builds stays near one build's worth. Returns how many were removed; removes
 * nothing when some manifest cannot be read, since then we cannot know what it needs.
 */
async function sweep(blobDir: string, label: string, index: ImageIndex): Promise<number> {
  const keep = await reachable(blobDir, label, index.manifests);
  if (keep === undefined) return 0;
  let removed = 0;
  for (const name of await fsp.readdir(blobDir)) {
    if (!HEX_NAME.test(name) || keep.has(name)) continue;
    await fsp.rm(path.join(blobDir, name), { force: true });
    removed++;
  }
  if (removed > 0) await fsyncDir(blobDir);
  return removed;
}

/** Hex names of every blob reachable from `roots`; undefined when one of them cannot be understood. */
async function reachable(
  blobDir: string,
  label: string,
  roots: readonly Descriptor[],
): Promise<Set<string> | undefined> {
  const keep = new Set<string>();
  // What an index (index.json included) lists must be a manifest or index we can walk; what a manifest lists
  // (config, layers) is a leaf, whatever its media type.
  const pending = roots.map((desc) => ({ desc, leaf: false }));
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { desc, leaf } = next;
    if (!isDigest(desc.digest)) return undefined;
    const hex = digestHex(desc.digest);
    if (keep.has(hex)) continue;
    keep.add(hex);
    if (leaf) continue;
    const isManifest = isManifestMediaType(desc.mediaType);
    // Some other kind of manifest: it may reference anything, so nothing can be called unreachable.
    if (!isManifest && !isIndexMediaType(desc.mediaType)) return undefined;
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(blobPath(blobDir, desc.digest, label));
    } catch (err) {
      // A manifest that is not there reaches nothing; its tag was broken already.
      if (isErrno(err, 'ENOENT')) continue;
      throw err;
    }
    if (sha256Digest(bytes) !== desc.digest) return undefined;
    try {
      if (isManifest) {
        const m = parseManifest(bytes);
        pending.push(...[m.config, ...m.layers].map((d) => ({ desc: d, leaf: true })));
      } else {
        pending.push(...parseIndex(bytes).manifests.map((d) => ({ desc: d, leaf: false })));
      }
    } catch (err) {
      if (err instanceof TsbuildError) return undefined;
      throw err;
    }
  }
  return keep;
}

/** Temp files a dead writer left (see STALE_TEMP_MS). */
async function removeStaleTemps(dir: string): Promise<void> {
  const cutoff = Date.now() - STALE_TEMP_MS;
  for (const name of await fsp.readdir(dir)) {
    if (!TEMP_NAME.test(name)) continue;
    const p = path.join(dir, name);
    const st = await fsp.lstat(p).catch((err: unknown) => {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    });
    if (st !== undefined && st.isFile() && st.mtimeMs <= cutoff) await fsp.rm(p, { force: true });
  }
}

// ---- reading ------------------------------------------------------------------------------------------------

/** A manifest or config blob, checked against its descriptor: a damaged cache is an error, not a silent miss. */
async function readVerified(blobDir: string, desc: Descriptor, label: string, what: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(blobPath(blobDir, desc.digest, label));
  } catch (err) {
    if (isErrno(err, 'ENOENT'))
      throw new CacheFormatError(`${label}: the ${what} blob ${desc.digest} is missing`);
    throw err;
  }
  const actual = sha256Digest(bytes);
  if (actual !== desc.digest || bytes.length !== desc.size) {
    throw new CacheFormatError(
      `${label}: the ${what} blob ${desc.digest} is damaged (${bytes.length} bytes hashing to ${actual})`,
    );
  }
  return bytes;
}

/** A blob file's chunks; opened lazily so a store that already holds the blob never opens it. */
async function* fileChunks(file: string): AsyncGenerator<Uint8Array> {
  const handle = await fsp.open(file, 'r');
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      const { bytesRead } = await handle.read(buf, 0, READ_CHUNK, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

function formatted<T>(label: string, what: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof TsbuildError)
      throw new CacheFormatError(`${label}: ${what} is damaged: ${err.message}`);
    throw err;
  }
}

/** `blobs/sha256/<hex>`; a digest that is not sha256 hex (from a damaged config) must not become a path. */
function blobPath(blobDir: string, digest: string, label: string): string {
  if (!isDigest(digest))
    throw new CacheFormatError(`${label}: ${JSON.stringify(digest)} is not a sha256 digest`);
  return path.join(blobDir, digestHex(digest));
}

/** A file's size, or undefined when it does not exist. */
async function sizeOf(file: string): Promise<number | undefined> {
  try {
    const st = await fsp.stat(file);
    return st.isFile() ? st.size : undefined;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
