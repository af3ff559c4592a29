import { Flags } from '@oclif/core';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../errors';
import { loadArchive } from '../../image/import/load';
import { BaseCommand } from '../base-command';
import { storeRoot } from '../build-options';

export default class Load extends BaseCommand {
  static override summary = 'Load images from an OCI layout tar or a docker save archive.';

  static override description =
    'Reads FILE (or standard input), which may be gzip- or zstd-compressed, and detects its format: an ' +
    'OCI image layout tar (`skopeo … oci-archive:`, `tsbuild save --format oci`) or a docker save ' +
    'archive (`docker save`, `podman save`, `tsbuild save`). Every blob is verified before it enters the ' +
    'store, and images are tagged with the names the archive gives them (`io.containerd.image.name` or ' +
    'a full `org.opencontainers.image.ref.name`; RepoTags). `-t` names an image the archive leaves ' +
    'unnamed. Layers of docker archives are stored uncompressed, as they come, so their digests are ' +
    'their diff_ids.';

  static override examples = [
    '<%= config.bin %> load -i busybox.tar',
    'docker save myapp | <%= config.bin %> load',
    '<%= config.bin %> load -i image.oci.tar -t myapp:1.0',
  ];

  static override flags = {
    input: Flags.string({ char: 'i', description: 'archive to read (default: standard input)' }),
    tag: Flags.string({ char: 't', description: 'also name the archive’s image NAME[:TAG]' }),
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
    quiet: Flags.boolean({ char: 'q', description: 'print only image names (or digests)' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Load);
    let source: NodeJS.ReadableStream & AsyncIterable<Uint8Array>;
    if (flags.input === undefined || flags.input === '-') {
      if (process.stdin.isTTY) throw new UserError('load: no archive given; use -i FILE or pipe one in');
      source = process.stdin;
    } else {
      const file = path.resolve(flags.input);
      const stat = await fsp.stat(file).catch(() => undefined);
      if (!stat?.isFile()) throw new UserError(`load: ${flags.input} is not a file`);
      source = createReadStream(file);
    }
    const result = await loadArchive(storeRoot(flags.root), source, { tag: flags.tag });
    for (const image of result.images) {
      if (image.names.length === 0) {
        const why = image.refName === undefined ? 'no name' : `only the tag "${image.refName}"`;
        process.stdout.write(
          flags.quiet
            ? `${image.manifest.digest}\n`
            : `Loaded image: ${image.manifest.digest} (the archive gives it ${why}; name it with -t NAME)\n`,
        );
      }
      for (const name of image.names)
        process.stdout.write(flags.quiet ? `${name}\n` : `Loaded image: ${name}\n`);
    }
  }
}
