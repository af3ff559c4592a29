import { Args, Flags } from '@oclif/core';
import { BuildError } from '../../errors';
import { ImageStore } from '../../image/image-store';
import { BaseCommand } from '../base-command';
import { storeRoot } from '../build-options';

export default class Tag extends BaseCommand {
  static override summary = 'Give an image in the local store another name.';

  static override description =
    'DST (NAME[:TAG], default tag latest) then points at the same manifest as SRC, which may be a name, ' +
    'name@digest or a manifest digest. An existing DST is moved.';

  static override examples = ['<%= config.bin %> tag myapp:latest 127.0.0.1:5000/team/myapp:1.2'];

  static override args = {
    source: Args.string({ ignoreStdin: true, description: 'existing image', required: true }),
    target: Args.string({ ignoreStdin: true, description: 'new name', required: true }),
  };

  static override flags = {
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Tag);
    const images = new ImageStore(storeRoot(flags.root));
    const record = await images.resolve(args.source);
    if (!record) throw new BuildError(`no such image: ${args.source}`);
    await images.tag(args.target, record.target);
  }
}
