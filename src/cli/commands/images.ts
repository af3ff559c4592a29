import { Flags } from '@oclif/core';
import { BlobStore } from '../../store/blob-store';
import { formatSize } from '../../cache/units';
import { ImageStore } from '../../image/image-store';
import { familiarName, parseDockerReference } from '../../image/reference';
import { BaseCommand } from '../base-command';
import { storeRoot } from '../build-options';

export default class Images extends BaseCommand {
  static override summary = 'List the images in the local store.';

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
    const rows = [['REPOSITORY', 'TAG', 'DIGEST', 'SIZE']];
    for (const r of records) {
      const ref = parseDockerReference(r.name);
      const name = familiarName({ ...ref, tag: undefined, digest: undefined });
      const digest = flags.digests ? r.target.digest : r.target.digest.slice(7, 19);
      const size = (await blobs.has(r.target.digest)) ? await imageSize(blobs, r.target.digest) : 0;
      rows.push([name, ref.tag ?? '<none>', digest, formatSize(size)]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    for (const row of rows)
      process.stdout.write(
        `${row
          .map((c, i) => c.padEnd(widths[i]))
          .join('   ')
          .trimEnd()}\n`,
      );
  }
}

/** Compressed size of the config and layers, as `docker images` reports for registry-style images. */
async function imageSize(blobs: BlobStore, manifestDigest: `sha256:${string}`): Promise<number> {
  try {
    const manifest = JSON.parse((await blobs.readAll(manifestDigest)).toString('utf8')) as {
      config?: { size: number };
      layers?: { size: number }[];
    };
    return (manifest.config?.size ?? 0) + (manifest.layers ?? []).reduce((n, l) => n + l.size, 0);
  } catch {
    return 0;
  }
}
