/**
 * Layer snapshots: each layer blob unpacked once into `<root>/snapshots/<diff_id hex>/`, in the format overlayfs
 * reads as a lower dir. A deleted path is a 0/0 character device and an opaque directory carries the xattr
 * `trusted.overlay.opaque=y`, so a stack of snapshots mounted as lower dirs shows exactly the image's root
 * filesystem. A snapshot depends only on its own layer (never on the layers below), which is why the diff_id
 * alone can name it.
 *
 * The layer is applied with the safe applier (`apply.ts`: no `..`, no writes through symlinks, no hardlinks
 * out) into an empty temp dir; since nothing is below, its whiteouts delete nothing there, so a first pass over
 * the tar headers records them, and they are then written as overlay whiteouts. The first pass also checks the
 * uncompressed bytes against the diff_id before anything is written (`snapshot-unpack.ts`).
 *
 * The tree is built under `<root>/tmp/` and renamed into place when complete: the final name holds a whole
 * snapshot or nothing, whatever kills the unpacking (a power cut too: `snapshot-durability.ts`). A per-layer lock
 * keeps concurrent builds from unpacking the same layer twice; if two do anyway (a stale lock broken), the first
 * rename wins and the other tree is dropped.
 */
import { lstatOrUndefined } from '../store/fs-probe';
import { mapLimit } from '../store/map-limit';
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, promises as fsp, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { fsyncDir, isErrno } from '../store/atomic';
import type { BlobStore } from '../store/blob-store';
import { digestHex, hashToDigest, type Digest } from '../store/digest';
import { acquireFileLock } from '../store/file-lock';
import { recordSnapshotSize, snapshotDir, type SnapshotOrigin } from '../store/snapshot-layers';
import { makeTreeParent } from '../store/tree-parent';
import { BuildError } from '../errors';
import { applyLayer } from './apply';
import { layerTarDiffId } from './diff-id';
import { diffUpperDir } from './diff';
import { listingCollector, saveListing, type FsEntry } from './listing';
import { LayerFormatError } from './errors';
import type { HeaderFields } from './tar-header';
import { prepareSnapshotPublish } from './snapshot-durability';
import { planLayer } from './tar-plan';
import { layerTarChunks, type LayerEntry, type PlannedEntry } from './tar-writer';
import { memberTreeBytes, unpackInto } from './snapshot-unpack';

/** What a snapshot is made from: a stored layer blob and the digest of its uncompressed tar. */
export interface SnapshotLayer {
  digest: Digest;
  diffId: Digest;
}

/** Unpacking a large layer can take minutes; a waiter gives up only after this long. */
const LOCK_TIMEOUT_MS = 60 * 60 * 1000;
const PARALLEL_UNPACKS = 4;

const inFlight = new Map<string, Promise<string>>();

export function snapshotsDir(root: string): string {
  return path.join(root, 'snapshots');
}

/** Where the snapshot of a layer lives (whether or not it exists yet). */
export function snapshotPath(root: string, diffId: Digest): string {
  return snapshotDir(root, diffId); // the store's layout, which the cache room reads too
}

/** The snapshot directories of `layers`, in the same order (base first), unpacking those not there yet. */
export async function ensureSnapshots(
  root: string,
  blobs: BlobStore,
  layers: readonly SnapshotLayer[],
): Promise<string[]> {
  return mapLimit(layers, PARALLEL_UNPACKS, (layer) => ensureSnapshot(root, blobs, layer));
}

/** The snapshot directory of one layer, unpacking it first if needed. */
export async function ensureSnapshot(root: string, blobs: BlobStore, layer: SnapshotLayer): Promise<string> {
  const final = snapshotPath(root, layer.diffId);
  return oncePerProcess(final, () => unpackOnce(root, blobs, layer, final));
}

/** One making of the snapshot at `final` per process at a time: concurrent askers share it. */
function oncePerProcess(final: string, make: () => Promise<string>): Promise<string> {
  let pending = inFlight.get(final);
  if (pending === undefined) {
    pending = make().finally(() => inFlight.delete(final));
    inFlight.set(final, pending);
  }
  return pending;
}

/**
 * Gathers, from the tar writer's headers as it writes a layer, the layer's listing and the size of the tree it
 * unpacks to (`memberTreeBytes`).
 */
function headerTally(): {
  onHeader: (header: HeaderFields, dataBytes: number) => void;
  listing: FsEntry[];
  bytes: () => number;
} {
  const listing = listingCollector();
  let bytes = 0;
  return {
    listing: listing.entries,
    bytes: () => bytes,
    onHeader: (header, dataBytes) => {
      listing.onHeader(header);
      const type = header.typeflag === '0' ? 'file' : header.typeflag === '2' ? 'symlink' : '';
      bytes += memberTreeBytes(type, { size: dataBytes, linkname: header.linkname });
    },
  };
}

/** What committing a RUN's upper dir as a snapshot gave: the layer it holds, known without any blob. */
export interface CommittedSnapshot {
  diffId: Digest;
  /** Bytes of the layer's (uncompressed) tar. */
  size: number;
  dir: string;
}

/**
 * Make `upperDir` — an overlayfs upper dir after the run, whose change is `entries` (its diff) — the snapshot of
 * its layer, moved into place: no blob is written and nothing is compressed (that happens when an output needs it,
 * `snapshotLayerTar`). An upper dir is already in snapshot format (whiteouts as 0/0 devices, opaque directories
 * marked); what the diff left out (directories only copied up, mount points, sockets) is removed first, with the
 * times of the directories it was in kept, and mtimes past `sourceDateEpoch` are clamped on disk, so that the tar
 * of the snapshot (`snapshotLayerTar`, when an output needs the layer) is byte for byte the tar of `entries`
 * whose diff_id is hashed here. overlayfs's own `origin`/`impure` attributes may stay: overlayfs reads them only
 * on upper dirs, and no tar carries them. If the snapshot exists already, the upper dir is left for the caller to
 * remove.
 */
export async function commitUpperDir(
  root: string,
  upperDir: string,
  entries: readonly LayerEntry[],
  sourceDateEpoch?: number,
): Promise<CommittedSnapshot> {
  await pruneToEntries(upperDir, entries);
  if (sourceDateEpoch !== undefined) await clampTimes(upperDir, entries, sourceDateEpoch);
  await fsp.chmod(upperDir, 0o755);
  // The pruned dir now holds exactly `entries` (times clamped as the writer clamps them), so their tar is the
  // tar `snapshotLayerTar` makes of the snapshot later; an export checks that again as it reads.
  const tally = headerTally();
  const { diffId, size } = await layerTarDiffId(entries, { sourceDateEpoch, onHeader: tally.onHeader });
  await saveListing(root, diffId, tally.listing);
  return { diffId, size, dir: await publishCommitted(root, diffId, upperDir, tally.bytes()) };
}

/** Publish `tree` as the snapshot of the layer a build just made (unless that snapshot exists already). */
function publishCommitted(root: string, diffId: Digest, tree: string, bytes: number): Promise<string> {
  const final = snapshotPath(root, diffId);
  return oncePerProcess(final, () =>
    publishOnce(root, diffId, final, 'committed', async () => ({ tree, bytes })),
  );
}

/**
 * Write the layer of `entries` (a COPY's or ADD's files) straight into a fresh snapshot: the deterministic tar is
 * made once, hashed for the diff_id and unpacked by the safe applier as it streams, so no blob is written and
 * nothing is compressed. The snapshot is then listed back and must plan the very same tar members (names, types,
 * modes, owners, times, links, xattrs; the contents are the bytes just hashed), so that the tar an export makes of
 * it later is the one hashed here. Where it would not be (a layer with whiteouts, an owner or an xattr this file
 * system cannot hold), nothing is kept and undefined is returned: the caller stores the layer as a blob instead.
 */
export async function commitLayerEntries(
  root: string,
  entries: readonly LayerEntry[],
  sourceDateEpoch?: number,
): Promise<CommittedSnapshot | undefined> {
  if (entries.some((e) => e.type === 'whiteout' || e.type === 'opaque')) return undefined;
  const tmpDir = path.join(root, 'tmp');
  await makeTreeParent(tmpDir);
  const tree = path.join(
    tmpDir,
    `snapshot-${randomBytes(6).toString('hex')}-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  await fsp.mkdir(tree, { mode: 0o755 });
  try {
    const tally = headerTally();
    const hash = createHash('sha256');
    let size = 0;
    const hashed = async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of layerTarChunks(entries, { sourceDateEpoch, onHeader: tally.onHeader })) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    };
    await applyLayer(hashed(), tree, { sameOwner: true });
    await fsp.chmod(tree, 0o755);
    if (
      !sameMembers(
        planLayer(entries, { sourceDateEpoch }),
        planLayer(await diffUpperDir(tree), { sourceDateEpoch }),
      )
    )
      return undefined;
    const diffId = hashToDigest(hash);
    await saveListing(root, diffId, tally.listing);
    return { diffId, size, dir: await publishCommitted(root, diffId, tree, tally.bytes()) };
  } finally {
    await fsp.rm(tree, { recursive: true, force: true }); // gone already when it became the snapshot
  }
}

/** Whether two plans make the same tar members, data aside (a file's size is learnt as its content is read). */
function sameMembers(a: readonly PlannedEntry[], b: readonly PlannedEntry[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((m, i) => {
    const o = (b[i] as PlannedEntry).header;
    const h = m.header;
    return (
      h.name === o.name &&
      h.typeflag === o.typeflag &&
      h.mode === o.mode &&
      h.uid === o.uid &&
      h.gid === o.gid &&
      h.mtime === o.mtime &&
      h.linkname === o.linkname &&
      h.devmajor === o.devmajor &&
      h.devminor === o.devminor &&
      samePax(h.extraPax, o.extraPax)
    );
  });
}

function samePax(
  a: ReadonlyMap<string, Buffer> | undefined,
  b: ReadonlyMap<string, Buffer> | undefined,
): boolean {
  if ((a?.size ?? 0) !== (b?.size ?? 0)) return false;
  for (const [k, v] of a ?? []) if (!b?.get(k)?.equals(v)) return false;
  return true;
}

/**
 * The tar of the layer a snapshot holds (deterministic: the bytes its diff_id was hashed from at commit), checked
 * against the diff_id as it is read, as every read of layer bytes is: the stream ends in an error when the
 * snapshot no longer holds the layer.
 */
export async function snapshotLayerTar(root: string, diffId: Digest): Promise<Readable> {
  const dir = snapshotPath(root, diffId);
  if (!(await isDir(dir))) throw new BuildError(`the snapshot of layer ${diffId} is not in the store`);
  return Readable.from(verifiedTar(layerTarChunks(await diffUpperDir(dir)), diffId), { objectMode: false });
}

async function* verifiedTar(chunks: AsyncIterable<Buffer>, diffId: Digest): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  for await (const chunk of chunks) {
    hash.update(chunk);
    yield chunk;
  }
  const actual = hashToDigest(hash);
  if (actual !== diffId) {
    throw new LayerFormatError(
      `the snapshot of layer ${diffId} no longer holds that layer (its tar hashes to ${actual})`,
    );
  }
}

function unpackOnce(root: string, blobs: BlobStore, layer: SnapshotLayer, final: string): Promise<string> {
  return publishOnce(root, layer.diffId, final, 'unpacked', async (hex) => {
    const tmpDir = path.join(root, 'tmp');
    await makeTreeParent(tmpDir);
    const tmp = path.join(
      tmpDir,
      `snapshot-${hex.slice(0, 12)}-${process.pid}-${randomBytes(4).toString('hex')}`,
    );
    await fsp.mkdir(tmp, { mode: 0o755 });
    try {
      return { tree: tmp, bytes: await unpackInto(blobs, layer, tmp, root) };
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true });
      throw err;
    }
  });
}

/**
 * Put the tree `make` builds (a directory on the store's filesystem) under the snapshot name `final`, unless it is
 * there already. Under a per-layer lock, so concurrent builds make a snapshot once.
 */
async function publishOnce(
  root: string,
  diffId: Digest,
  final: string,
  origin: SnapshotOrigin,
  make: (hex: string) => Promise<{ tree: string; bytes: number }>,
): Promise<string> {
  if (await isDir(final)) return final;
  const hex = digestHex(diffId);
  const lock = await acquireFileLock(path.join(root, 'locks', `snapshot-${hex}.lock`), {
    timeoutMs: LOCK_TIMEOUT_MS,
  });
  try {
    if (await isDir(final)) return final; // another build made it while we waited
    const { tree, bytes } = await make(hex);
    try {
      // A snapshot that survives a power cut under its final name must be whole, or known to need a check.
      await prepareSnapshotPublish(root, diffId, origin, tree);
      await fsp.mkdir(snapshotsDir(root), { recursive: true });
      try {
        await fsp.rename(tree, final);
      } catch (err) {
        if (!(isErrno(err, 'ENOTEMPTY', 'EEXIST') && (await isDir(final)))) throw err;
        await fsp.rm(tree, { recursive: true, force: true }); // someone else's identical tree won
        return final;
      }
      await fsyncDir(snapshotsDir(root));
      await recordSnapshotSize(root, diffId, bytes);
      return final;
    } catch (err) {
      await fsp.rm(tree, { recursive: true, force: true });
      throw err;
    }
  } finally {
    await lock.release();
  }
}

/**
 * Remove from `dir` every path that is not one of `entries` (or a parent of one), keeping the times of the
 * directories something was removed from. Never follows a symlink.
 */
async function pruneToEntries(dir: string, entries: readonly LayerEntry[]): Promise<void> {
  const keep = new Set<string>();
  for (const e of entries) {
    const parts = e.path.split('/');
    for (let i = 1; i <= parts.length; i++) keep.add(parts.slice(0, i).join('/'));
  }
  // Synchronous listing: a few hundred directories cost milliseconds this way, where a promise per call cost a
  // tenth of a second on a 6,000-file RUN layer. Only removals go through the thread pool.
  const walk = async (full: string, rel: string): Promise<void> => {
    const before = lstatSync(full);
    let removed = false;
    for (const entry of readdirSync(full, { withFileTypes: true })) {
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      const childFull = path.join(full, entry.name);
      if (!keep.has(childRel)) {
        await fsp.rm(childFull, { recursive: true, force: true });
        removed = true;
      } else if (entry.isDirectory()) await walk(childFull, childRel);
    }
    if (removed) await fsp.utimes(full, before.atime, before.mtime);
  };
  await walk(dir, '');
}

/** SOURCE_DATE_EPOCH on disk: every entry's mtime past the epoch set to it, as the tar writer would clamp it. */
async function clampTimes(dir: string, entries: readonly LayerEntry[], epoch: number): Promise<void> {
  // Changing an entry's times leaves its directory's alone, so the order does not matter.
  for (const { path: rel } of entries) {
    const full = path.join(dir, rel);
    const st = await lstatOrUndefined(full);
    if (st !== undefined && st.mtimeMs / 1000 > epoch) await fsp.lutimes(full, st.atime, epoch);
  }
}

async function isDir(p: string): Promise<boolean> {
  const st = await lstatOrUndefined(p);
  if (st !== undefined && !st.isDirectory()) throw new BuildError(`${p} is in the way of a layer snapshot`);
  return st !== undefined;
}
