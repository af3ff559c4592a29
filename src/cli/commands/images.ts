import { Flags } from '@oclif/core';
import { BlobStore } from '../../store/blob-store';
import type { Digest } from '../../store/digest';
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
    quiet: Flags.boolean({ char: 'q', description: 'print only manifest digests' }),
    digests: Flags.boolean({ description: 'show full digests' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Images);
    const root = storeRoot(flags.root);
    const blobs = new BlobStore(root);
    const records = await new ImageStore(root).list();
    if (flags.quiet) {
      for (const r of records) process.stdout.write(`${r.target.digest}\n`);
      return;
    }
    const sizes = new LayerSizes(root, blobs);
    const rows = [['REPOSITORY', 'TAG', 'DIGEST', 'CREATED', 'SIZE']];
    for (const r of records) {
      const ref = parseDockerReference(r.name);
      const name = familiarName({ ...ref, tag: undefined, digest: undefined });
      const digest = flags.digests ? r.target.digest : r.target.digest.slice(7, 19);
      const { created, size } = await describe(blobs, sizes, r);
      rows.push([name, ref.tag ?? '<none>', digest, createdSince(created), humanSize(size)]);
    }
    process.stdout.write(formatTable(rows));
  }
}

/** An image's creation time and size; an image the store cannot read whole counts as 0B, created N/A. */
async function describe(
  blobs: BlobStore,
  sizes: LayerSizes,
  record: ImageRecord,
): Promise<{ created: string | undefined; size: number }> {
  if (!(await blobs.has(record.target.digest))) return { created: undefined, size: 0 };
  const image = await loadImage(blobs, record.target, hostPlatform()).catch(() => undefined);
  if (image === undefined) return { created: undefined, size: 0 };
  let size = 0;
  for (const layer of image.layers) size += await sizes.get(layer);
  return { created: image.config.created, size };
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
