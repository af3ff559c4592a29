/**
 * `load`: an image archive → images in the local store, tagged with the names the archive gives them.
 * The format is detected from the content, not the file name: an OCI layout (`oci-layout` + `index.json`,
 * preferred when both are present, as in Docker 25+ archives, because it keeps the original manifests
 * and compression) or a `docker save` archive (`manifest.json`).
 */
import type { Readable } from 'node:stream';
import { BlobStore } from '../../store/blob-store';
import { UserError } from '../../errors';
import { LayerFormatError } from '../../layers/errors';
import { ImageFormatError } from '../errors';
import { ImageStore } from '../image-store';
import { formatReference, parseDockerReference } from '../reference';
import { scanArchive } from './archive-scan';
import { isDockerArchive, readDockerArchive } from './docker-archive';
import { isOciLayout, readOciArchive } from './oci-archive';
import type { ArchiveFormat, ArchiveImage } from './types';

export type { ArchiveFormat, ArchiveImage } from './types';

export interface LoadOptions {
  /**
   * One more name for the archive's image: when it holds exactly one image, or exactly one the archive
   * leaves unnamed (an OCI ref name like `latest` is a tag without a repository).
   */
  tag?: string;
}

export interface LoadResult {
  format: ArchiveFormat;
  images: ArchiveImage[];
}

export async function loadArchive(
  root: string,
  source: Readable | AsyncIterable<Uint8Array>,
  options: LoadOptions = {},
): Promise<LoadResult> {
  const store = new BlobStore(root);
  await store.init();
  let scanned;
  try {
    scanned = await scanArchive(source, store);
  } catch (err) {
    // The tar reader speaks of layers; here the tar is the archive itself.
    if (err instanceof LayerFormatError)
      throw new ImageFormatError(`cannot read the archive: ${err.message}`);
    throw err;
  }
  let format: ArchiveFormat;
  let images: ArchiveImage[];
  if (isOciLayout(scanned)) {
    format = 'oci';
    images = await readOciArchive(scanned, store);
  } else if (isDockerArchive(scanned)) {
    format = 'docker';
    images = await readDockerArchive(scanned, store);
  } else {
    throw new ImageFormatError(
      'not an image archive: expected an OCI layout (oci-layout, index.json) or a docker save archive (manifest.json)',
    );
  }
  if (images.length === 0) throw new ImageFormatError('the archive holds no images');
  if (options.tag !== undefined) {
    const unnamed = images.filter((i) => i.names.length === 0);
    const target = images.length === 1 ? images[0] : unnamed.length === 1 ? unnamed[0] : undefined;
    if (target === undefined) {
      throw new UserError(
        `the archive holds ${images.length} images; a name given for it must fit exactly one`,
      );
    }
    const name = tagName(options.tag);
    if (!target.names.includes(name)) target.names.push(name);
  }
  const tags = new ImageStore(root);
  for (const image of images) for (const name of image.names) await tags.tag(name, image.manifest);
  return { format, images };
}

function tagName(name: string): string {
  const ref = parseDockerReference(name);
  if (ref.digest !== undefined)
    throw new UserError(`a name for a loaded image cannot have a digest: ${name}`);
  return formatReference(ref);
}
