/**
 * Export images as an OCI image layout (image-spec `image-layout.md`): a directory with `oci-layout`,
 * `index.json` (one descriptor per image, `org.opencontainers.image.ref.name` = the tag, so
 * `skopeo … oci:DIR:TAG` and `umoci … DIR:TAG` find it) and `blobs/sha256/…`; or the same as a tar stream
 * (an `oci-archive`). Blobs are copied from the store through verified reads.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { atomicWriteFile, atomicWriteStream, isErrno } from '../store/atomic';
import type { BlobStore } from '../store/blob-store';
import { digestHex } from '../store/digest';
import { layerTarChunks, type LayerEntry } from '../layers/tar-writer';
import { imageBlobs } from './assemble';
import {
  Annotation,
  MediaType,
  parseIndex,
  serializeIndex,
  type Descriptor,
  type ImageIndex,
} from './oci-types';

export interface LayoutImage {
  /** The image's manifest (or index) descriptor. */
  manifest: Descriptor;
  /** Written as `org.opencontainers.image.ref.name`: conventionally the tag (`latest`). */
  refName?: string;
  /** Written as `io.containerd.image.name` when given: the full name (`docker.io/library/app:latest`). */
  imageName?: string;
}

export interface LayoutTarOptions {
  /** mtime of every archive member (default 0), for reproducible archives. */
  mtime?: number;
}

export const OCI_LAYOUT_FILE = '{"imageLayoutVersion":"1.0.0"}';

/** Write (or add to) an OCI layout directory. An existing image with the same ref.name is replaced. */
export async function writeOciLayout(
  store: BlobStore,
  dir: string,
  images: readonly LayoutImage[],
): Promise<void> {
  const blobDir = path.join(dir, 'blobs', 'sha256');
  await fsp.mkdir(blobDir, { recursive: true });
  for (const blob of await layoutBlobs(store, images)) {
    const dest = path.join(blobDir, digestHex(blob.digest));
    const existing = await fsp.stat(dest).catch((err: unknown) => {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    });
    if (existing?.isFile() === true && existing.size === blob.size) continue;
    await atomicWriteStream(dest, store.open(blob.digest));
  }
  await atomicWriteFile(path.join(dir, 'oci-layout'), OCI_LAYOUT_FILE);
  const indexPath = path.join(dir, 'index.json');
  let existing: Descriptor[] = [];
  try {
    existing = parseIndex(await fsp.readFile(indexPath)).manifests;
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  const replaced = new Set(images.map((i) => i.refName).filter((r) => r !== undefined));
  const kept = existing.filter((d) => !replaced.has(d.annotations?.[Annotation.refName] ?? '\0'));
  await atomicWriteFile(indexPath, serializeIndex(layoutIndex(images, kept)));
}

/** The layout as a deterministic tar stream (what `skopeo copy … oci-archive:FILE` reads). */
export function ociLayoutTar(
  store: BlobStore,
  images: readonly LayoutImage[],
  options: LayoutTarOptions = {},
): Readable {
  return Readable.from(layoutTarChunks(store, images, options), { objectMode: false });
}

async function* layoutTarChunks(
  store: BlobStore,
  images: readonly LayoutImage[],
  options: LayoutTarOptions,
): AsyncGenerator<Buffer> {
  const mtime = options.mtime ?? 0;
  const entries: LayerEntry[] = [
    { type: 'file', path: 'oci-layout', content: Buffer.from(OCI_LAYOUT_FILE), mtime },
    {
      type: 'file',
      path: 'index.json',
      content: Buffer.from(serializeIndex(layoutIndex(images, []))),
      mtime,
    },
    { type: 'dir', path: 'blobs', mtime },
    { type: 'dir', path: 'blobs/sha256', mtime },
  ];
  for (const blob of await layoutBlobs(store, images)) {
    const size = await store.size(blob.digest);
    entries.push({
      type: 'file',
      path: `blobs/sha256/${digestHex(blob.digest)}`,
      content: { size, open: () => store.open(blob.digest) },
      mtime,
    });
  }
  yield* layerTarChunks(entries);
}

function layoutIndex(images: readonly LayoutImage[], keep: Descriptor[]): ImageIndex {
  const manifests = [...keep];
  for (const image of images) {
    const annotations: Record<string, string> = { ...image.manifest.annotations };
    if (image.imageName !== undefined) annotations[Annotation.containerdImageName] = image.imageName;
    if (image.refName !== undefined) annotations[Annotation.refName] = image.refName;
    manifests.push({ ...image.manifest, annotations });
  }
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
}

/** Every blob the images need; foreign layers (with `urls`) that we do not hold are left out, as allowed. */
async function layoutBlobs(store: BlobStore, images: readonly LayoutImage[]): Promise<Descriptor[]> {
  const all = new Map<string, Descriptor>();
  for (const image of images) {
    for (const d of await imageBlobs(store, image.manifest)) {
      if (all.has(d.digest)) continue;
      if (d.urls !== undefined && d.urls.length > 0 && !(await store.has(d.digest))) continue;
      all.set(d.digest, d);
    }
  }
  return [...all.values()];
}
