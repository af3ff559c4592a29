import { encodeJson, goMap, struct } from '../../src/image/go-json';
import { ImageFormatError } from '../../src/image/errors';
import {
  MediaType,
  formatTimestamp,
  layerCompression,
  layerMediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
  serializeImageConfig,
  serializeIndex,
  serializeManifest,
  type ImageConfig,
  type ImageManifest,
} from '../../src/image/oci-types';

const D1 = `sha256:${'1'.repeat(64)}` as const;
const D2 = `sha256:${'2'.repeat(64)}` as const;

describe('canonical JSON', () => {
  it('escapes strings as Go encoding/json does', () => {
    expect(encodeJson('<a&b>\u2028\u2029\b\f\n\r\t\u0001"\\é😀')).toBe(
      '"\\u003ca\\u0026b\\u003e\\u2028\\u2029\\b\\f\\n\\r\\t\\u0001\\"\\\\é😀"',
    );
    expect(encodeJson('\ud800x')).toBe('"\ufffdx"');
  });

  it('sorts map keys by bytes (JS would put integer-like keys first)', () => {
    const node = goMap({ b: 1, '10': 2, '9': 3, a: 4, Z: 5, é: 6 }, (v) => v);
    expect(encodeJson(node)).toBe('{"10":2,"9":3,"Z":5,"a":4,"b":1,"é":6}');
  });

  it('keeps struct field order and drops undefined fields', () => {
    expect(
      encodeJson(
        struct([
          ['z', 1],
          ['a', undefined],
          ['m', [true, null]],
        ]),
      ),
    ).toBe('{"z":1,"m":[true,null]}');
  });
});

describe('OCI types', () => {
  const config: ImageConfig = {
    created: '2023-11-14T22:13:20Z',
    architecture: 'arm64',
    variant: 'v8',
    os: 'linux',
    config: {
      Shell: ['/bin/sh', '-c'],
      Labels: { '9': 'nine', '10': 'ten', 'a<b': 'x&y' },
      Cmd: ['run'],
      User: '1000',
      ExposedPorts: { '80/tcp': {}, '443/tcp': {} },
      Env: ['A=1'],
      Entrypoint: [],
      WorkingDir: '',
      Healthcheck: { Test: ['CMD', 'true'], Interval: 30_000_000_000, Retries: 3 },
      StopSignal: 'SIGTERM',
      ArgsEscaped: false,
      OnBuild: ['RUN echo hi'],
      Volumes: { '/data': {} },
    },
    rootfs: { type: 'layers', diff_ids: [D1, D2] },
    history: [
      { created_by: 'RUN x', empty_layer: false },
      { created_by: 'CMD', empty_layer: true, comment: 'c' },
    ],
  };

  it('serialises a config in Go struct order with omitempty', () => {
    expect(serializeImageConfig(config)).toBe(
      '{"created":"2023-11-14T22:13:20Z","architecture":"arm64","os":"linux","variant":"v8",' +
        '"config":{"User":"1000","ExposedPorts":{"443/tcp":{},"80/tcp":{}},"Env":["A=1"],"Cmd":["run"],' +
        '"Volumes":{"/data":{}},"Labels":{"10":"ten","9":"nine","a\\u003cb":"x\\u0026y"},"StopSignal":"SIGTERM",' +
        '"Healthcheck":{"Test":["CMD","true"],"Interval":30000000000,"Retries":3},"OnBuild":["RUN echo hi"],' +
        '"Shell":["/bin/sh","-c"]},' +
        `"rootfs":{"type":"layers","diff_ids":["${D1}","${D2}"]},` +
        '"history":[{"created_by":"RUN x"},{"created_by":"CMD","comment":"c","empty_layer":true}]}',
    );
  });

  it('always writes config, rootfs.diff_ids and manifest layers, even empty', () => {
    const empty: ImageConfig = {
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [] },
    };
    expect(serializeImageConfig(empty)).toBe(
      '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}',
    );
    const m: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: D1, size: 2 },
      layers: [],
    };
    expect(serializeManifest(m)).toBe(
      `{"schemaVersion":2,"mediaType":"${MediaType.ociManifest}","config":{"mediaType":"${MediaType.ociConfig}",` +
        `"digest":"${D1}","size":2},"layers":[]}`,
    );
  });

  it('round-trips through the parsers', () => {
    const parsed = parseImageConfig(serializeImageConfig(config));
    expect(serializeImageConfig(parsed)).toBe(serializeImageConfig(config));
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: D1, size: 10 },
      layers: [{ mediaType: MediaType.ociLayerGzip, digest: D2, size: 20, annotations: { k: 'v' } }],
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
    };
    expect(parseManifest(serializeManifest(manifest))).toEqual(manifest);
    const index = {
      schemaVersion: 2 as const,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          ...manifest.config,
          mediaType: MediaType.ociManifest,
          platform: { architecture: 'amd64', os: 'linux' },
        },
      ],
    };
    expect(serializeIndex(index)).toBe(
      `{"schemaVersion":2,"mediaType":"${MediaType.ociIndex}","manifests":[{"mediaType":"${MediaType.ociManifest}",` +
        `"digest":"${D1}","size":10,"platform":{"architecture":"amd64","os":"linux"}}]}`,
    );
    expect(parseIndex(serializeIndex(index))).toEqual(index);
  });

  it('reads real-world configs with unknown fields and nulls', () => {
    const dockerish = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      docker_version: '20.10.7',
      container_config: { Hostname: 'x' },
      config: { Env: null, Cmd: ['sh'], Labels: null, Image: 'sha256:abc' },
      rootfs: { type: 'layers', diff_ids: [D1] },
    });
    const c = parseImageConfig(dockerish);
    expect(c.config).toEqual({ Cmd: ['sh'] });
    expect(serializeImageConfig(c)).toBe(
      `{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["${D1}"]}}`,
    );
  });

  it('rejects malformed documents with ImageFormatError', () => {
    expect(() => parseImageConfig('not json')).toThrow(ImageFormatError);
    expect(() => parseImageConfig('{"architecture":"amd64","os":"linux"}')).toThrow(/rootfs/);
    expect(() =>
      parseImageConfig(
        '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["md5:x"]}}',
      ),
    ).toThrow(ImageFormatError);
    expect(() => parseManifest('{"schemaVersion":1}')).toThrow(ImageFormatError);
    expect(() =>
      parseManifest(`{"schemaVersion":2,"config":{"mediaType":"x","digest":"${D1}","size":-1},"layers":[]}`),
    ).toThrow(/size/);
    expect(() =>
      parseIndex(`{"schemaVersion":2,"mediaType":"${MediaType.ociManifest}","manifests":[]}`),
    ).toThrow(ImageFormatError);
  });

  it('formats timestamps as Go RFC3339Nano', () => {
    expect(formatTimestamp(0)).toBe('1970-01-01T00:00:00Z');
    expect(formatTimestamp(1700000000.5)).toBe('2023-11-14T22:13:20.5Z');
    expect(formatTimestamp(new Date('2024-02-03T04:05:06.120Z'))).toBe('2024-02-03T04:05:06.12Z');
  });

  it('maps compression to layer media types and back', () => {
    expect(layerMediaType('gzip')).toBe(MediaType.ociLayerGzip);
    expect(layerMediaType('zstd')).toBe(MediaType.ociLayerZstd);
    expect(layerMediaType('none')).toBe(MediaType.ociLayer);
    expect(layerMediaType('gzip', 'docker')).toBe(MediaType.dockerLayerGzip);
    expect(() => layerMediaType('zstd', 'docker')).toThrow(ImageFormatError);
    expect(layerCompression(MediaType.dockerForeignLayerGzip)).toBe('gzip');
    expect(layerCompression(MediaType.ociLayerZstd)).toBe('zstd');
    expect(layerCompression(MediaType.ociConfig)).toBeUndefined();
  });
});
