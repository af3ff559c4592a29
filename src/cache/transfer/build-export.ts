/**
 * What `--cache-to` exports from a build: the records of its steps (every built stage's with `mode=max`, only the
 * final image's stage chain with `mode=min`), each layer's file listing (so an importer can plan a later COPY
 * without the layer), and on request the RUN cache mounts the build used.
 */
import type { BlobStore } from '../../store/blob-store';
import type { StepInputs } from '../step-key';
import type { LoggedBuild } from '../build-log';
import { isDigest, type Digest } from '../../store/digest';
import type { KeyIndex } from '../key-index';
import type { BlobRef, CacheConfig, ExportedCacheMount, ExportedHistory, ExportedRecord } from './format';
import type { CacheImports } from './build-imports';
import { layerListingBytes } from '../../layers/listing';
import { layerAvailable } from '../../store/snapshot-layers';
import { compressedLayer } from '../../image/export-layers';
import type { Compression } from '../../store/compression';

/** A finished build as the cache exporter sees it. */
export interface BuildCacheView {
  /** Every step's key with the index of the stage it belongs to, in build order. */
  steps: { key: Digest; stage: number }[];
  /** The target stage and the stages it is built `FROM`: what the final image is made of. */
  finalStages: number[];
  /** Ids of the RUN cache mounts the build's steps declare. */
  cacheMountIds: string[];
  imports: CacheImports;
  /** The build's steps by position with their inputs, exported so an importer can explain its misses. */
  history: { target: string; steps: { position: string; key: Digest; inputs: StepInputs }[] };
}

export interface CollectOptions {
  mode: 'max' | 'min';
  /** Export layer listings (not for inline caches: an image's layers are all in the image anyway). */
  listings: boolean;
  /** Export the build's step history and file-input listings (for miss explanations on the importing side). */
  history: boolean;
  /** Packs a cache mount into the store; absent when cache mounts are not exported. */
  packCacheMount?: (id: string) => Promise<BlobRef | undefined>;
  /** How layers kept only as snapshots are compressed for the export (default gzip). */
  compression?: Compression;
  /** The build log's latest builds of this Dockerfile, carried for the importer's `cache report`. */
  builds?: readonly LoggedBuild[];
}

export async function collectCacheConfig(
  root: string,
  blobs: BlobStore,
  index: KeyIndex,
  view: BuildCacheView,
  opts: CollectOptions,
): Promise<CacheConfig> {
  const final = new Set(view.finalStages);
  const keys = [
    ...new Set(view.steps.filter((s) => opts.mode === 'max' || final.has(s.stage)).map((s) => s.key)),
  ];
  const records: ExportedRecord[] = [];
  // A COPY --from's content record goes with it (appended to `keys`, which the loop then reaches): an importer
  // whose source stage differs can still hit by content.
  for (const key of keys) {
    const record = await exportedRecord(root, key, blobs, index, view.imports, opts.compression ?? 'gzip');
    if (!record) continue;
    if (opts.listings && record.layer) {
      const listing = await listingRef(root, blobs, record.layer.digest, record.layer.diffId, view.imports);
      if (listing) record.listing = listing;
    }
    records.push(record);
    if (record.resultKey !== undefined && !keys.includes(record.resultKey)) keys.push(record.resultKey);
  }
  const cacheMounts: ExportedCacheMount[] = [];
  if (opts.packCacheMount) {
    for (const id of [...new Set(view.cacheMountIds)].sort()) {
      const archive = (await opts.packCacheMount(id)) ?? view.imports.cacheMount(id)?.archive;
      if (archive) cacheMounts.push({ id, archive });
    }
  }
  const config: CacheConfig = { version: 1, mode: opts.mode, records, cacheMounts };
  if (opts.history) config.history = await exportedHistory(blobs, view);
  if (opts.builds && opts.builds.length > 0) config.builds = [...opts.builds];
  return config;
}

async function exportedHistory(blobs: BlobStore, view: BuildCacheView): Promise<ExportedHistory> {
  const files: BlobRef[] = [];
  const seen = new Set<string>();
  for (const step of view.history.steps) {
    const digest = step.inputs.filesDigest;
    if (typeof digest !== 'string' || !isDigest(digest) || seen.has(digest)) continue;
    seen.add(digest);
    if (await blobs.has(digest)) files.push({ digest, size: await blobs.size(digest) });
  }
  return { target: view.history.target, steps: view.history.steps, files };
}

/**
 * The record as exported, from the local index or (a hit whose layer stayed remote) the imported cache. A layer
 * kept only as its snapshot is exported compressed (compressed now if it never was).
 */
async function exportedRecord(
  root: string,
  key: Digest,
  blobs: BlobStore,
  index: KeyIndex,
  imports: CacheImports,
  compression: Compression,
): Promise<ExportedRecord | undefined> {
  const local = await index.get(key);
  // Asked, not hit: exporting a record is not this build using it.
  const source = local ?? (await imports.peek(key));
  if (!source) return undefined;
  let layer = source.layer;
  if (layer && !imports.offers(layer.digest)) {
    // A layer neither here nor in an imported cache cannot be exported (pruned meanwhile): leave the record out.
    if (!(await layerAvailable(root, blobs, layer))) return undefined;
    layer = await compressedLayer(root, blobs, layer, compression);
  }
  return {
    key: source.key,
    description: source.description,
    layer,
    inputs: source.inputs,
    durationMs: source.durationMs,
    createdAt: source.createdAt,
    ...(source.resultKey !== undefined ? { resultKey: source.resultKey } : {}),
  };
}

async function listingRef(
  root: string,
  blobs: BlobStore,
  digest: Digest,
  diffId: Digest,
  imports: CacheImports,
): Promise<BlobRef | undefined> {
  if (!(await blobs.has(digest))) return imports.listingRef(diffId);
  const stored = await blobs.put(await layerListingBytes(root, blobs, digest, diffId));
  return { digest: stored.digest, size: stored.size };
}
