import { Flags } from '@oclif/core';
import { BlobStore } from '../../store/blob-store';
import { shortDigest, type Digest } from '../../store/digest';
import { ImageStore, type ImageRecord } from '../../image/image-store';
import { familiarName, parseDockerReference } from '../../image/reference';
import { loadImage, type LayerRecord } from '../../image/stored-image';
import { uncompressedLayerSize } from '../../layers/layer-size';
import { hostPlatform } from '../../platform';
import { BaseCommand } from '../base-command';
import { storeRoot } from '../build-options';
import { createdSince, formatTable, humanSize } from '../docker-format';

export default class Images extends BaseCommand {
  static override summary = 'List the images in the local store.';

  static override description =
    'As `docker images`: CREATED is the age of the image config, SIZE the uncompressed size of its layers (the ' +
    'files they unpack to). A layer still only in its registry (a base a build left there) counts with its ' +
    'compressed size until it is fetched.';

  static override flags = {
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
    quiet: Flags.boolean({ char: 'q', description: 'print only image ids' }),
    digests: Flags.boolean({ description: 'show the manifest digests too' }),
    'no-trunc': Flags.boolean({ description: 'show image ids whole' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Images);
    const root = storeRoot(flags.root);
    const blobs = new BlobStore(root);
    const records = await new ImageStore(root).list();
    const sizes = new LayerSizes(root, blobs);
    // As docker's: the image id is the config's digest, cut to 12 hex digits unless --no-trunc.
    const shownId = (id: Digest | undefined): string =>
      id === undefined ? '<none>' : flags['no-trunc'] ? id : shortDigest(id);
    const rows = [['REPOSITORY', 'TAG', ...(flags.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE']];
    for (const r of records) {
      const { id, created, size } = await describe(blobs, sizes, r);
      if (flags.quiet) {
        process.stdout.write(`${shownId(id)}\n`);
        continue;
      }
      const ref = parseDockerReference(r.name);
      const name = familiarName({ ...ref, tag: undefined, digest: undefined });
      rows.push([
        name,
        ref.tag ?? '<none>',
        ...(flags.digests ? [r.target.digest] : []),
        shownId(id),
        createdSince(created),
        humanSize(size),
      ]);
    }
    if (!flags.quiet) process.stdout.write(formatTable(rows));
  }
}

/** An image's id, creation time and size; an image the store cannot read whole counts as 0B, created N/A. */
async function describe(
  blobs: BlobStore,
  sizes: LayerSizes,
  record: ImageRecord,
): Promise<{ id: Digest | undefined; created: string | undefined; size: number }> {
  const unreadable = { id: undefined, created: undefined, size: 0 };
  if (!(await blobs.has(record.target.digest))) return unreadable;
  const image = await loadImage(blobs, record.target, hostPlatform()).catch(() => undefined);
  if (image === undefined) return unreadable;
  let size = 0;
  for (const layer of image.layers) size += await sizes.get(layer);
  return { id: image.configDigest, created: image.config.created, size };
}

/** Uncompressed layer sizes, each layer asked once per listing (images share their base layers). */
class LayerSizes {
  private readonly known = new Map<Digest, Promise<number>>();

  constructor(
    private readonly root: string,
    private readonly blobs: BlobStore,
  ) {}

  get(layer: LayerRecord): Promise<number> {
    let size = this.known.get(layer.diffId);
    if (size === undefined) {
      size = uncompressedLayerSize(this.root, this.blobs, layer).then((n) => n ?? layer.size);
      this.known.set(layer.diffId, size);
    }
    return size;
  }
}
