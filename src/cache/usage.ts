/**
 * What the store holds and what it costs, for `cache ls` and `cache du`. Every byte under the root is counted
 * exactly once, in the first kind that claims it: a blob a record and a tag both reference is a cache layer.
 */
import type { Digest } from '../store/digest';
import { readInventory, readRecords, type StoreInventory } from './inventory';
import type { CacheRecord } from './key-index';

export type UsageKind =
  'layers' | 'compressed' | 'images' | 'listings' | 'snapshots' | 'records' | 'unreferenced' | 'other';

export interface UsageRow {
  kind: UsageKind;
  /** What the kind is, in words, for the table. */
  label: string;
  count: number;
  bytes: number;
}

export interface StoreUsage {
  total: number;
  rows: UsageRow[];
}

const LABELS: Record<UsageKind, string> = {
  layers: 'cache layers (what records point at)',
  compressed: 'compressed layers made for outputs (regenerable)',
  images: 'image blobs (tags, base images)',
  listings: 'file and layer listings',
  snapshots: 'snapshots (layers on disk, one per diff_id)',
  records: 'cache records',
  unreferenced: 'unreferenced blobs (next prune)',
  other: 'other (history, context digests, temp)',
};

export function storeUsage(inv: StoreInventory): StoreUsage {
  const layerBlobs = new Set<Digest>();
  const listingBlobs = new Set<Digest>(inv.historyBlobs);
  for (const { record } of inv.records) {
    if (record.layer) layerBlobs.add(record.layer.digest);
    const files = (record.inputs as { filesDigest?: unknown } | null)?.filesDigest;
    if (typeof files === 'string') listingBlobs.add(files as Digest);
  }
  const imageBlobs = new Set<Digest>();
  for (const t of [...inv.tags, ...inv.baseImages.values()]) for (const d of t.blobs) imageBlobs.add(d);

  const rows = new Map<UsageKind, UsageRow>(
    (Object.keys(LABELS) as UsageKind[]).map((kind) => [
      kind,
      { kind, label: LABELS[kind], count: 0, bytes: 0 },
    ]),
  );
  const add = (kind: UsageKind, bytes: number, count = 1): void => {
    const row = rows.get(kind) as UsageRow;
    row.count += count;
    row.bytes += bytes;
  };
  for (const [d, b] of inv.blobs) {
    if (layerBlobs.has(d)) add('layers', b.size);
    else if (inv.compressedBlobs.has(d)) add('compressed', b.size);
    else if (imageBlobs.has(d)) add('images', b.size);
    else if (listingBlobs.has(d)) add('listings', b.size);
    else add('unreferenced', b.size);
  }
  for (const l of inv.listings) add('listings', l.bytes);
  for (const s of inv.snapshots) add('snapshots', s.bytes);
  for (const r of inv.records) add('records', r.bytes);
  for (const r of inv.damagedRecords) add('records', r.bytes);
  add('other', inv.otherBytes, 0);
  const all = [...rows.values()];
  return { total: all.reduce((n, r) => n + r.bytes, 0), rows: all };
}

export async function readStoreUsage(root: string): Promise<StoreUsage> {
  return storeUsage(await readInventory(root));
}

/** Cache records, most recently used first. */
export async function listCacheRecords(root: string): Promise<CacheRecord[]> {
  const { records } = await readRecords(root);
  return records
    .map((e) => e.record)
    .sort(
      (a, b) =>
        Date.parse(b.lastUsedAt) - Date.parse(a.lastUsedAt) ||
        Date.parse(b.createdAt) - Date.parse(a.createdAt) ||
        a.key.localeCompare(b.key),
    );
}
