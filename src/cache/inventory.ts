/**
 * What the store holds, read from disk in one pass for `cache ls/du/prune/check`: cache records, blobs with their
 * sizes, what each tag references (manifests, configs, layers and their diff_ids), snapshots, layer listings, the
 * file-listing blobs the build histories point at, and the bytes of everything else.
 *
 * Reading is for reachability, not integrity: manifests and configs are parsed without verifying their digest (a
 * corrupt one still names its layers, which must not be collected because of it). `check.ts` verifies.
 */
import { createHash, type Hash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { lstatOrUndefined } from '../store/fs-probe';
import { mapLimit } from '../store/map-limit';
import { isErrno, readdirOrEmpty } from '../store/atomic';
import { listBuildHistories } from './build-history';
import { listBlobOrigins } from '../store/blob-origins';
import { listCompressedNotes } from '../store/compressed-notes';
import { isDigest, sha256Digest, digestHex, type Digest } from '../store/digest';
import type { CacheRecord } from './key-index';
import { BlobStore } from '../store/blob-store';
import { recordedSnapshotSize } from '../store/snapshot-layers';
import { ImageStore } from '../image/image-store';
import {
  MediaType,
  isIndexMediaType,
  isManifestMediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
  type Descriptor,
} from '../image/oci-types';

export interface RecordEntry {
  record: CacheRecord;
  file: string;
  bytes: number;
}

export interface BlobEntry {
  size: number;
  mtimeMs: number;
}

/** One platform image under a tag: its layers' diff_ids, base first (empty when the config is unreadable). */
export interface TaggedImage {
  manifest: Digest;
  diffIds: Digest[];
  /** The layers' blob digests, in the same order. */
  layers: Digest[];
}

export interface TagEntry extends ImageRefs {
  name: string;
  target: Descriptor;
}

export type SnapshotKind = 'layer' | 'chain' | 'other';

export interface SnapshotEntry {
  name: string;
  path: string;
  kind: SnapshotKind;
  bytes: number;
  mtimeMs: number;
}

export interface ListingEntry {
  diffId: Digest;
  path: string;
  bytes: number;
}

export interface StoreInventory {
  records: RecordEntry[];
  /** Record files that are not a valid record for their own name (foreign damage). */
  damagedRecords: { file: string; bytes: number }[];
  blobs: Map<Digest, BlobEntry>;
  tags: TagEntry[];
  /** Untagged or not, the images records stand on, by manifest digest. */
  baseImages: Map<Digest, ImageRefs>;
  snapshots: SnapshotEntry[];
  listings: ListingEntry[];
  /** File-listing blobs the remembered builds point at (what `cache explain` needs to name changed files). */
  historyBlobs: Set<Digest>;
  /**
   * Compressed blobs made for an output from a layer kept as its snapshot (`compressed-notes.ts`), each with the
   * diff_id it holds: kept while that layer lives, so it is not compressed
   * again; regenerable, so they go first under a size bound.
   */
  compressedBlobs: Map<Digest, Digest>;
  /** Pulled layer blobs whose registry can give them again (`blob-origins.ts`). */
  blobOrigins: Set<Digest>;
  /** Bytes of everything not counted above (history, context digests, the image index, temp files). */
  otherBytes: number;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** `<64 hex>.json`: a cache record (named by its key) or a layer listing (named by its diff_id). */
const RECORD_FILE = /^[0-9a-f]{64}\.json$/;
/** Small reads and stats in flight at once: thousands of records should cost milliseconds, not seconds. */
const IO_PARALLEL = 32;
const CHAIN = /^chain-[0-9a-f]{64}$/;
/** Counted by kind; and `locks`/`gc` are the collector's own bookkeeping, which comes and goes as it runs. */
const NOT_OTHER = new Set(['blobs', 'snapshots', 'listings', 'index', 'locks', 'gc', 'unsynced']);

export async function readInventory(root: string): Promise<StoreInventory> {
  const [records, blobs, tags, snapshots, listings, historyBlobs, compressedBlobs, blobOrigins, otherBytes] =
    await Promise.all([
      readRecords(root),
      readBlobs(root),
      readTags(root),
      readSnapshots(root),
      readListings(root),
      readHistoryBlobs(root),
      listCompressedNotes(root),
      listBlobOrigins(root),
      readOtherBytes(root),
    ]);
  const baseImages = await readBaseImages(root, records.records);
  return {
    ...records,
    blobs,
    tags,
    baseImages,
    snapshots,
    listings,
    historyBlobs,
    compressedBlobs,
    blobOrigins,
    otherBytes,
  };
}

/** Parse a record file's text; undefined unless it is a version-1 record for `key`. */
export function parseRecord(text: string, key: Digest): CacheRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<CacheRecord>;
    if (r.version !== 1 || r.key !== key || typeof r.description !== 'string') return undefined;
    if (typeof r.lastUsedAt !== 'string' || typeof r.createdAt !== 'string') return undefined;
    if (r.layer !== null && (typeof r.layer !== 'object' || !isDigest(String(r.layer?.digest))))
      return undefined;
    return r as CacheRecord;
  } catch {
    return undefined;
  }
}

export async function readRecords(root: string): Promise<Pick<StoreInventory, 'records' | 'damagedRecords'>> {
  const dir = path.join(root, 'index');
  const out: Pick<StoreInventory, 'records' | 'damagedRecords'> = { records: [], damagedRecords: [] };
  // Temp files of writers in flight are dot-files: leave them to their writers.
  const names = (await readdirOrEmpty(dir)).filter((n) => RECORD_FILE.test(n)).sort();
  const texts = await mapLimit(names, IO_PARALLEL, async (name) => {
    try {
      return await fsp.readFile(path.join(dir, name), 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  });
  names.forEach((name, i) => {
    const text = texts[i];
    if (text === undefined) return;
    const file = path.join(dir, name);
    const bytes = Buffer.byteLength(text);
    const record = parseRecord(text, `sha256:${name.slice(0, 64)}`);
    if (record) out.records.push({ record, file, bytes });
    else out.damagedRecords.push({ file, bytes });
  });
  return out;
}

async function readBlobs(root: string): Promise<Map<Digest, BlobEntry>> {
  const store = new BlobStore(root);
  const digests = await store.list();
  const stats = await mapLimit(digests, IO_PARALLEL, (d) => lstatOrUndefined(store.blobPath(d)));
  const out = new Map<Digest, BlobEntry>();
  digests.forEach((d, i) => {
    const st = stats[i];
    if (st) out.set(d, { size: st.size, mtimeMs: st.mtimeMs });
  });
  return out;
}

async function readTags(root: string): Promise<TagEntry[]> {
  const tags: TagEntry[] = [];
  for (const { name, target } of await new ImageStore(root).list()) {
    tags.push({ name, target, ...(await readImageRefs(root, target)) });
  }
  return tags;
}

/**
 * The images cache records stand on (a stage's first step's parent is its base image's manifest digest), whether
 * or not a tag names them: an image pulled by digest has no tag, and its layers are needed as long as records
 * built on it are.
 */
async function readBaseImages(
  root: string,
  records: readonly RecordEntry[],
): Promise<Map<Digest, ImageRefs>> {
  const keys = new Set<string>(records.map((e) => e.record.key));
  const out = new Map<Digest, ImageRefs>();
  const store = new BlobStore(root);
  for (const { record } of records) {
    const parent = (record.inputs as { parent?: unknown } | null)?.parent;
    if (typeof parent !== 'string' || !isDigest(parent) || keys.has(parent) || out.has(parent)) continue;
    const data = await rawBlob(store, parent);
    const mediaType = data && sniffMediaType(data);
    if (mediaType === undefined) continue;
    out.set(parent, await readImageRefs(root, { mediaType, digest: parent, size: data?.length ?? 0 }));
  }
  return out;
}

export interface ImageRefs {
  /** Every blob the image reaches that could be read: manifests/indexes, configs, layers. */
  blobs: Set<Digest>;
  images: TaggedImage[];
}

async function readImageRefs(root: string, target: Descriptor): Promise<ImageRefs> {
  const store = new BlobStore(root);
  const entry: ImageRefs = { blobs: new Set(), images: [] };
  const visit = async (d: Descriptor): Promise<void> => {
    if (entry.blobs.has(d.digest)) return;
    entry.blobs.add(d.digest);
    const data = await rawBlob(store, d.digest);
    if (data === undefined) return;
    try {
      if (isIndexMediaType(d.mediaType)) {
        for (const child of parseIndex(data).manifests) await visit(child);
      } else if (isManifestMediaType(d.mediaType)) {
        const m = parseManifest(data);
        entry.blobs.add(m.config.digest);
        for (const l of m.layers) entry.blobs.add(l.digest);
        const config = await rawBlob(store, m.config.digest);
        let diffIds: Digest[] = [];
        try {
          if (config !== undefined) diffIds = parseImageConfig(config).rootfs.diff_ids;
        } catch {
          // an unreadable config names no diff_ids; its layers are still kept by digest
        }
        entry.images.push({ manifest: d.digest, diffIds, layers: m.layers.map((l) => l.digest) });
      }
    } catch {
      // a damaged manifest names nothing more; `cache check` reports it
    }
  };
  await visit(target);
  return entry;
}

/** A blob's bytes without verification (reachability only); undefined when absent. */
async function rawBlob(store: BlobStore, d: Digest): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(store.blobPath(d));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/** The media type of a stored manifest or index, from its own field or its shape; undefined for anything else. */
function sniffMediaType(data: Buffer): string | undefined {
  try {
    const v = JSON.parse(data.toString('utf8')) as {
      mediaType?: unknown;
      layers?: unknown;
      manifests?: unknown;
    };
    if (
      typeof v.mediaType === 'string' &&
      (isManifestMediaType(v.mediaType) || isIndexMediaType(v.mediaType))
    )
      return v.mediaType;
    if (Array.isArray(v.layers)) return MediaType.ociManifest;
    if (Array.isArray(v.manifests)) return MediaType.ociIndex;
  } catch {
    // not JSON: not an image
  }
  return undefined;
}

async function readSnapshots(root: string): Promise<SnapshotEntry[]> {
  const dir = path.join(root, 'snapshots');
  const sizes = await SnapshotSizes.load(root);
  const out: SnapshotEntry[] = [];
  for (const name of await readdirOrEmpty(dir)) {
    const p = path.join(dir, name);
    const st = await lstatOrUndefined(p);
    if (!st) continue;
    const kind: SnapshotKind = HEX64.test(name) ? 'layer' : CHAIN.test(name) ? 'chain' : 'other';
    out.push({ name, path: p, kind, bytes: await sizes.bytes(name, p), mtimeMs: st.mtimeMs });
  }
  await sizes.save(out.map((s) => s.name));
  return out;
}

async function readListings(root: string): Promise<ListingEntry[]> {
  const dir = path.join(root, 'listings');
  const names = (await readdirOrEmpty(dir)).filter((n) => RECORD_FILE.test(n)).sort();
  const stats = await mapLimit(names, IO_PARALLEL, (n) => lstatOrUndefined(path.join(dir, n)));
  const out: ListingEntry[] = [];
  names.forEach((name, i) => {
    const st = stats[i];
    if (st) out.push({ diffId: `sha256:${name.slice(0, 64)}`, path: path.join(dir, name), bytes: st.size });
  });
  return out;
}

async function readHistoryBlobs(root: string): Promise<Set<Digest>> {
  const out = new Set<Digest>();
  for (const pair of await listBuildHistories(root)) {
    for (const h of [pair.current, pair.previous]) {
      for (const step of h?.steps ?? []) {
        const inputs = step.inputs as { filesDigest?: unknown } | null;
        const d = inputs?.filesDigest;
        if (typeof d === 'string' && isDigest(d)) out.add(d);
      }
    }
  }
  return out;
}

async function readOtherBytes(root: string): Promise<number> {
  let total = 0;
  for (const name of await readdirOrEmpty(root)) {
    if (!NOT_OTHER.has(name)) total += await treeBytes(path.join(root, name));
  }
  return total;
}

/**
 * The names of the chain snapshots (`executor/rootfs.ts`: a stage's root unpacked for COPY --from) that the given
 * records and images can still ask for: one per record (the layers below and including its step) and per image.
 * Chains are hashed incrementally along parent links, so thousands of deep records cost one pass.
 */
export function liveChainNames(records: readonly CacheRecord[], images: readonly ImageRefs[]): Set<string> {
  type State = Hash | 'empty' | null; // null: the chain cannot be followed (its base is unknown)
  const byKey = new Map(records.map((r) => [r.key as string, r]));
  const layersOf = new Map<string, Digest[]>();
  for (const t of images) for (const i of t.images) layersOf.set(i.manifest, i.diffIds);
  const extend = (s: Hash | 'empty', diffId: string): Hash =>
    s === 'empty' ? createHash('sha256').update(diffId) : s.copy().update(`\n${diffId}`);
  const ofLayers = (ids: readonly Digest[]): Hash | 'empty' => ids.reduce<Hash | 'empty'>(extend, 'empty');
  const memo = new Map<string, State>();
  const state = (key: string, depth: number): State => {
    const known = memo.get(key);
    if (known !== undefined) return known;
    memo.set(key, null); // a parent cycle can only be damage: it ends here
    const r = byKey.get(key);
    let out: State;
    if (r === undefined) {
      const layers = layersOf.get(key);
      out = key.startsWith('scratch') ? 'empty' : layers ? ofLayers(layers) : null;
    } else if (depth > 10_000) {
      out = null;
    } else {
      const parent = state(String((r.inputs as { parent?: unknown } | null)?.parent ?? ''), depth + 1);
      out = parent === null ? null : r.layer ? extend(parent, r.layer.diffId) : parent;
    }
    memo.set(key, out);
    return out;
  };
  const name = (s: Hash | 'empty'): string =>
    `chain-${(s === 'empty' ? createHash('sha256') : s.copy()).digest('hex')}`;
  const names = new Set<string>([name('empty')]);
  for (const r of records) {
    const s = state(r.key, 0);
    if (s !== null) names.add(name(s));
  }
  for (const t of images) for (const i of t.images) names.add(name(ofLayers(i.diffIds)));
  return names;
}

/** The snapshot name `executor/rootfs.ts` gives the unpacked chain of these layers. */
export function chainSnapshotName(diffIds: readonly Digest[]): string {
  return `chain-${digestHex(sha256Digest(diffIds.join('\n')))}`;
}

/** Apparent size of a file or tree, each inode counted once. Vanished entries count zero. */
export async function treeBytes(p: string, seen = new Set<string>()): Promise<number> {
  const st = await lstatOrUndefined(p);
  if (!st) return 0;
  const id = `${st.dev}:${st.ino}`;
  if (seen.has(id)) return 0;
  seen.add(id);
  if (!st.isDirectory()) return st.size;
  let names: string[];
  try {
    names = await readdirOrEmpty(p);
  } catch (err) {
    if (isErrno(err, 'EACCES', 'EPERM')) return 0; // a layer's unreadable directory (we are not root)
    throw err;
  }
  let total = 0;
  for (const name of names) total += await treeBytes(path.join(p, name), seen);
  return total;
}

/**
 * Snapshot trees are immutable once renamed into place and named by their content, so a size measured once holds
 * while the name does (a copy of the store, with new inodes, keeps it too): remembered in
 * `<root>/gc/snapshot-sizes.json`, or taken from what the snapshot's maker recorded (`recordSnapshotSize`),
 * instead of walking thousands of files on every automatic prune.
 */
class SnapshotSizes {
  private dirty = false;

  private constructor(
    private readonly root: string,
    private readonly file: string,
    private readonly known: Map<string, { bytes: number }>,
  ) {}

  static async load(root: string): Promise<SnapshotSizes> {
    const file = path.join(root, 'gc', 'snapshot-sizes.json');
    let known = new Map<string, { bytes: number }>();
    try {
      known = new Map(Object.entries(JSON.parse(await fsp.readFile(file, 'utf8')) as object));
    } catch {
      // absent or damaged: sizes are measured again
    }
    return new SnapshotSizes(root, file, known);
  }

  async bytes(name: string, p: string): Promise<number> {
    const k = this.known.get(name);
    if (k && typeof k.bytes === 'number') return k.bytes;
    const bytes = (await recordedSnapshotSize(this.root, name)) ?? (await treeBytes(p));
    this.known.set(name, { bytes });
    this.dirty = true;
    return bytes;
  }

  async save(present: readonly string[]): Promise<void> {
    const keep = new Set(present);
    for (const name of this.known.keys()) {
      if (!keep.has(name)) {
        this.known.delete(name);
        this.dirty = true;
      }
    }
    if (!this.dirty) return;
    try {
      await fsp.mkdir(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      await fsp.writeFile(tmp, JSON.stringify(Object.fromEntries(this.known)));
      await fsp.rename(tmp, this.file);
    } catch {
      // only a cache of measurements
    }
  }
}
