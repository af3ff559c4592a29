/**
 * `tsbuild cache check`: re-hash every blob (streaming), then follow every reference the store makes — each cache
 * record's layer and file listing, each tag's manifests, configs and layers — and report what is missing, corrupt
 * or unreadable. Repairing removes what is provably broken: a blob whose bytes do not hash to its name, a record
 * that points at such a blob (or at none), a tag whose image can no longer be read, a damaged listing. Nothing
 * good is ever removed, and what is removed is what the next build rebuilds: a step whose record is gone misses.
 *
 * Verification needs no lock (blobs are immutable once named); the repairs run under the GC lock and re-check
 * each finding there first, so a concurrent build or prune cannot make a repair remove the wrong thing.
 */
import { mapLimit } from '../store/map-limit';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isErrno, readdirOrEmpty, removeTree } from '../store/atomic';
import { BlobStore } from '../store/blob-store';
import { isDigest, shortDigest, type Digest } from '../store/digest';
import { BlobNotFoundError, CorruptBlobError } from '../store/errors';
import { withFileLock } from '../store/file-lock';
import { gcLockPath } from './in-use';
import { parseRecord, readRecords } from './inventory';
import { readBlobOrigin } from '../store/blob-origins';
import { isSnapshotLayer, keptAsSnapshot, snapshotDir } from '../store/snapshot-layers';
import { ImageStore, type ImageRecord } from '../image/image-store';
import {
  isIndexMediaType,
  isManifestMediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
  type Descriptor,
} from '../image/oci-types';

export type ProblemKind =
  | 'corrupt-blob'
  | 'corrupt-snapshot'
  | 'damaged-record'
  | 'record-layer-missing'
  | 'record-layer-corrupt'
  | 'record-layer-size'
  | 'record-listing-missing'
  | 'tag-broken'
  | 'image-index-damaged'
  | 'listing-damaged';

export interface CheckProblem {
  kind: ProblemKind;
  /** Errors make the check fail unless repaired; warnings only degrade explanations. */
  severity: 'error' | 'warning';
  /** What is broken: a digest, a record key, a tag name or a file. */
  subject: string;
  message: string;
  repaired: boolean;
}

export interface CheckOptions {
  /** Remove what is broken (default true: see the command's description for why). */
  repair?: boolean;
  /** Blobs verified at once. */
  parallel?: number;
  /**
   * Whether the snapshot of a layer kept only as its snapshot still holds that layer (its tar hashes to the
   * diff_id). Given by the caller, who has the layer tools (`layers/snapshot-durability.ts`); without it such
   * layers count as whole while their snapshot is there.
   */
  verifySnapshot?: (diffId: Digest) => Promise<boolean>;
}

export interface CheckResult {
  blobs: number;
  blobBytes: number;
  records: number;
  tags: number;
  problems: CheckProblem[];
  /** Errors that remain: found and not repaired. */
  unrepaired: number;
}

/** A blob's state as verification found it. */
type BlobState = { ok: true } | { ok: false; missing: true } | { ok: false; missing: false; actual: string };

export async function checkStore(root: string, options: CheckOptions = {}): Promise<CheckResult> {
  const repair = options.repair ?? true;
  const blobs = new BlobStore(root);
  const states = new Map<Digest, BlobState>();
  const verify = async (d: Digest): Promise<BlobState> => {
    let state = states.get(d);
    if (state === undefined) {
      state = await verifyBlob(blobs, d);
      states.set(d, state);
    }
    return state;
  };

  const snapshotStates = new Map<Digest, Promise<boolean>>();
  /** A snapshot-kept layer is whole when its snapshot still hashes to its diff_id (checked once per diff_id). */
  const snapshotWhole = (diffId: Digest): Promise<boolean> => {
    let state = snapshotStates.get(diffId);
    if (state === undefined) {
      state = options.verifySnapshot?.(diffId) ?? Promise.resolve(true);
      snapshotStates.set(diffId, state);
    }
    return state;
  };
  const corruptSnapshots = new Set<Digest>();

  const problems: CheckProblem[] = [];
  const report = (p: Omit<CheckProblem, 'repaired'>): CheckProblem => {
    const problem = { ...p, repaired: false };
    problems.push(problem);
    return problem;
  };

  // 1. Every blob hashes to its name.
  const digests = await blobs.list();
  let blobBytes = 0;
  await mapLimit(digests, options.parallel ?? 4, async (d) => {
    const state = await verify(d);
    if (!state.ok && !state.missing) {
      report({
        kind: 'corrupt-blob',
        severity: 'error',
        subject: d,
        message: `blob ${d} is corrupt: its content hashes to ${state.actual}`,
      });
    }
    blobBytes += await blobs.size(d).catch(() => 0);
  });
  const corrupt = new Set(problems.map((p) => p.subject).filter(isDigest));

  // 2. Every record's references.
  const { records, damagedRecords } = await readRecords(root);
  const doomedRecords = new Map<string, Digest | null>(); // record file → the bad layer it names (null: damaged)
  for (const r of damagedRecords) {
    report({
      kind: 'damaged-record',
      severity: 'error',
      subject: r.file,
      message: `cache record ${path.basename(r.file)} is unreadable`,
    });
    doomedRecords.set(r.file, null);
  }
  for (const { record, file } of records) {
    const what = `cache record ${shortDigest(record.key)} (${record.description})`;
    if (record.layer && (await keptAsSnapshot(root, blobs, record.layer))) {
      // A layer kept only as its snapshot (cache/snapshot-layers.ts): whole while its snapshot hashes to it.
      const diffId = record.layer.diffId;
      if (!(await snapshotWhole(diffId))) {
        if (!corruptSnapshots.has(diffId)) {
          corruptSnapshots.add(diffId);
          report({
            kind: 'corrupt-snapshot',
            severity: 'error',
            subject: diffId,
            message: `the snapshot of layer ${diffId} no longer holds it: its files were changed`,
          });
        }
        report({
          kind: 'record-layer-corrupt',
          severity: 'error',
          subject: record.key,
          message: `${what}: its layer ${diffId} (kept as a snapshot) is corrupt`,
        });
        doomedRecords.set(file, record.layer.digest);
      }
    } else if (record.layer) {
      const state = await verify(record.layer.digest);
      const size = state.ok ? await blobs.size(record.layer.digest).catch(() => -1) : -1;
      if (!state.ok) {
        report({
          kind: state.missing ? 'record-layer-missing' : 'record-layer-corrupt',
          severity: 'error',
          subject: record.key,
          message: `${what}: its layer ${record.layer.digest} is ${state.missing ? 'missing' : 'corrupt'}`,
        });
        doomedRecords.set(file, record.layer.digest);
      } else if (size !== record.layer.size) {
        report({
          kind: 'record-layer-size',
          severity: 'error',
          subject: record.key,
          message: `${what}: says its layer has ${record.layer.size} bytes, the blob has ${size}`,
        });
        doomedRecords.set(file, record.layer.digest);
      }
    }
    const files = (record.inputs as { filesDigest?: unknown } | null)?.filesDigest;
    if (typeof files === 'string' && isDigest(files)) {
      const state = await verify(files);
      if (!state.ok) {
        report({
          kind: 'record-listing-missing',
          severity: 'warning',
          subject: record.key,
          message: `${what}: the listing of the files it read (${files}) is ${state.missing ? 'missing' : 'corrupt'}; a miss of this step will not name the changed files`,
        });
      }
    }
  }

  // 3. Every tag's image is whole.
  let tags: ImageRecord[] = [];
  try {
    tags = await new ImageStore(root).list();
  } catch (err) {
    // Never repaired automatically: the names in the index are the user's, not a cache.
    report({
      kind: 'image-index-damaged',
      severity: 'error',
      subject: path.join(root, 'images', 'index.json'),
      message: `the image index is damaged: ${err instanceof Error ? err.message : String(err)}`,
    });
  }
  const brokenTags: CheckProblem[] = [];
  for (const tag of tags) {
    const fault = await imageFault(blobs, tag.target, verify, snapshotWhole);
    if (fault !== undefined) {
      brokenTags.push(
        report({
          kind: 'tag-broken',
          severity: 'error',
          subject: tag.name,
          message: `image ${tag.name}: ${fault}`,
        }),
      );
    }
  }

  // 4. Layer listings parse (they are rebuilt from the layer when absent).
  const badListings: string[] = [];
  const listingsDir = path.join(root, 'listings');
  for (const name of await readdirOrEmpty(listingsDir)) {
    if (!/^[0-9a-f]{64}\.json$/.test(name)) continue;
    const file = path.join(listingsDir, name);
    if (!(await isJsonArray(file))) {
      badListings.push(file);
      report({
        kind: 'listing-damaged',
        severity: 'error',
        subject: file,
        message: `layer listing ${name} is damaged`,
      });
    }
  }

  if (repair) {
    await withFileLock(gcLockPath(root), async () => {
      const images = new ImageStore(root);
      for (const p of brokenTags) {
        // Re-check under the lock: the name may have been re-pointed at a whole image meanwhile.
        const now = await images.resolve(p.subject).catch(() => undefined);
        if (
          now === undefined ||
          (await imageFault(blobs, now.target, (d) => verifyBlob(blobs, d), snapshotWhole)) !== undefined
        ) {
          if (now !== undefined) await images.untag(p.subject);
          p.repaired = true;
        }
      }
      for (const [file, bad] of doomedRecords) {
        if (await stillDoomed(file, bad, blobs)) await fsp.rm(file, { force: true });
        for (const p of problems) if (recordFileOf(p, file)) p.repaired = true;
      }
      for (const d of corrupt) {
        const state = await verifyBlob(blobs, d);
        if (!state.ok && !state.missing) await blobs.delete(d);
        for (const p of problems) if (p.kind === 'corrupt-blob' && p.subject === d) p.repaired = true;
      }
      for (const diffId of corruptSnapshots) {
        await removeTree(root, snapshotDir(root, diffId));
        for (const p of problems)
          if (p.kind === 'corrupt-snapshot' && p.subject === diffId) p.repaired = true;
      }
      for (const file of badListings) {
        if (!(await isJsonArray(file))) await fsp.rm(file, { force: true });
        for (const p of problems) if (p.kind === 'listing-damaged' && p.subject === file) p.repaired = true;
      }
    });
  }
  return {
    blobs: digests.length,
    blobBytes,
    records: records.length + damagedRecords.length,
    tags: tags.length,
    problems,
    unrepaired: problems.filter((p) => p.severity === 'error' && !p.repaired).length,
  };
}

/** Why an image cannot be read whole (missing or corrupt manifest, config or layer), or undefined when it can. */
async function imageFault(
  blobs: BlobStore,
  root: Descriptor,
  verify: (d: Digest) => Promise<BlobState>,
  snapshotWhole: (diffId: Digest) => Promise<boolean>,
): Promise<string | undefined> {
  const seen = new Set<string>();
  const visit = async (d: Descriptor, what: string): Promise<string | undefined> => {
    if (seen.has(d.digest)) return undefined;
    seen.add(d.digest);
    const state = await verify(d.digest);
    if (!state.ok) return `${what} ${d.digest} is ${state.missing ? 'missing' : 'corrupt'}`;
    try {
      if (isIndexMediaType(d.mediaType)) {
        for (const child of parseIndex(await blobs.readAll(d.digest)).manifests) {
          const fault = await visit(child, 'manifest');
          if (fault) return fault;
        }
      } else if (isManifestMediaType(d.mediaType)) {
        const m = parseManifest(await blobs.readAll(d.digest));
        const fault = await visit(m.config, 'config');
        if (fault) return fault;
        const diffIds = parseImageConfig(await blobs.readAll(m.config.digest)).rootfs.diff_ids;
        for (const [i, l] of m.layers.entries()) {
          const diffId = diffIds[i];
          const layer = diffId === undefined ? undefined : { digest: l.digest, diffId };
          if (layer && isSnapshotLayer(layer) && (await keptAsSnapshot(blobs.root, blobs, layer))) {
            if (!(await snapshotWhole(layer.diffId)))
              return `layer ${layer.diffId} (kept as a snapshot) is corrupt`;
            continue;
          }
          // A pulled layer without its blob (dropped once unpacked, or never fetched by a push-only build) comes
          // again from its registry. Its snapshot, if any, cannot be re-hashed: another tool wrote its tar.
          if (!(await blobs.has(l.digest)) && (await readBlobOrigin(blobs.root, l.digest)) !== undefined)
            continue;
          const lf = await visit(l, 'layer');
          if (lf) return lf;
        }
      }
    } catch (err) {
      return `${what} ${d.digest} is unreadable: ${err instanceof Error ? err.message : String(err)}`;
    }
    return undefined;
  };
  return visit(root, 'manifest');
}

async function verifyBlob(blobs: BlobStore, d: Digest): Promise<BlobState> {
  try {
    await blobs.verify(d);
    return { ok: true };
  } catch (err) {
    if (err instanceof BlobNotFoundError) return { ok: false, missing: true };
    if (err instanceof CorruptBlobError) return { ok: false, missing: false, actual: err.actual };
    throw err;
  }
}

/** Under the lock: is this record file still the broken record we found (not rewritten whole by a build)? */
async function stillDoomed(file: string, bad: Digest | null, blobs: BlobStore): Promise<boolean> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
  const key: Digest = `sha256:${path.basename(file, '.json')}`;
  const record = parseRecord(text, key);
  if (record === undefined) return true;
  if (bad === null || record.layer?.digest !== bad) return false;
  // Kept as its snapshot (no blob), found corrupt above; a layer with a blob, even an uncompressed one, is
  // re-verified like any other.
  if (isSnapshotLayer(record.layer) && !(await blobs.has(bad))) return true;
  const state = await verifyBlob(blobs, bad);
  if (!state.ok) return true;
  return (await blobs.size(bad)) !== record.layer.size;
}

function recordFileOf(p: CheckProblem, file: string): boolean {
  if (p.kind === 'damaged-record') return p.subject === file;
  if (
    p.kind === 'record-layer-missing' ||
    p.kind === 'record-layer-corrupt' ||
    p.kind === 'record-layer-size'
  ) {
    return `${p.subject.slice('sha256:'.length)}.json` === path.basename(file);
  }
  return false;
}

async function isJsonArray(file: string): Promise<boolean> {
  try {
    return Array.isArray(JSON.parse(await fsp.readFile(file, 'utf8')));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return true; // gone is fine: it is rebuilt on demand
    return false;
  }
}
