/** Builds a small two-layer image in a blob store, the way the build engine will. */
import { BlobStore } from '../../../src/store/blob-store';
import type { Digest } from '../../../src/store/digest';
import { storeLayer, type StoredLayer } from '../../../src/layers/compress';
import type { BlobCompression } from '../../../src/store/compression';
import { createLayerTar, type LayerEntry } from '../../../src/layers/tar-writer';
import { assembleImage, layerDescriptor, type AssembledImage } from '../../../src/image/assemble';
import { formatTimestamp, type ImageConfig } from '../../../src/image/oci-types';

export const CREATED = 1700000000;

export const LAYER1: LayerEntry[] = [
  { type: 'dir', path: 'bin', mtime: CREATED },
  {
    type: 'file',
    path: 'bin/hello',
    content: Buffer.from('#!/bin/sh\necho hello\n'),
    mode: 0o755,
    mtime: CREATED,
  },
  { type: 'hardlink', path: 'bin/hello2', target: 'bin/hello' },
  { type: 'dir', path: 'etc', mtime: CREATED },
  { type: 'file', path: 'etc/hostname', content: Buffer.from('tsbuild\n'), mtime: CREATED },
  { type: 'symlink', path: 'etc/link', target: 'hostname', mtime: CREATED },
  { type: 'dir', path: 'home', mtime: CREATED },
  { type: 'dir', path: 'home/app', mode: 0o700, uid: 1000, gid: 1000, mtime: CREATED },
  {
    type: 'file',
    path: 'home/app/data',
    content: Buffer.from('old'),
    mode: 0o640,
    uid: 1000,
    gid: 1000,
    mtime: CREATED,
  },
  {
    type: 'file',
    path: 'home/app/setuid',
    content: Buffer.from('s'),
    mode: 0o4750,
    uid: 0,
    gid: 1000,
    mtime: CREATED,
  },
];

export const LAYER2: LayerEntry[] = [
  { type: 'dir', path: 'bin', mtime: CREATED },
  { type: 'whiteout', path: 'bin/hello2', mtime: CREATED },
  { type: 'dir', path: 'etc', mtime: CREATED },
  {
    type: 'file',
    path: 'etc/motd',
    content: Buffer.from('welcome\n'),
    mode: 0o600,
    uid: 1000,
    gid: 2000,
    mtime: CREATED,
  },
  { type: 'dir', path: 'home/app', mode: 0o750, uid: 1000, gid: 1000, mtime: CREATED },
  { type: 'opaque', path: 'home/app', mtime: CREATED },
  { type: 'file', path: 'home/app/new', content: Buffer.from('new\n'), uid: 1000, gid: 1000, mtime: CREATED },
];

export interface TestImage extends AssembledImage {
  layers: StoredLayer[];
  diffIds: Digest[];
}

export async function buildTestImage(
  store: BlobStore,
  compression: [BlobCompression, BlobCompression] = ['gzip', 'gzip'],
  flavour: 'oci' | 'docker' = 'oci',
): Promise<TestImage> {
  const layers = [
    await storeLayer(createLayerTar(LAYER1), store, { compression: compression[0] }),
    await storeLayer(createLayerTar(LAYER2), store, { compression: compression[1] }),
  ];
  const diffIds = layers.map((l) => l.diffId);
  const config: ImageConfig = {
    created: formatTimestamp(CREATED),
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['/bin/hello'],
      WorkingDir: '/home/app',
      Labels: { 'org.example.test': 'yes' },
      ExposedPorts: { '8080/tcp': {} },
    },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [
      { created: formatTimestamp(CREATED), created_by: 'COPY . / # buildkit', comment: 'tsbuild' },
      { created: formatTimestamp(CREATED), created_by: 'RUN rm bin/hello2 # buildkit', comment: 'tsbuild' },
      { created: formatTimestamp(CREATED), created_by: 'CMD ["/bin/hello"]', empty_layer: true },
    ],
  };
  const image = await assembleImage(
    store,
    config,
    layers.map((l) => layerDescriptor(l, flavour)),
    { flavour },
  );
  return { ...image, layers, diffIds };
}
