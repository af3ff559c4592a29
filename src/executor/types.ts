/**
 * What goes into a build and what comes out of it, and what a stage is while the build runs: the executor's
 * vocabulary, shared by the solver, the image writer and the callers of `build()`.
 */
import type { Platform } from '../platform';
import type { InUseMarker } from '../cache/in-use';
import type { LayerRecord, StoredImage } from '../image/stored-image';
import type { BuildCacheView } from '../cache/transfer/build-export';
import type { ImportStats } from '../cache/transfer/build-imports';
import type { CacheBlobSource, LoadedCache } from '../cache/transfer/types';
import type { EventSink } from '../events';
import type { ImageConfig, ImageManifest } from '../image/oci-types';

import type { Digest } from '../store/digest';
import type { Compression } from '../store/compression';
import type { Isolation } from './sandbox';
import type { StageFs } from './stage-fs';

/** An image the build can start from (from the local store). */
export interface ResolvedImage extends StoredImage {
  /**
   * Where the layers this store lacks are (a base left in its registry by a build that may not need it): fetched
   * from there only when a step or an output needs them, as layers of an imported cache are.
   */
  layerSource?: CacheBlobSource;
}

export interface BuildOptions {
  root: string;
  contextDir: string;
  /**
   * Absolute path of the Dockerfile; with `dockerfileText`, only the name the build is remembered by (its history,
   * what `cache explain` compares), never read.
   */
  dockerfilePath: string;
  /** The Dockerfile as named in messages. */
  dockerfileName: string;
  /**
   * The Dockerfile's bytes when they do not come from `dockerfilePath` (`-f -`, `build - < Dockerfile`, a Dockerfile
   * inside a tar context). No `<Dockerfile>.dockerignore` is looked for then: as with BuildKit, whose Dockerfile
   * from stdin sits alone in a directory of its own.
   */
  dockerfileText?: Buffer;
  /**
   * `contextDir` is a scratch directory this build unpacked a tar context into (or left empty, for a Dockerfile
   * alone on stdin), not a directory of the user's: no `.dockerignore` applies (BuildKit applies none to a context
   * that is not a local directory), and its files' digests are not remembered (the directory goes with the build).
   */
  scratchContext?: boolean;
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  noCache: boolean;
  labels: ReadonlyMap<string, string>;
  compression: Compression;
  /** SOURCE_DATE_EPOCH in seconds. */
  sourceDateEpoch?: number;
  platform?: Platform;
  events: EventSink;
  resolveImage: (normalizedRef: string, platform: Platform) => Promise<ResolvedImage | undefined>;
  /** `--secret` values by id; never written to a layer, a key or the log. */
  secrets?: ReadonlyMap<string, Buffer>;
  /** `--network` for RUN: default (its own namespace, outbound access), none, or host (needs `allowHostNetwork`). */
  network?: 'default' | 'host' | 'none';
  /** `--allow network.host`: RUN may use the host's network. */
  allowHostNetwork?: boolean;
  /** `--isolation` for RUN (default auto: an OCI runtime, runc or crun; chroot is refused). */
  isolation?: Isolation;
  /** This build's in-use marker: what it reads and writes is kept from a concurrent prune. */
  inUse?: InUseMarker;
  /** `--cache-from` caches, read: their records hit like local ones, their blobs are fetched when needed. */
  cacheFrom?: readonly LoadedCache[];
  /** `--cache-to type=inline`: the final image's step records go into its manifest. */
  inlineCache?: boolean;
  /**
   * The outputs can take layers straight from the registry an imported cache is in (a `--push` and nothing else):
   * the final image's layers that stayed in that cache are then not fetched just to write the image.
   */
  layersMayStayRemote?: boolean;
  /** `--context-modes` (default normalize: group/other write bits of context files cleared, whatever the umask). */
  contextModes?: 'normalize' | 'preserve';
}

export interface BuiltImage {
  config: ImageConfig;
  configDigest: Digest;
  configSize: number;
  manifestDigest: Digest;
  manifestSize: number;
  manifest: ImageManifest;
  layers: LayerRecord[];
  steps: number;
  hits: number;
  durationMs: number;
  /** What `--cache-to` exports from this build. */
  cache: BuildCacheView;
  /** What the `--cache-from` caches gave. */
  imported: ImportStats;
}

/** A stage as far as it is built: the key of its filesystem, its config, its layers and a lazy view of its files. */
export interface StageResult {
  key: string;
  config: ImageConfig;
  layers: LayerRecord[];
  fs: () => Promise<StageFs>;
}
