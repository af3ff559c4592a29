/**
 * Pruning the store to a bound: cache records go least recently used first, and a blob goes only when no remaining
 * record, tag, remembered build (its file listings) or running build needs it. Snapshots and layer listings go
 * with the last layer they were made from; under a size bound, snapshots (rebuildable, DESIGN.md) go before any
 * record does, except a snapshot that is its layer's only copy (a RUN layer not compressed yet), which goes with
 * the last record or tag that needs it. A pulled layer's compressed blob goes as soon as the layer is unpacked and
 * its registry is known (`blob-origins.ts`): the snapshot is then the layer's one local copy, kept like a sole copy.
 *
 * Everything is decided on an in-memory model of the store (`planPrune`, pure), then carried out under the GC lock
 * that in-use markers are written under (in-use.ts), so a running build's references are either seen or not yet
 * made. Deletion order keeps the store consistent at every instant: tags and records before the blobs they name,
 * and a snapshot is moved out of `snapshots/` before its tree is removed, so no half-deleted tree is ever taken
 * for a whole one.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { fsyncDir, isErrno, removeTree } from '../store/atomic';
import { BlobStore } from '../store/blob-store';
import { isDigest, type Digest } from '../store/digest';
import { withFileLock } from '../store/file-lock';
import { mapLimit } from '../store/map-limit';
import { gcLockPath, MTIME_SLACK_MS, readInUse, type InUseSet } from './in-use';
import { pruneStepLogs } from './step-logs';
import {
  liveChainNames,
  readInventory,
  type ListingEntry,
  type RecordEntry,
  type SnapshotEntry,
  type StoreInventory,
  type TaggedImage,
} from './inventory';
import { removeBlobOrigins } from '../store/blob-origins';
import { removeCompressedNotes } from '../store/compressed-notes';
import { dropOrphanSidecars, isSnapshotLayer } from '../store/snapshot-layers';
import { ImageStore } from '../image/image-store';

export interface PruneOptions {
  /** Remove least recently used data until the store is at most this many bytes. */
  keepStorage?: number;
  /** Remove records not used for longer than this. */
  keepDurationMs?: number;
  /** Remove everything not in use by a running build: every record, every tag and its blobs, every snapshot. */
  all?: boolean;
  /** Decide and report, delete nothing. */
  dryRun?: boolean;
  /** The current time (tests). */
  now?: number;
  /**
   * The in-use marker of the build that asks, as it finishes (its outputs written): a pulled blob only it
   * still names may go (`dropRefetchable`); everything else it marked is kept as before.
   */
  selfMarker?: string;
}

export interface PruneResult {
  removedRecords: number;
  removedBlobs: number;
  removedSnapshots: number;
  removedListings: number;
  removedTags: string[];
  freedBytes: number;
  sizeBefore: number;
  sizeAfter: number;
  /** Live in-use markers (running builds) whose references were kept. */
  buildsInUse: number;
}

/** What `planPrune` decided to delete. */
export interface PrunePlan {
  tags: string[];
  records: RecordEntry[];
  damagedRecords: string[];
  blobs: Digest[];
  listings: ListingEntry[];
  snapshots: SnapshotEntry[];
  contextDigests: boolean;
  /** Blobs whose notes (origin, compressed-from) name nothing any more: the blob is gone and nothing needs it. */
  deadNotes: Digest[];
  sizeBefore: number;
  sizeAfter: number;
}

/** Files removed at once: enough to keep the disk busy, few enough not to exhaust file handles. */
const REMOVE_PARALLEL = 32;

/** The default `--max-storage`: 10% of the store's filesystem, at most 20 GB. */
export async function defaultMaxStorage(root: string): Promise<number> {
  const CAP = 20e9;
  let dir = path.resolve(root);
  for (;;) {
    try {
      const st = await fsp.statfs(dir);
      return Math.min(CAP, Math.floor(st.blocks * st.bsize * 0.1));
    } catch (err) {
      const parent = path.dirname(dir);
      // The store may not exist yet: its nearest existing ancestor is on the filesystem it will be on.
      if (!isErrno(err, 'ENOENT') || parent === dir) return CAP;
      dir = parent;
    }
  }
}

export async function pruneStore(root: string, options: PruneOptions = {}): Promise<PruneResult> {
  return withFileLock(
    gcLockPath(root),
    async () => {
      const inventory = await readInventory(root);
      const inUse = await readInUse(root, options.selfMarker);
      const plan = planPrune(inventory, inUse, options);
      if (!options.dryRun) {
        await carryOut(root, plan);
        const removed = new Set(plan.records.map((e) => e.record.key));
        await pruneStepLogs(
          root,
          new Set(inventory.records.map((e) => e.record.key).filter((k) => !removed.has(k))),
        );
      }
      return {
        removedRecords: plan.records.length + plan.damagedRecords.length,
        removedBlobs: plan.blobs.length,
        removedSnapshots: plan.snapshots.length,
        removedListings: plan.listings.length,
        removedTags: plan.tags,
        freedBytes: plan.sizeBefore - plan.sizeAfter,
        sizeBefore: plan.sizeBefore,
        sizeAfter: plan.sizeAfter,
        buildsInUse: inUse.markers,
      };
    },
    // A long prune by another process is worth waiting for; failing the build over it is not.
    { timeoutMs: 10 * 60 * 1000 },
  );
}

/** Decide what to delete. Pure: reads only its arguments. */
export function planPrune(inv: StoreInventory, inUse: InUseSet, options: PruneOptions): PrunePlan {
  return new Planner(inv, inUse, options).plan();
}

class Planner {
  private readonly now: number;
  private readonly remaining = new Map<string, RecordEntry>();
  private readonly blobRefs = new Map<string, number>();
  private readonly diffRefs = new Map<string, number>();
  private readonly pinnedBlobs = new Set<string>();
  private readonly pinnedDiffIds = new Set<string>();
  private readonly removedBlobs = new Set<Digest>();
  private readonly removedSnapshots = new Set<string>();
  private readonly removedListings = new Set<string>();
  private readonly removedRecords: RecordEntry[] = [];
  private readonly removedTags: string[] = [];
  private readonly listingsByDiffId = new Map<string, ListingEntry>();
  private readonly layerSnapshots = new Map<string, SnapshotEntry>();
  /** Diff_ids whose snapshot is a layer's only copy (kept as a snapshot, never compressed): not rebuildable. */
  private readonly soleCopies = new Set<string>();
  /** Pulled layer blobs present here whose snapshot is unpacked and whose registry can give them again. */
  private readonly refetchable = new Map<Digest, Digest>();
  private total = 0;

  constructor(
    private readonly inv: StoreInventory,
    private readonly inUse: InUseSet,
    private readonly options: PruneOptions,
  ) {
    this.now = options.now ?? Date.now();
    for (const l of inv.listings) this.listingsByDiffId.set(l.diffId, l);
    for (const s of inv.snapshots) if (s.kind === 'layer') this.layerSnapshots.set(`sha256:${s.name}`, s);
    for (const e of inv.records) {
      const layer = e.record.layer;
      if (layer && isSnapshotLayer(layer) && !inv.blobs.has(layer.digest)) this.soleCopies.add(layer.diffId);
    }
    for (const t of inv.tags) {
      for (const i of t.images)
        for (const id of i.diffIds) if (t.blobs.has(id) && !inv.blobs.has(id)) this.soleCopies.add(id);
    }
    for (const refs of [...inv.tags, ...inv.baseImages.values()])
      for (const i of refs.images) this.notePulled(i);
  }

  /** The layers of an image that came from a registry: their snapshots stand in for their blobs. */
  private notePulled(image: TaggedImage): void {
    image.layers.forEach((blob, i) => {
      const diffId = image.diffIds[i];
      if (diffId === undefined || blob === diffId || !this.inv.blobOrigins.has(blob)) return;
      if (!this.layerSnapshots.has(diffId)) return; // not unpacked: the blob is the only copy
      this.soleCopies.add(diffId);
      if (this.inv.blobs.has(blob)) this.refetchable.set(blob, diffId);
    });
  }

  plan(): PrunePlan {
    const { inv, options } = this;
    const sizeBefore = this.measure();
    for (const e of inv.records) this.addRecord(e);
    for (const r of this.inUse.refs) {
      this.pinnedBlobs.add(r);
      this.pinnedDiffIds.add(r);
    }
    for (const [d, b] of inv.blobs) if (this.isFresh(b.mtimeMs)) this.pinnedBlobs.add(d);
    if (options.all) this.unpinTags();
    else {
      for (const t of inv.tags) this.pinTag(t.blobs, t.images);
      for (const d of inv.historyBlobs) this.pinnedBlobs.add(d);
    }
    this.total -= inv.damagedRecords.reduce((n, r) => n + r.bytes, 0);
    this.dropRefetchable();
    // Garbage first: whatever nothing references is removed whatever the bounds.
    for (const d of inv.blobs.keys()) this.dropBlobIfDead(d);
    for (const l of inv.listings) this.dropDiffIdIfDead(l.diffId);
    for (const s of inv.snapshots) if (s.kind === 'layer') this.dropDiffIdIfDead(`sha256:${s.name}`);
    this.dropDeadChains();

    if (options.keepDurationMs !== undefined) {
      const cutoff = this.now - options.keepDurationMs;
      for (const e of this.lru()) if (Date.parse(e.record.lastUsedAt) < cutoff) this.dropRecord(e);
    }
    const unbounded = options.keepStorage === undefined && options.keepDurationMs === undefined;
    const bound = options.keepStorage ?? (unbounded || options.all ? 0 : undefined);
    if (bound !== undefined && this.total > bound) {
      this.dropCompressedCopies(bound);
      // Snapshots are mostly unpacked layers: dropping them costs an unpack, dropping a record costs a rebuild. A
      // snapshot that is its layer's only copy goes only with the last record or tag that needs it.
      const snaps = inv.snapshots
        .filter(
          (s) =>
            s.kind !== 'other' &&
            !this.removedSnapshots.has(s.name) &&
            !this.soleCopies.has(`sha256:${s.name}`),
        )
        .sort((a, b) => a.mtimeMs - b.mtimeMs);
      for (const s of snaps) {
        if (this.total <= bound) break;
        this.dropSnapshot(s);
      }
      for (const e of this.lru()) {
        if (this.total <= bound) break;
        this.dropRecord(e);
      }
      this.dropDeadChains();
    }
    return {
      tags: this.removedTags,
      records: this.removedRecords,
      damagedRecords: inv.damagedRecords.map((r) => r.file),
      blobs: [...this.removedBlobs],
      listings: inv.listings.filter((l) => this.removedListings.has(l.diffId)),
      snapshots: inv.snapshots.filter((s) => this.removedSnapshots.has(s.name)),
      contextDigests: options.all === true && this.inUse.markers === 0,
      deadNotes: this.deadNotes(),
      sizeBefore,
      sizeAfter: this.total,
    };
  }

  private measure(): number {
    const { inv } = this;
    let total = inv.otherBytes;
    for (const b of inv.blobs.values()) total += b.size;
    for (const s of inv.snapshots) total += s.bytes;
    for (const l of inv.listings) total += l.bytes;
    for (const r of inv.records) total += r.bytes;
    for (const r of inv.damagedRecords) total += r.bytes;
    this.total = total;
    return total;
  }

  /** Written since the oldest running build started: possibly its output, not yet referenced by anything. */
  private isFresh(mtimeMs: number): boolean {
    return this.inUse.oldestMs !== undefined && mtimeMs >= this.inUse.oldestMs - MTIME_SLACK_MS;
  }

  private recordInUse(e: RecordEntry): boolean {
    if (this.inUse.refs.has(e.record.key)) return true;
    const created = Date.parse(e.record.createdAt);
    return this.inUse.oldestMs !== undefined && created >= this.inUse.oldestMs;
  }

  private pinTag(blobs: Set<Digest>, images: { diffIds: Digest[] }[]): void {
    for (const d of blobs) this.pinnedBlobs.add(d);
    for (const i of images) for (const id of i.diffIds) this.pinnedDiffIds.add(id);
  }

  /** --all: tags go too, except one a running build names (it may be the base it is building on). */
  private unpinTags(): void {
    for (const t of this.inv.tags) {
      if (this.inUse.refs.has(t.target.digest)) this.pinTag(t.blobs, t.images);
      else this.removedTags.push(t.name);
    }
    for (const r of this.inv.records) this.dropRecord(r);
    for (const s of this.inv.snapshots) if (s.kind !== 'other') this.dropSnapshot(s);
  }

  private lru(): RecordEntry[] {
    return [...this.remaining.values()].sort(
      (a, b) =>
        Date.parse(a.record.lastUsedAt) - Date.parse(b.record.lastUsedAt) ||
        Date.parse(a.record.createdAt) - Date.parse(b.record.createdAt) ||
        a.record.key.localeCompare(b.record.key),
    );
  }

  private addRecord(e: RecordEntry): void {
    this.remaining.set(e.record.key, e);
    const refs = this.recordRefs(e);
    for (const d of refs.blobs) this.blobRefs.set(d, (this.blobRefs.get(d) ?? 0) + 1);
    for (const id of refs.diffIds) this.diffRefs.set(id, (this.diffRefs.get(id) ?? 0) + 1);
  }

  private dropRecord(e: RecordEntry): void {
    if (!this.remaining.has(e.record.key) || this.recordInUse(e)) return;
    this.remaining.delete(e.record.key);
    this.removedRecords.push(e);
    this.total -= e.bytes;
    const refs = this.recordRefs(e);
    for (const d of refs.blobs) {
      this.blobRefs.set(d, (this.blobRefs.get(d) ?? 1) - 1);
      this.dropBlobIfDead(d);
    }
    for (const id of refs.diffIds) {
      this.diffRefs.set(id, (this.diffRefs.get(id) ?? 1) - 1);
      this.dropDiffIdIfDead(id);
    }
  }

  /**
   * What a record keeps alive: its layer, the listing of the files it read, and — for a stage's first step — the
   * whole base image it stands on (a cached step is no use without the layers below it).
   */
  private recordRefs(e: RecordEntry): { blobs: Digest[]; diffIds: Digest[] } {
    const blobs: Digest[] = [];
    const diffIds: Digest[] = [];
    const { layer, inputs } = e.record;
    if (layer) {
      blobs.push(layer.digest);
      diffIds.push(layer.diffId);
    }
    const { filesDigest, parent } = (inputs ?? {}) as { filesDigest?: unknown; parent?: unknown };
    if (typeof filesDigest === 'string' && isDigest(filesDigest)) blobs.push(filesDigest);
    const base = typeof parent === 'string' && isDigest(parent) ? this.inv.baseImages.get(parent) : undefined;
    if (base) {
      blobs.push(...base.blobs);
      for (const i of base.images) diffIds.push(...i.diffIds);
    }
    return { blobs, diffIds };
  }

  private dropBlobIfDead(d: Digest): void {
    const blob = this.inv.blobs.get(d);
    if (!blob || this.removedBlobs.has(d)) return;
    if (this.pinnedBlobs.has(d) || (this.blobRefs.get(d) ?? 0) > 0) return;
    const holds = this.inv.compressedBlobs.get(d);
    if (holds !== undefined && this.diffIdLive(holds)) return; // compressed for an output, kept with its layer
    this.removedBlobs.add(d);
    this.total -= blob.size;
  }

  private diffIdLive(id: Digest): boolean {
    return this.pinnedDiffIds.has(id) || (this.diffRefs.get(id) ?? 0) > 0;
  }

  /** Under a bound: compressed copies of snapshot-kept layers go first, as they can be made again. */
  private dropCompressedCopies(bound: number): void {
    const copies = [...this.inv.compressedBlobs.keys()]
      .map((d) => ({ d, blob: this.inv.blobs.get(d) }))
      .filter((c) => c.blob !== undefined && !this.removedBlobs.has(c.d) && !this.pinnedBlobs.has(c.d))
      .sort((a, b) => (a.blob?.mtimeMs ?? 0) - (b.blob?.mtimeMs ?? 0));
    for (const { d, blob } of copies) {
      if (this.total <= bound) return;
      if ((this.blobRefs.get(d) ?? 0) > 0) continue;
      this.removedBlobs.add(d);
      this.total -= blob?.size ?? 0;
    }
  }

  /**
   * Whatever the bounds: a pulled layer's compressed blob once its snapshot holds the layer, unless another running
   * build names it or may have just written it (it may be unpacking it this moment).
   */
  private dropRefetchable(): void {
    const others = this.inUse.others;
    const fresh = (mtimeMs: number): boolean =>
      others.oldestMs !== undefined && mtimeMs >= others.oldestMs - MTIME_SLACK_MS;
    for (const blob of this.refetchable.keys()) {
      const entry = this.inv.blobs.get(blob);
      if (!entry || this.removedBlobs.has(blob) || others.refs.has(blob) || fresh(entry.mtimeMs)) continue;
      this.removedBlobs.add(blob);
      this.total -= entry.size;
    }
  }

  /**
   * Notes about blobs that are gone (or go now) and that no remaining tag or record (through its base image) names:
   * an origin note of a dropped pulled layer stays while its image does, as it is where the layer comes from again.
   */
  private deadNotes(): Digest[] {
    const named = new Set<Digest>();
    for (const t of this.inv.tags)
      if (!this.removedTags.includes(t.name)) for (const d of t.blobs) named.add(d);
    for (const e of this.remaining.values()) for (const d of this.recordRefs(e).blobs) named.add(d);
    const gone = (d: Digest): boolean => !this.inv.blobs.has(d) || this.removedBlobs.has(d);
    const dead = new Set<Digest>();
    for (const d of this.inv.blobOrigins) if (gone(d) && !named.has(d)) dead.add(d);
    for (const d of this.inv.compressedBlobs.keys()) if (gone(d)) dead.add(d);
    return [...dead];
  }

  /** A diff_id no remaining layer has: its listing and snapshot go. */
  private dropDiffIdIfDead(id: Digest): void {
    if (this.diffIdLive(id)) return;
    for (const [blob, holds] of this.inv.compressedBlobs) if (holds === id) this.dropBlobIfDead(blob);
    const listing = this.listingsByDiffId.get(id);
    if (listing && !this.removedListings.has(id)) {
      this.removedListings.add(id);
      this.total -= listing.bytes;
    }
    const snap = this.layerSnapshots.get(id);
    if (snap) this.dropSnapshot(snap);
  }

  private dropSnapshot(s: SnapshotEntry): void {
    if (this.removedSnapshots.has(s.name) || this.isFresh(s.mtimeMs)) return;
    if (this.inUse.refs.has(s.name) || (s.kind === 'layer' && this.inUse.refs.has(`sha256:${s.name}`)))
      return;
    this.removedSnapshots.add(s.name);
    this.total -= s.bytes;
  }

  /** Chain snapshots (unpacked stage roots for COPY --from) whose layers no remaining record or tag stacks up. */
  private dropDeadChains(): void {
    const chains = this.inv.snapshots.filter((s) => s.kind === 'chain' && !this.removedSnapshots.has(s.name));
    if (chains.length === 0) return;
    const records = [...this.remaining.values()].map((e) => e.record);
    const tags = this.inv.tags.filter((t) => !this.removedTags.includes(t.name));
    const live = liveChainNames(records, [...tags, ...this.inv.baseImages.values()]);
    for (const s of chains) if (!live.has(s.name)) this.dropSnapshot(s);
  }
}

/**
 * Delete what the plan says, references before what they reference. Unlinks are not fsynced one by one (that made
 * a large prune take minutes): each directory is synced once after its batch, before the next batch starts, so a
 * crash can resurrect only whole batches in order — a record never outlives the blob it names by a crash.
 */
async function carryOut(root: string, plan: PrunePlan): Promise<void> {
  const images = new ImageStore(root);
  for (const name of plan.tags) await images.untag(name);
  await unlinkAll([...plan.records.map((e) => e.file), ...plan.damagedRecords], path.join(root, 'index'));
  const blobs = new BlobStore(root);
  await unlinkAll(
    plan.blobs.map((d) => blobs.blobPath(d)),
    blobs.blobDir,
  );
  await unlinkAll(
    plan.listings.map((l) => l.path),
    path.join(root, 'listings'),
  );
  for (const s of plan.snapshots) await removeTree(root, s.path);
  if (plan.contextDigests) await removeTree(root, path.join(root, 'context-digests'));
  if (plan.deadNotes.length > 0) {
    const dead = new Set(plan.deadNotes);
    await removeBlobOrigins(root, dead);
    await removeCompressedNotes(root, dead);
  }
  if (plan.snapshots.length > 0) await dropOrphanSidecars(root);
  await blobs.cleanTemp();
}

async function unlinkAll(files: readonly string[], dir: string): Promise<void> {
  if (files.length === 0) return;
  await mapLimit(files, REMOVE_PARALLEL, (f) => fsp.rm(f, { force: true }));
  await fsyncDir(dir).catch((err: unknown) => {
    if (!isErrno(err, 'ENOENT')) throw err;
  });
}
