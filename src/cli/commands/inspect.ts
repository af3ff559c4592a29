import { hostPlatform } from '../../platform';
import { Args, Flags } from '@oclif/core';
import { BlobStore } from '../../store/blob-store';
import { BuildError } from '../../errors';
import { ImageStore } from '../../image/image-store';
import { parseManifest } from '../../image/oci-types';
import { BaseCommand } from '../base-command';
import { storeRoot } from '../build-options';
import { loadImage } from '../../image/stored-image';

export default class Inspect extends BaseCommand {
  static override summary = 'Print the config of an image in the local store.';

  static override description =
    'Prints the image config (the JSON whose digest is the image id) of NAME, which may be a name, ' +
    'name:tag, name@digest or a manifest digest. `--manifest` prints the manifest instead.';

  static override args = {
    name: Args.string({ ignoreStdin: true, description: 'image name or digest', required: true }),
  };

  static override flags = {
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
    manifest: Flags.boolean({ description: 'print the manifest instead of the config' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Inspect);
    const root = storeRoot(flags.root);
    const record = await new ImageStore(root).resolve(args.name);
    if (!record) throw new BuildError(`no such image: ${args.name}`);
    const blobs = new BlobStore(root);
    const image = await loadImage(blobs, record.target, hostPlatform());
    if (!image)
      throw new BuildError(
        `image ${args.name} has no manifest for ${hostPlatform().os}/${hostPlatform().architecture}`,
      );
    const manifest = parseManifest(await blobs.readAll(image.manifestDigest));
    if (flags.manifest) {
      process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
      return;
    }
    // As `docker inspect`: Id is the image id (the config digest); the name and manifest digest come along.
    const doc = {
      Id: manifest.config.digest,
      RepoTag: record.name,
      ManifestDigest: image.manifestDigest,
      ...image.config,
    };
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  }
}
