/**
 * Where an exported cache lives and how its blobs are reached: `--cache-to` / `--cache-from` specs, and the
 * handle a build uses to fetch an imported blob only when a step needs it (lazy import).
 */
import type { BlobStore } from '../../store/blob-store';
import type { Descriptor } from '../../image/oci-types';
import type { Repository } from '../../image/registry/client';
import type { CacheConfig } from './format';

export type CacheLocation =
  /** An OCI layout directory; `tag` is the `org.opencontainers.image.ref.name` of the cache manifest. */
  | { type: 'local'; dir: string; tag: string }
  /** A registry reference (`host/repo:tag`): a cache artifact, or an image with an inline cache. */
  | { type: 'registry'; ref: string }
  /** Inside the built image's own manifest (`--cache-to` only). */
  | { type: 'inline' };

export interface CacheToSpec {
  location: CacheLocation;
  mode: 'max' | 'min';
  /** Export RUN cache mount directories too. */
  cacheMounts: boolean;
  /** `ignore-error=true`: a failed export is a warning, not a failed build (as in BuildKit). */
  ignoreError?: boolean;
}

/** Where the blobs of an imported cache come from. */
export interface CacheBlobSource {
  /** For messages: `cache directory /ci/cache`, `registry cache 127.0.0.1:5000/app:cache`. */
  label: string;
  /** For a registry cache: where its blobs are, so a push to the same registry can mount them instead. */
  repository?: Repository;
  /** Copy one blob into the store, verified against its digest and size (a no-op when the store has it). */
  fetch(desc: Descriptor, store: BlobStore): Promise<void>;
}

/** One `--cache-from`, read: its records and where to get their blobs. */
export interface LoadedCache {
  config: CacheConfig;
  source: CacheBlobSource;
}

/** Makes a blob the export needs present in the local store (fetching a lazily imported one if need be). */
export type EnsureLocalBlob = (desc: Descriptor) => Promise<void>;
