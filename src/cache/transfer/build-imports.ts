/**
 * What `--cache-from` brought into a build: the imported cache records by key, and where their blobs are. Import
 * is lazy: a hit on an imported record fetches nothing; a layer is fetched only when the final image or a later step
 * needs it (a RUN on top of it, a COPY --from it, a user lookup in it), and a later COPY that only needs to know what
 * a layer holds gets the layer's small file listing instead of the layer.
 */
import type { BlobStore } from '../../store/blob-store';
import type { Digest } from '../../store/digest';
import type { LayerRecord } from '../../image/stored-image';
import { layerAvailable } from '../../store/snapshot-layers';
import type { BlobRef, ExportedRecord, ExportedCacheMount } from './format';
import {
  CACHE_MOUNT_MEDIA_TYPE,
  FILE_INPUTS_MEDIA_TYPE,
  LISTING_MEDIA_TYPE,
  type ExportedHistory,
} from './format';
import type { CacheBlobSource, LoadedCache } from './types';
import { BuildError, TsbuildError } from '../../errors';
import type { Descriptor } from '../../image/oci-types';
import { hasListing, installListing } from '../../layers/listing';

interface RemoteBlob {
  desc: Descriptor;
  source: CacheBlobSource;
}

export interface ImportStats {
  /** Records offered by the `--cache-from` caches. */
  records: number;
  /** Steps that hit on an imported record. */
  hits: number;
  /** Blobs fetched from the caches, and their bytes. */
  fetched: number;
  fetchedBytes: number;
}

export class CacheImports {
  private readonly records = new Map<Digest, ExportedRecord>();
  private readonly remote = new Map<Digest, RemoteBlob>();
  /** Listing blobs by the diff_id of the layer they describe. */
  private readonly listings = new Map<Digest, RemoteBlob>();
  /** Cache mount archives by id (their blobs are in `remote`). */
  private readonly mounts = new Map<string, BlobRef>();
  private readonly fetches = new Map<Digest, Promise<void>>();
  private readonly used = new Map<Digest, ExportedRecord>();
  private readonly histories: ExportedHistory[] = [];
  /** Why a blob an imported cache offered could not be fetched (the first such failure), if one could not. */
  failure: string | undefined;
  private fetched = 0;
  private fetchedBytes = 0;

  constructor(
    private readonly root: string,
    private readonly store: BlobStore,
    caches: readonly LoadedCache[],
    /** Told before a blob is fetched, so a concurrent prune keeps it. */
    private readonly protect: (digests: Digest[]) => Promise<void> = async () => undefined,
  ) {
    // The first cache that has a key wins, as with several `--cache-from` in docker.
    for (const { config, source } of caches) {
      for (const r of config.records) {
        if (this.records.has(r.key)) continue;
        this.records.set(r.key, r);
        if (r.layer && !this.remote.has(r.layer.digest)) {
          const { mediaType, digest, size } = r.layer;
          this.remote.set(digest, { desc: { mediaType, digest, size }, source });
        }
        if (r.layer && r.listing && !this.listings.has(r.layer.diffId)) {
          const listing = { desc: { mediaType: LISTING_MEDIA_TYPE, ...r.listing }, source };
          this.listings.set(r.layer.diffId, listing);
          if (!this.remote.has(r.listing.digest)) this.remote.set(r.listing.digest, listing);
        }
      }
      if (config.history) {
        this.histories.push(config.history);
        for (const f of config.history.files) {
          if (!this.remote.has(f.digest)) {
            this.remote.set(f.digest, { desc: { mediaType: FILE_INPUTS_MEDIA_TYPE, ...f }, source });
          }
        }
      }
      for (const m of config.cacheMounts) {
        if (this.mounts.has(m.id)) continue;
        this.mounts.set(m.id, m.archive);
        // Fetchable like any other imported blob: a re-export passes on the archive of a mount no step here used.
        if (!this.remote.has(m.archive.digest)) {
          this.remote.set(m.archive.digest, {
            desc: { mediaType: CACHE_MOUNT_MEDIA_TYPE, ...m.archive },
            source,
          });
        }
      }
    }
  }

  /** An imported record usable for `key`: its layer is local or can be fetched. */
  async hit(key: Digest): Promise<ExportedRecord | undefined> {
    const r = await this.peek(key);
    if (r) this.used.set(key, r);
    return r;
  }

  /** As `hit`, without counting it as used (a question asked before deciding what to build). */
  async peek(key: Digest): Promise<ExportedRecord | undefined> {
    const r = this.records.get(key);
    if (!r) return undefined;
    if (r.layer && !this.remote.has(r.layer.digest) && !(await this.store.has(r.layer.digest))) {
      return undefined;
    }
    return r;
  }

  /** The imported records this build hit, to be kept in the local index once their layers are local. */
  usedRecords(): ExportedRecord[] {
    return [...this.used.values()];
  }

  /** The exporting build's steps for a target, to explain misses when this machine has no build of its own. */
  history(target: string): ExportedHistory['steps'] | undefined {
    return this.histories.find((h) => h.target === target)?.steps;
  }

  /**
   * Layers of a base image that stayed in their registry: fetched like imported layers, only when needed (a layer
   * already offered, or here as a blob or a snapshot, is left as it is).
   */
  async offerLayers(layers: readonly LayerRecord[], source: CacheBlobSource): Promise<void> {
    for (const layer of layers) {
      const { digest, size, mediaType } = layer;
      if (this.remote.has(digest) || (await layerAvailable(this.root, this.store, layer))) continue;
      this.remote.set(digest, { desc: { mediaType, digest, size }, source });
    }
  }

  /** Whether an imported cache can provide this blob. */
  offers(digest: Digest): boolean {
    return this.remote.has(digest);
  }

  /**
   * For a push to `registry` (a host as references name it): the repositories there that an imported registry
   * cache keeps a blob in, to mount it from instead of fetching and uploading it.
   */
  mountSourcesOn(registry: string): (digest: Digest) => string[] {
    return (digest) => {
      const from = this.remote.get(digest)?.source.repository;
      return from !== undefined && from.registry === registry ? [from.path] : [];
    };
  }

  /** Makes the layers local, fetching the imported ones the store lacks. */
  async ensureLayers(layers: readonly LayerRecord[]): Promise<void> {
    await Promise.all(layers.map((l) => this.ensureBlob(l.digest)));
  }

  /** Makes one blob local if an imported cache has it; a no-op for blobs no cache offers. */
  ensureBlob(digest: Digest): Promise<void> {
    const remote = this.remote.get(digest);
    if (!remote) return Promise.resolve();
    let fetch = this.fetches.get(digest);
    if (!fetch) {
      fetch = this.fetch(remote);
      this.fetches.set(digest, fetch);
    }
    return fetch;
  }

  /**
   * Installs an imported file listing for a layer that is not local, so the stage's filesystem view can be planned
   * without the layer. False when there is nothing to install (the caller then needs the layer itself).
   */
  async provideListing(layer: LayerRecord): Promise<boolean> {
    if (await hasListing(this.root, layer.diffId)) return true;
    if (await this.store.has(layer.digest)) return false;
    const remote = this.listings.get(layer.diffId);
    if (!remote) return false;
    await this.ensureBlob(remote.desc.digest);
    await installListing(this.root, layer.diffId, await this.store.readAll(remote.desc.digest));
    return true;
  }

  /** The imported listing blob of a layer, if a cache offered one (re-exported as is when the layer stays remote). */
  listingRef(diffId: Digest): BlobRef | undefined {
    const remote = this.listings.get(diffId);
    return remote && { digest: remote.desc.digest, size: remote.desc.size };
  }

  /** The cache mount archive an imported cache holds for `id`, with a fetcher. */
  cacheMount(id: string): (ExportedCacheMount & { fetch: () => Promise<void> }) | undefined {
    const archive = this.mounts.get(id);
    if (!archive) return undefined;
    // The archive is an imported blob like any other: fetched (once) the same way.
    return { id, archive, fetch: () => this.ensureBlob(archive.digest) };
  }

  stats(): ImportStats {
    return {
      records: this.records.size,
      hits: this.used.size,
      fetched: this.fetched,
      fetchedBytes: this.fetchedBytes,
    };
  }

  private async fetch(remote: RemoteBlob): Promise<void> {
    await this.protect([remote.desc.digest]);
    await this.fetchFrom(remote);
  }

  private async fetchFrom(remote: RemoteBlob): Promise<void> {
    if (await this.store.has(remote.desc.digest)) return;
    try {
      await remote.source.fetch(remote.desc, this.store);
    } catch (err) {
      const why = err instanceof TsbuildError || err instanceof Error ? err.message : String(err);
      const message = `cannot fetch ${remote.desc.digest} from ${remote.source.label}: ${why}`;
      this.failure ??= message;
      throw new BuildError(message);
    }
    this.fetched++;
    this.fetchedBytes += remote.desc.size;
  }
}
