/**
 * Images from a scanned OCI layout (`index.json` + `blobs/`): each top-level descriptor is an image (or a
 * multi-platform index), complete only if every blob it references came with the archive. Its name is
 * `io.containerd.image.name` when present (Docker and containerd write it), else
 * `org.opencontainers.image.ref.name` when that is a full reference (`app:1`, `reg/team/app`); a bare
 * ref name such as `latest` is only a tag, and the image is reported as unnamed.
 */
import type { BlobStore } from '../../store/blob-store';
import { imageBlobs } from '../assemble';
import { ImageFormatError } from '../errors';
import { Annotation, parseIndex, type Descriptor } from '../oci-types';
import { formatReference, parseDockerReference } from '../reference';
import { metadataFile, type ScannedArchive } from './archive-scan';
import type { ArchiveImage } from './types';

export function isOciLayout(archive: ScannedArchive): boolean {
  return (
    metadataFile(archive, 'index.json') !== undefined && metadataFile(archive, 'oci-layout') !== undefined
  );
}

export async function readOciArchive(archive: ScannedArchive, store: BlobStore): Promise<ArchiveImage[]> {
  const layout = metadataFile(archive, 'oci-layout') as Buffer;
  let version: unknown;
  try {
    version = (JSON.parse(layout.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch {
    throw new ImageFormatError("the archive's oci-layout file is not JSON");
  }
  if (typeof version !== 'string' || !version.startsWith('1.')) {
    throw new ImageFormatError(`unsupported OCI image layout version ${JSON.stringify(version)}`);
  }
  const index = parseIndex(metadataFile(archive, 'index.json') as Buffer);
  const images: ArchiveImage[] = [];
  for (const entry of index.manifests) {
    await checkComplete(store, entry);
    const { annotations, ...manifest } = entry;
    const name = nameOf(annotations);
    const existing = images.find((i) => i.manifest.digest === manifest.digest);
    if (existing !== undefined) {
      if (name.name !== undefined && !existing.names.includes(name.name)) existing.names.push(name.name);
      continue;
    }
    images.push({
      manifest,
      names: name.name === undefined ? [] : [name.name],
      ...(name.refName !== undefined ? { refName: name.refName } : {}),
    });
  }
  return images;
}

/** Every blob the image references must have come with the archive (foreign layers with URLs excepted). */
async function checkComplete(store: BlobStore, entry: Descriptor): Promise<void> {
  const read = async (d: Descriptor['digest']): Promise<Buffer> => {
    if (!(await store.has(d)))
      throw new ImageFormatError(`the archive lacks ${d}, which ${entry.digest} references`);
    return store.readAll(d);
  };
  for (const blob of await imageBlobs(store, entry, read)) {
    if (await store.has(blob.digest)) continue;
    if (blob.urls !== undefined && blob.urls.length > 0) continue;
    throw new ImageFormatError(
      `the archive lacks blob ${blob.digest}, which image ${entry.digest} references`,
    );
  }
}

function nameOf(annotations: Record<string, string> | undefined): { name?: string; refName?: string } {
  const full = annotations?.[Annotation.containerdImageName];
  const refName = annotations?.[Annotation.refName];
  const parsed = full !== undefined ? tagged(full) : undefined;
  if (parsed !== undefined) return { name: parsed };
  if (refName !== undefined && /[/:]/.test(refName)) {
    const fromRef = tagged(refName);
    if (fromRef !== undefined) return { name: fromRef };
  }
  return refName === undefined ? {} : { refName };
}

/** A normalised `name:tag`, or undefined for something that is not one (a digest reference, garbage). */
function tagged(s: string): string | undefined {
  try {
    const ref = parseDockerReference(s);
    return ref.digest === undefined ? formatReference(ref) : undefined;
  } catch {
    return undefined;
  }
}
