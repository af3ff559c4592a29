/**
 * The exported cache as an OCI artifact: one image manifest (not an index, so registries that refuse unknown index
 * types accept it) whose config is the list of cache records and whose layers are every blob those records need —
 * the step layers, the layers' file listings (so a later step can plan a COPY without fetching a layer it will not
 * otherwise need), and, on request, archives of RUN cache mounts. The same manifest sits in an OCI layout directory
 * (`type=local`) or under a tag in a registry (`type=registry`).
 */
import { isLoggedBuild, MAX_CARRIED_BUILDS, type LoggedBuild } from '../build-log';
import type { Digest } from '../../store/digest';
import { isDigest, sha256Digest } from '../../store/digest';
import { isStepInputs, type StepInputs } from '../step-key';
import type { LayerRecord } from '../../image/stored-image';
import {
  MediaType,
  parseManifest,
  serializeManifest,
  type Descriptor,
  type ImageManifest,
} from '../../image/oci-types';
import { CacheFormatError } from './errors';

export const CACHE_ARTIFACT_TYPE = 'application/vnd.tsbuild.cache.v1';
export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.tsbuild.cache.config.v1+json';
/** A layer's entries (the JSON of `listings/<diff_id>.json`). */
export const LISTING_MEDIA_TYPE = 'application/vnd.tsbuild.layer-listing.v1+json';
/** A RUN cache mount directory, as a gzip-compressed tar. */
export const CACHE_MOUNT_MEDIA_TYPE = 'application/vnd.tsbuild.cache-mount.v1.tar+gzip';
/** The file inputs of a COPY step (the canonical JSON its key hashed), for naming changed files on a miss. */
export const FILE_INPUTS_MEDIA_TYPE = 'application/vnd.tsbuild.file-inputs.v1+json';
/** Manifest annotation for `--cache-to type=inline`: the records of the image's own steps. */
export const INLINE_CACHE_ANNOTATION = 'dev.tsbuild.cache.v1';

export interface BlobRef {
  digest: Digest;
  size: number;
}

/** A cache record as exported: what a hit needs, without the local `lastUsedAt`. */
export interface ExportedRecord {
  key: Digest;
  description: string;
  layer: LayerRecord | null;
  /** The layer's file listing, when exported (lets a later step plan without the layer itself). */
  listing?: BlobRef;
  inputs: StepInputs;
  durationMs: number;
  createdAt: string;
  /** As in the local record: the content key of a `COPY --from`, what later steps stand on. */
  resultKey?: Digest;
}

export interface ExportedCacheMount {
  /** The cache id (`RUN --mount=type=cache,id=…`, default the target path). */
  id: string;
  archive: BlobRef;
}

/**
 * The exporting build's steps by position, with their inputs: a fresh machine has no build of its own to compare
 * with, so a miss there is explained against the build that wrote the cache ("src/a.ts changed", not "first build").
 */
export interface ExportedHistory {
  /** The target stage's name as the build log shows it. */
  target: string;
  steps: { position: string; key: Digest; inputs: StepInputs }[];
  /** The file-input listings the steps' `filesDigest` name. */
  files: BlobRef[];
}

export interface CacheConfig {
  version: 1;
  /** `max`: every step of every built stage; `min`: the final image's steps only. */
  mode: 'max' | 'min';
  records: ExportedRecord[];
  cacheMounts: ExportedCacheMount[];
  history?: ExportedHistory;
  /** The latest builds of the Dockerfile (bounded), so a fresh machine's `cache report` covers those before it. */
  builds?: LoggedBuild[];
}

/** The config blob's bytes: stable key order so the same cache exports to the same digest. */
export function serializeCacheConfig(config: CacheConfig): string {
  return JSON.stringify(config);
}

export function parseCacheConfig(bytes: Uint8Array | string, where: string): CacheConfig {
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new CacheFormatError(`${where}: the cache config is not JSON`);
  }
  const o = value as Partial<CacheConfig> | null;
  if (!o || typeof o !== 'object' || o.version !== 1 || !Array.isArray(o.records)) {
    throw new CacheFormatError(`${where}: not a tsbuild cache (version 1) config`);
  }
  for (const r of o.records) {
    if (!r || typeof r.key !== 'string' || !isDigest(r.key)) {
      throw new CacheFormatError(`${where}: a cache record has no valid key`);
    }
    if (
      r.layer !== null &&
      (typeof r.layer !== 'object' || !isDigest(r.layer.digest) || !isDigest(r.layer.diffId))
    ) {
      throw new CacheFormatError(`${where}: record ${r.key} has an invalid layer`);
    }
    if (r.resultKey !== undefined && (typeof r.resultKey !== 'string' || !isDigest(r.resultKey))) {
      throw new CacheFormatError(`${where}: record ${r.key} has an invalid result key`);
    }
    if (!isStepInputs(r.inputs)) {
      throw new CacheFormatError(`${where}: record ${r.key} has no valid key inputs`);
    }
  }
  return {
    version: 1,
    mode: o.mode === 'min' ? 'min' : 'max',
    records: o.records,
    cacheMounts: Array.isArray(o.cacheMounts) ? o.cacheMounts : [],
    ...(isHistory(o.history) ? { history: o.history } : {}),
    // A damaged build record costs only a line of a report: it is dropped, never fails the import.
    ...(Array.isArray(o.builds) ? { builds: o.builds.filter(isLoggedBuild).slice(-MAX_CARRIED_BUILDS) } : {}),
  };
}

/** Every blob the config names, deduplicated, in a stable order: layers, listings, cache mounts. */
export function cacheBlobDescriptors(config: CacheConfig): Descriptor[] {
  const out = new Map<Digest, Descriptor>();
  for (const r of config.records) {
    if (r.layer && !out.has(r.layer.digest)) {
      out.set(r.layer.digest, { mediaType: r.layer.mediaType, digest: r.layer.digest, size: r.layer.size });
    }
  }
  for (const r of config.records) {
    if (r.listing && !out.has(r.listing.digest)) {
      out.set(r.listing.digest, { mediaType: LISTING_MEDIA_TYPE, ...r.listing });
    }
  }
  for (const f of config.history?.files ?? []) {
    if (!out.has(f.digest)) out.set(f.digest, { mediaType: FILE_INPUTS_MEDIA_TYPE, ...f });
  }
  for (const m of config.cacheMounts) {
    if (!out.has(m.archive.digest))
      out.set(m.archive.digest, { mediaType: CACHE_MOUNT_MEDIA_TYPE, ...m.archive });
  }
  return [...out.values()];
}

/** The artifact manifest for a config blob already written (`configBytes` is what `serializeCacheConfig` gave). */
export function cacheManifest(
  config: CacheConfig,
  configBytes: string,
): { manifest: ImageManifest; bytes: string } {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: CACHE_ARTIFACT_TYPE,
    config: {
      mediaType: CACHE_CONFIG_MEDIA_TYPE,
      digest: sha256Digest(configBytes),
      size: Buffer.byteLength(configBytes),
    },
    layers: cacheBlobDescriptors(config),
  };
  return { manifest, bytes: serializeManifest(manifest) };
}

/** Whether a manifest is a tsbuild cache artifact (else it may be an image carrying an inline cache). */
export function isCacheManifest(manifest: ImageManifest): boolean {
  return (
    manifest.artifactType === CACHE_ARTIFACT_TYPE || manifest.config.mediaType === CACHE_CONFIG_MEDIA_TYPE
  );
}

export function parseCacheManifest(bytes: Uint8Array | string): ImageManifest {
  return parseManifest(bytes);
}

/** A damaged history only costs explanations: it is dropped rather than failing the import. */
function isHistory(h: unknown): h is ExportedHistory {
  const o = h as Partial<ExportedHistory> | null | undefined;
  return (
    !!o &&
    typeof o.target === 'string' &&
    Array.isArray(o.steps) &&
    o.steps.every(
      (s) => s && typeof s.position === 'string' && typeof s.key === 'string' && isStepInputs(s.inputs),
    ) &&
    Array.isArray(o.files) &&
    o.files.every((f) => f && isDigest(f.digest) && Number.isInteger(f.size))
  );
}
