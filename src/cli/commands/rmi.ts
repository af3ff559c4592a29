import { Args, Flags } from '@oclif/core';
import { BuildError } from '../../errors';
import { ImageStore } from '../../image/image-store';
import { isDigest } from '../../store/digest';
import { parseDockerReference } from '../../image/reference';
import { BaseCommand } from '../base-command';
import { storeRoot } from '../build-options';

export default class Rmi extends BaseCommand {
  static override summary = 'Remove image names from the local store.';

  static override description =
    'Removes each NAME (name[:tag]); a manifest digest or name@digest removes every name that points at ' +
    'it. The blobs stay in the store until the cache is pruned, so a later build or pull of the same ' +
    'image costs nothing. Names that do not exist are reported and the command exits 1 after removing the rest.';

  static override examples = ['<%= config.bin %> rmi myapp:old 127.0.0.1:5000/team/myapp:1.0'];

  static override strict = false;

  static override args = {
    name: Args.string({ ignoreStdin: true, description: 'image name(s)', required: true }),
  };

  static override flags = {
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Rmi);
    const images = new ImageStore(storeRoot(flags.root));
    const missing: string[] = [];
    for (const name of argv as string[]) {
      const names = await namesFor(images, name);
      if (names.length === 0) {
        missing.push(name);
        continue;
      }
      for (const n of names) {
        await images.untag(n);
        process.stdout.write(`Untagged: ${n}\n`);
      }
    }
    if (missing.length > 0) throw new BuildError(`no such image: ${missing.join(', ')}`);
  }
}

/** The names a NAME argument removes: itself, or for a digest every name pointing at that manifest. */
async function namesFor(images: ImageStore, arg: string): Promise<string[]> {
  if (isDigest(arg)) {
    return (await images.list()).filter((r) => r.target.digest === arg).map((r) => r.name);
  }
  const ref = parseDockerReference(arg);
  if (ref.digest === undefined) {
    const record = await images.resolve(arg);
    return record ? [record.name] : [];
  }
  return (await images.list())
    .filter((r) => {
      const named = parseDockerReference(r.name);
      return r.target.digest === ref.digest && named.domain === ref.domain && named.path === ref.path;
    })
    .map((r) => r.name);
}
