/**
 * A RUN cache mount directory as a blob (`--cache-to …,cache-mounts=true`) and back. The archive is a layer-style
 * deterministic gzip tar of the cache's `data` instance, entries relative to it: owners, modes, symlinks, hardlinks
 * and xattrs as the layer code keeps them, and each file's mtime (to the second, as tar holds it; tools such as
 * ccache and Go's build cache look at it), never clamped to SOURCE_DATE_EPOCH. Both ways stream: a cache may be
 * far larger than memory.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { BlobStore } from '../../store/blob-store';
import type { Digest } from '../../store/digest';
import { BuildError, TsbuildError } from '../../errors';
import { holdCacheData } from '../sandbox/cache-mounts';
import { applyLayer } from '../../layers/apply';
import { storeLayer } from '../../layers/compress';
import { diffAgainstBaseline } from '../../layers/diff';
import { createLayerTar } from '../../layers/tar-writer';
import type { BlobRef } from '../../cache/transfer/format';

/** A cache mount could not be archived or restored; says which cache and why. */
export class CacheMountArchiveError extends BuildError {
  constructor(
    readonly cacheId: string | undefined,
    message: string,
  ) {
    super(cacheId === undefined ? message : `cache mount ${cacheId}: ${message}`);
  }
}

/**
 * Archive the `data` directory of cache `id` into `store`; undefined when that cache was never created here. The
 * cache is held as a `locked` user would hold it while it is read, so `locked`/`private` users do not change it
 * under the tar writer (which fails on a file that changes while it is read).
 */
export async function packCacheMount(
  root: string,
  store: BlobStore,
  id: string,
): Promise<BlobRef | undefined> {
  const held = await holdCacheData(root, id);
  if (held === undefined) return undefined;
  try {
    // Against an empty baseline every path is new, so the "diff" is the whole tree, with hardlinks paired up and
    // devices, fifos and xattrs handled exactly as for a RUN's layer. File entries name the files on disk: only
    // metadata is in memory, contents stream from disk into the compressor and the store.
    const entries = await diffAgainstBaseline(held.dir, { paths: new Map() });
    const stored = await storeLayer(createLayerTar(entries), store, { compression: 'gzip' });
    return { digest: stored.digest, size: stored.size };
  } catch (err) {
    throw wrap(id, 'cannot archive', err);
  } finally {
    await held.release();
  }
}

/**
 * Unpack a cache mount archive into `dir`, which must be an empty directory (the temp dir a new cache is made in).
 * The blob is checked against `archive` (digest and size) in the same pass; on an error `dir` may hold part of the
 * content and is the caller's to throw away. Entries go through the layer applier, so an archive from an
 * untrusted cache source cannot write outside `dir` (no `..`, no writing through symlinks, no hardlinks out).
 * `_root` is taken for symmetry with `packCacheMount`: the restore needs only the store and the target.
 */
export async function restoreCacheMount(
  _root: string,
  store: BlobStore,
  archive: BlobRef,
  dir: string,
): Promise<void> {
  const present = await fsp.readdir(dir);
  if (present.length > 0) {
    throw new CacheMountArchiveError(
      undefined,
      `cannot restore a cache archive into ${dir}: it is not empty`,
    );
  }
  const hash = createHash('sha256');
  let size = 0;
  const blob = store.open(archive.digest)[Symbol.asyncIterator]();
  const counted = (async function* (): AsyncGenerator<Buffer> {
    for (;;) {
      const r = await blob.next();
      if (r.done === true) return;
      const chunk = r.value as Buffer;
      hash.update(chunk);
      size += chunk.length;
      yield chunk;
    }
  })();
  // The tar reader stops at the end-of-archive blocks and closes its source, so the store's own end-of-stream check
  // may never run (or its error may reach a consumer that is gone). Give the applier a source it cannot close,
  // read what it left, and check the digest of every byte here.
  const unclosable: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({ next: () => counted.next() }),
  };
  try {
    await applyLayer(unclosable, dir);
    while (!(await counted.next()).done) {
      // draining: every chunk is hashed on its way through `counted`
    }
  } catch (err) {
    throw wrap(undefined, `cannot restore cache archive ${archive.digest}`, err);
  } finally {
    await counted.return(undefined);
    await blob.return?.();
  }
  const actual: Digest = `sha256:${hash.digest('hex')}`;
  if (actual !== archive.digest || size !== archive.size) {
    throw new CacheMountArchiveError(
      undefined,
      `cache archive ${archive.digest} (${archive.size} bytes) read as ${actual} (${size} bytes): the blob is damaged`,
    );
  }
}

/** Our own and file system errors get the cache named; anything else is a bug and keeps its stack. */
function wrap(id: string | undefined, what: string, err: unknown): unknown {
  if (err instanceof CacheMountArchiveError) return err;
  const isErrno = err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
  if (!(err instanceof TsbuildError) && !isErrno) return err;
  return new CacheMountArchiveError(id, `${what}: ${(err as Error).message}`);
}
