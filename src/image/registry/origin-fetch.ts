/**
 * Fetching a pulled layer's compressed blob again, from the registry it came from (`cache/blob-origins.ts`), for an
 * output that needs its bytes after the collector dropped it (the layer's snapshot is its local copy). Verified
 * against its digest as any download; the blob is then kept like any other until the next collection.
 */
import { mapLimit } from '../../store/map-limit';
import { readBlobOrigin } from '../../store/blob-origins';
import type { BlobStore } from '../../store/blob-store';
import type { Digest } from '../../store/digest';
import { BuildError } from '../../errors';
import {
  isIndexMediaType,
  isManifestMediaType,
  parseIndex,
  parseManifest,
  type Descriptor,
} from '../oci-types';
import type { RegistryClient } from './client';

/** A pulled layer's blob is gone from the store and its registry could not give it again. */
export class OriginFetchError extends BuildError {
  constructor(
    readonly digest: Digest,
    where: string,
    cause: string,
  ) {
    super(
      `layer ${digest} was unpacked and its compressed blob dropped from the store; fetching it again from ` +
        `${where} failed: ${cause}. Pull the image again (tsbuild pull) where that registry is reachable.`,
    );
  }
}

/** Makes one blob local: a no-op when the store has it or no origin is known (the caller then reports it missing). */
export type OriginFetcher = (desc: Descriptor) => Promise<void>;

export function originFetcher(store: BlobStore, client: RegistryClient): OriginFetcher {
  const inFlight = new Map<Digest, Promise<void>>();
  const fetchOne = async (desc: Descriptor): Promise<void> => {
    if (await store.has(desc.digest)) return;
    const origin = await readBlobOrigin(store.root, desc.digest);
    if (origin === undefined) return;
    const where = `${origin.registry}/${origin.repository}`;
    try {
      await client.fetchBlob({ registry: origin.registry, path: origin.repository }, desc, store);
    } catch (err) {
      throw new OriginFetchError(desc.digest, where, err instanceof Error ? err.message : String(err));
    }
  };
  return (desc) => {
    let pending = inFlight.get(desc.digest);
    if (pending === undefined) {
      pending = fetchOne(desc).finally(() => inFlight.delete(desc.digest));
      inFlight.set(desc.digest, pending);
    }
    return pending;
  };
}

/**
 * Make every dropped layer of the image `target` (a manifest, or an index and the manifests of it the store holds)
 * local again, a few at a time, for an output about to read them.
 */
export async function fetchDroppedLayers(
  store: BlobStore,
  target: Descriptor,
  fetch: OriginFetcher,
): Promise<void> {
  const layers: Descriptor[] = [];
  const visit = async (d: Descriptor): Promise<void> => {
    if (!(await store.has(d.digest))) return; // the output reports what is missing
    if (isIndexMediaType(d.mediaType)) {
      for (const child of parseIndex(await store.readAll(d.digest)).manifests) await visit(child);
    } else if (isManifestMediaType(d.mediaType)) {
      layers.push(...parseManifest(await store.readAll(d.digest)).layers);
    }
  };
  await visit(target);
  const PARALLEL = 3;
  await mapLimit(layers, PARALLEL, fetch);
}
