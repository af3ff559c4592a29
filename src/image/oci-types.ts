/**
 * OCI image types (image-spec v1.1) with Docker's config extensions, their media types, and canonical
 * serialisation: fields in the order of the Go structs BuildKit marshals (image-spec `v1.Image`,
 * BuildKit's `dockerspec.DockerOCIImageConfig`, `v1.Manifest`, `v1.Index`, `v1.Descriptor`), with Go's
 * omitempty rules, so our digests are stable and match what Go tooling would write for the same values.
 */
import type { Platform } from '../platform';
import type { Digest } from '../store/digest';
import { isDigest } from '../store/digest';
import type { BlobCompression } from '../store/compression';
import { encodeJson, goMap, struct, type JsonNode, type JsonObject } from './go-json';
import { ImageFormatError } from './errors';

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export const Annotation = {
  refName: 'org.opencontainers.image.ref.name',
  containerdImageName: 'io.containerd.image.name',
  created: 'org.opencontainers.image.created',
} as const;

/** Docker's HEALTHCHECK settings; durations are integer nanoseconds, as Go's time.Duration marshals. */
export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The `config` object: how to run a container from the image. */
export interface RuntimeConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  Healthcheck?: HealthConfig;
  OnBuild?: string[];
  Shell?: string[];
}

export interface HistoryEntry {
  /** RFC 3339 (see `formatTimestamp`). */
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
  config: RuntimeConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
}

/** The platform of an index entry: the ground floor's Platform and the two fields Windows images add. */
export interface DescriptorPlatform extends Platform {
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  /** Base64 embedded content. */
  data?: string;
  platform?: DescriptorPlatform;
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

// ---- omitempty helpers -------------------------------------------------------------------------------

const str = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);
const num = (v: number | undefined): number | undefined => (v === undefined || v === 0 ? undefined : v);
const bool = (v: boolean | undefined): boolean | undefined => (v === true ? true : undefined);
const strs = (v: readonly string[] | undefined): JsonNode | undefined =>
  v === undefined || v.length === 0 ? undefined : v;
const strMap = (v: Readonly<Record<string, string>> | undefined): JsonObject | undefined =>
  v === undefined || Object.keys(v).length === 0 ? undefined : goMap(v, (x) => x);
const setMap = (v: Readonly<Record<string, unknown>> | undefined): JsonObject | undefined =>
  v === undefined || Object.keys(v).length === 0 ? undefined : goMap(v, () => struct([]));

// ---- serialisers ------------------------------------------------------------------------------------

function platformFields(p: DescriptorPlatform): [string, JsonNode | undefined][] {
  return [
    ['architecture', p.architecture],
    ['os', p.os],
    ['os.version', str(p['os.version'])],
    ['os.features', strs(p['os.features'])],
    ['variant', str(p.variant)],
  ];
}

function healthNode(h: HealthConfig): JsonObject {
  return struct([
    ['Test', strs(h.Test)],
    ['Interval', num(h.Interval)],
    ['Timeout', num(h.Timeout)],
    ['StartPeriod', num(h.StartPeriod)],
    ['StartInterval', num(h.StartInterval)],
    ['Retries', num(h.Retries)],
  ]);
}

function runtimeConfigNode(c: RuntimeConfig): JsonObject {
  return struct([
    ['User', str(c.User)],
    ['ExposedPorts', setMap(c.ExposedPorts)],
    ['Env', strs(c.Env)],
    ['Entrypoint', strs(c.Entrypoint)],
    ['Cmd', strs(c.Cmd)],
    ['Volumes', setMap(c.Volumes)],
    ['WorkingDir', str(c.WorkingDir)],
    ['Labels', strMap(c.Labels)],
    ['StopSignal', str(c.StopSignal)],
    ['ArgsEscaped', bool(c.ArgsEscaped)],
    ['Healthcheck', c.Healthcheck === undefined ? undefined : healthNode(c.Healthcheck)],
    ['OnBuild', strs(c.OnBuild)],
    ['Shell', strs(c.Shell)],
  ]);
}

function historyNode(h: HistoryEntry): JsonObject {
  return struct([
    ['created', str(h.created)],
    ['created_by', str(h.created_by)],
    ['author', str(h.author)],
    ['comment', str(h.comment)],
    ['empty_layer', bool(h.empty_layer)],
  ]);
}

export function imageConfigNode(c: ImageConfig): JsonObject {
  return struct([
    ['created', str(c.created)],
    ['author', str(c.author)],
    ...platformFields(c),
    ['config', runtimeConfigNode(c.config)],
    [
      'rootfs',
      struct([
        ['type', c.rootfs.type],
        ['diff_ids', c.rootfs.diff_ids],
      ]),
    ],
    ['history', c.history === undefined || c.history.length === 0 ? undefined : c.history.map(historyNode)],
  ]);
}

export function descriptorNode(d: Descriptor): JsonObject {
  return struct([
    ['mediaType', d.mediaType],
    ['digest', d.digest],
    ['size', d.size],
    ['urls', strs(d.urls)],
    ['annotations', strMap(d.annotations)],
    ['data', str(d.data)],
    ['platform', d.platform === undefined ? undefined : struct(platformFields(d.platform))],
    ['artifactType', str(d.artifactType)],
  ]);
}

export function manifestNode(m: ImageManifest): JsonObject {
  return struct([
    ['schemaVersion', m.schemaVersion],
    ['mediaType', str(m.mediaType)],
    ['artifactType', str(m.artifactType)],
    ['config', descriptorNode(m.config)],
    ['layers', m.layers.map(descriptorNode)],
    ['subject', m.subject === undefined ? undefined : descriptorNode(m.subject)],
    ['annotations', strMap(m.annotations)],
  ]);
}

export function indexNode(i: ImageIndex): JsonObject {
  return struct([
    ['schemaVersion', i.schemaVersion],
    ['mediaType', str(i.mediaType)],
    ['artifactType', str(i.artifactType)],
    ['manifests', i.manifests.map(descriptorNode)],
    ['subject', i.subject === undefined ? undefined : descriptorNode(i.subject)],
    ['annotations', strMap(i.annotations)],
  ]);
}

export const serializeImageConfig = (c: ImageConfig): string => encodeJson(imageConfigNode(c));
export const serializeManifest = (m: ImageManifest): string => encodeJson(manifestNode(m));
export const serializeIndex = (i: ImageIndex): string => encodeJson(indexNode(i));
export const serializeDescriptor = (d: Descriptor): string => encodeJson(descriptorNode(d));

/** Go's RFC3339Nano in UTC: `2024-01-02T03:04:05Z`, fraction only when non-zero, trailing zeros dropped. */
export function formatTimestamp(t: Date | number): string {
  const date = typeof t === 'number' ? new Date(t * 1000) : t;
  return date.toISOString().replace(/\.(\d*?)0*Z$/, (_m, frac: string) => (frac === '' ? 'Z' : `.${frac}Z`));
}

// ---- media types ------------------------------------------------------------------------------------

export function layerMediaType(compression: BlobCompression, flavour: 'oci' | 'docker' = 'oci'): string {
  if (flavour === 'docker') {
    if (compression === 'zstd')
      throw new ImageFormatError('Docker v2 manifests cannot carry zstd layers; use OCI');
    return compression === 'gzip' ? MediaType.dockerLayerGzip : MediaType.dockerLayer;
  }
  if (compression === 'gzip') return MediaType.ociLayerGzip;
  return compression === 'zstd' ? MediaType.ociLayerZstd : MediaType.ociLayer;
}

/** The compression a layer media type declares; undefined for media types that are not layers. */
export function layerCompression(mediaType: string): BlobCompression | undefined {
  switch (mediaType) {
    case MediaType.ociLayer:
    case MediaType.dockerLayer:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar':
      return 'none';
    case MediaType.ociLayerGzip:
    case MediaType.dockerLayerGzip:
    case MediaType.dockerForeignLayerGzip:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip':
      return 'gzip';
    case MediaType.ociLayerZstd:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd':
      return 'zstd';
    default:
      return undefined;
  }
}

export const isManifestMediaType = (t: string | undefined): boolean =>
  t === MediaType.ociManifest || t === MediaType.dockerManifest;
export const isIndexMediaType = (t: string | undefined): boolean =>
  t === MediaType.ociIndex || t === MediaType.dockerManifestList;

// ---- parsers ----------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function parseObject(data: Uint8Array | string, what: string): Obj {
  let v: unknown;
  try {
    v = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
  } catch (err) {
    throw new ImageFormatError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObj(v)) throw new ImageFormatError(`${what} is not a JSON object`);
  return v;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function optString(o: Obj, key: string, what: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ImageFormatError(`${what}: ${key} must be a string`);
  return v;
}

function reqString(o: Obj, key: string, what: string): string {
  const v = optString(o, key, what);
  if (v === undefined) throw new ImageFormatError(`${what}: ${key} is missing`);
  return v;
}

function optStrings(o: Obj, key: string, what: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new ImageFormatError(`${what}: ${key} must be an array of strings`);
  }
  return v as string[];
}

function optNumber(o: Obj, key: string, what: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw new ImageFormatError(`${what}: ${key} must be a number`);
  return v;
}

function optBool(o: Obj, key: string, what: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ImageFormatError(`${what}: ${key} must be a boolean`);
  return v;
}

function optStringMap(o: Obj, key: string, what: string): Record<string, string> | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw new ImageFormatError(`${what}: ${key} must be an object of strings`);
  }
  return { ...(v as Record<string, string>) };
}

function optSet(o: Obj, key: string, what: string): Record<string, Record<string, never>> | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new ImageFormatError(`${what}: ${key} must be an object`);
  return Object.fromEntries(Object.keys(v).map((k) => [k, {}]));
}

function digestOf(o: Obj, key: string, what: string): Digest {
  const v = reqString(o, key, what);
  if (!isDigest(v)) throw new ImageFormatError(`${what}: ${key} ${JSON.stringify(v)} is not a sha256 digest`);
  return v;
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function parsePlatform(o: Obj, what: string): DescriptorPlatform {
  return dropUndefined({
    architecture: reqString(o, 'architecture', what),
    os: reqString(o, 'os', what),
    'os.version': optString(o, 'os.version', what),
    'os.features': optStrings(o, 'os.features', what),
    variant: optString(o, 'variant', what),
  });
}

export function parseDescriptor(v: unknown, what = 'descriptor'): Descriptor {
  if (!isObj(v)) throw new ImageFormatError(`${what} is not an object`);
  const size = optNumber(v, 'size', what);
  if (size === undefined || !Number.isSafeInteger(size) || size < 0) {
    throw new ImageFormatError(`${what}: size must be a non-negative integer`);
  }
  const platform = v.platform;
  return dropUndefined({
    mediaType: reqString(v, 'mediaType', what),
    digest: digestOf(v, 'digest', what),
    size,
    urls: optStrings(v, 'urls', what),
    annotations: optStringMap(v, 'annotations', what),
    data: optString(v, 'data', what),
    platform: isObj(platform) ? parsePlatform(platform, `${what} platform`) : undefined,
    artifactType: optString(v, 'artifactType', what),
  });
}

export function parseImageConfig(data: Uint8Array | string): ImageConfig {
  const what = 'image config';
  const o = parseObject(data, what);
  const c = isObj(o.config) ? o.config : {};
  const h = c.Healthcheck;
  const rootfs = o.rootfs;
  if (!isObj(rootfs)) throw new ImageFormatError(`${what}: rootfs is missing`);
  const diffIds = rootfs.diff_ids ?? [];
  if (!Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string' && isDigest(d))) {
    throw new ImageFormatError(`${what}: rootfs.diff_ids must be an array of sha256 digests`);
  }
  const history = o.history ?? undefined;
  if (history !== undefined && history !== null && (!Array.isArray(history) || !history.every(isObj))) {
    throw new ImageFormatError(`${what}: history must be an array of objects`);
  }
  const cw = `${what} config`;
  return dropUndefined({
    created: optString(o, 'created', what),
    author: optString(o, 'author', what),
    ...parsePlatform(o, what),
    config: dropUndefined({
      User: optString(c, 'User', cw),
      ExposedPorts: optSet(c, 'ExposedPorts', cw),
      Env: optStrings(c, 'Env', cw),
      Entrypoint: optStrings(c, 'Entrypoint', cw),
      Cmd: optStrings(c, 'Cmd', cw),
      Volumes: optSet(c, 'Volumes', cw),
      WorkingDir: optString(c, 'WorkingDir', cw),
      Labels: optStringMap(c, 'Labels', cw),
      StopSignal: optString(c, 'StopSignal', cw),
      ArgsEscaped: optBool(c, 'ArgsEscaped', cw),
      Healthcheck: isObj(h)
        ? dropUndefined({
            Test: optStrings(h, 'Test', 'Healthcheck'),
            Interval: optNumber(h, 'Interval', 'Healthcheck'),
            Timeout: optNumber(h, 'Timeout', 'Healthcheck'),
            StartPeriod: optNumber(h, 'StartPeriod', 'Healthcheck'),
            StartInterval: optNumber(h, 'StartInterval', 'Healthcheck'),
            Retries: optNumber(h, 'Retries', 'Healthcheck'),
          })
        : undefined,
      OnBuild: optStrings(c, 'OnBuild', cw),
      Shell: optStrings(c, 'Shell', cw),
    }),
    rootfs: { type: 'layers', diff_ids: diffIds as Digest[] },
    history: Array.isArray(history)
      ? (history as Obj[]).map((e) =>
          dropUndefined({
            created: optString(e, 'created', 'history'),
            created_by: optString(e, 'created_by', 'history'),
            author: optString(e, 'author', 'history'),
            comment: optString(e, 'comment', 'history'),
            empty_layer: optBool(e, 'empty_layer', 'history'),
          }),
        )
      : undefined,
  });
}

export function parseManifest(data: Uint8Array | string): ImageManifest {
  const what = 'image manifest';
  const o = parseObject(data, what);
  if (o.schemaVersion !== 2) throw new ImageFormatError(`${what}: schemaVersion must be 2`);
  const mediaType = optString(o, 'mediaType', what);
  if (mediaType !== undefined && !isManifestMediaType(mediaType)) {
    throw new ImageFormatError(`${what}: unexpected mediaType ${mediaType}`);
  }
  if (!Array.isArray(o.layers)) throw new ImageFormatError(`${what}: layers must be an array`);
  return dropUndefined({
    schemaVersion: 2 as const,
    mediaType,
    artifactType: optString(o, 'artifactType', what),
    config: parseDescriptor(o.config, `${what} config`),
    layers: o.layers.map((l, i) => parseDescriptor(l, `${what} layer ${i}`)),
    subject: o.subject === undefined ? undefined : parseDescriptor(o.subject, `${what} subject`),
    annotations: optStringMap(o, 'annotations', what),
  });
}

export function parseIndex(data: Uint8Array | string): ImageIndex {
  const what = 'image index';
  const o = parseObject(data, what);
  if (o.schemaVersion !== 2) throw new ImageFormatError(`${what}: schemaVersion must be 2`);
  const mediaType = optString(o, 'mediaType', what);
  if (mediaType !== undefined && !isIndexMediaType(mediaType)) {
    throw new ImageFormatError(`${what}: unexpected mediaType ${mediaType}`);
  }
  if (!Array.isArray(o.manifests)) throw new ImageFormatError(`${what}: manifests must be an array`);
  return dropUndefined({
    schemaVersion: 2 as const,
    mediaType,
    artifactType: optString(o, 'artifactType', what),
    manifests: o.manifests.map((m, i) => parseDescriptor(m, `${what} manifest ${i}`)),
    subject: o.subject === undefined ? undefined : parseDescriptor(o.subject, `${what} subject`),
    annotations: optStringMap(o, 'annotations', what),
  });
}

/** The `mediaType` a JSON manifest or index declares about itself, if any. */
export function declaredMediaType(data: Uint8Array | string): string | undefined {
  return optString(parseObject(data, 'manifest'), 'mediaType', 'manifest');
}
