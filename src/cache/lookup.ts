/**
 * "Is there a usable record for this key?", answered in one place: the local key index first (a record whose layer
 * is still here, as a blob or a snapshot), then the `--cache-from` caches (their layer is fetched later, and only if
 * something needs it). A hit is marked in use before it is checked, so a concurrent prune cannot take it away
 * between the check and the use. `--no-cache` finds nothing.
 */
import type { BlobStore } from '../store/blob-store';
import type { Digest } from '../store/digest';
import { layerAvailable } from '../store/snapshot-layers';
import type { InUseMarker } from './in-use';
import type { CacheRecord, KeyIndex } from './key-index';
import type { CacheImports } from './transfer/build-imports';
import type { ExportedRecord } from './transfer/format';

export class CacheLookup {
  /** Keys `find` answered from an imported record (not a local one): what the build log and history call imported. */
  private readonly importedHits = new Set<Digest>();

  constructor(
    private readonly root: string,
    private readonly blobs: BlobStore,
    private readonly index: KeyIndex,
    private readonly imports: CacheImports,
    private readonly options: { noCache: boolean; inUse?: InUseMarker },
  ) {}

  /** The record a step with `key` would use, or undefined when it must be built. */
  async find(key: Digest): Promise<CacheRecord | undefined> {
    if (this.options.noCache) return undefined;
    const local = await this.index.get(key);
    if (local?.layer) await this.options.inUse?.add([key, local.layer.digest, local.layer.diffId]);
    if (local && (await this.layerPresent(local))) {
      await this.index.touch(local);
      return local;
    }
    const imported = await this.imports.hit(key);
    if (!imported) return undefined;
    if (imported.layer) await this.options.inUse?.add([key, imported.layer.digest, imported.layer.diffId]);
    this.importedHits.add(key);
    return toLocalRecord(imported);
  }

  /** Whether `find` gave the record for `key` from a `--cache-from` cache rather than the local index. */
  wasImported(key: Digest): boolean {
    return this.importedHits.has(key);
  }

  /** Whether `find` would give a record, asked without touching, marking or using one. */
  async has(key: Digest): Promise<boolean> {
    const local = await this.index.get(key);
    if (local && (await this.layerPresent(local))) return true;
    return (await this.imports.peek(key)) !== undefined;
  }

  /** The content key a COPY --from's record names (what the steps after it stand on), if it has one. */
  async resultKey(key: Digest): Promise<Digest | undefined> {
    const local = await this.index.get(key);
    return local ? local.resultKey : (await this.imports.peek(key))?.resultKey;
  }

  /** Imported records the build hit become local ones once their layer is here (else they stay remote). */
  async keepImportedRecords(): Promise<void> {
    for (const r of this.imports.usedRecords()) {
      if (r.layer && !(await this.blobs.has(r.layer.digest))) continue;
      const local = await this.index.get(r.key);
      if (local && (await this.layerPresent(local))) continue;
      await this.index.put(toLocalRecord(r));
    }
  }

  /** A local record is usable when it made no layer or its layer is still in the store (blob or snapshot). */
  private async layerPresent(record: CacheRecord): Promise<boolean> {
    return !record.layer || layerAvailable(this.root, this.blobs, record.layer);
  }
}

function toLocalRecord(r: ExportedRecord): CacheRecord {
  return {
    version: 1,
    key: r.key,
    description: r.description,
    layer: r.layer,
    inputs: r.inputs,
    durationMs: r.durationMs,
    createdAt: r.createdAt,
    lastUsedAt: new Date().toISOString(),
    ...(r.resultKey !== undefined ? { resultKey: r.resultKey } : {}),
  };
}
