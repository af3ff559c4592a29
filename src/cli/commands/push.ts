import { shortDigest } from '../../store/digest';
import { Args, Flags } from '@oclif/core';
import { BuildError } from '../../errors';
import { ImageStore } from '../../image/image-store';
import { RegistryClient } from '../../image/registry/client';
import { pushImage, type PushEvent } from '../../image/registry/push';
import { originFetcher } from '../../image/registry/origin-fetch';
import { BlobStore } from '../../store/blob-store';
import { parseDockerReference, repositoryName } from '../../image/reference';
import { BaseCommand } from '../base-command';
import { repeatableString } from '../flags';
import { storeRoot } from '../build-options';

export default class Push extends BaseCommand {
  static override summary = 'Push an image from the local store to a registry.';

  static override description =
    'Uploads NAME’s config and layers (skipping those the registry has, mounting those another repository ' +
    'of the same registry has) and then its manifest, byte for byte, so the remote digest is the local one. ' +
    'REF defaults to NAME. Credentials come from ~/.docker/config.json ($DOCKER_CONFIG).';

  static override examples = [
    '<%= config.bin %> push 127.0.0.1:5000/team/app:1.2',
    '<%= config.bin %> push myapp:latest registry.example.com/team/myapp:1.2',
  ];

  static override args = {
    name: Args.string({ ignoreStdin: true, description: 'local image (NAME[:TAG])', required: true }),
    ref: Args.string({ ignoreStdin: true, description: 'remote reference (default: NAME)' }),
  };

  static override flags = {
    'insecure-registry': repeatableString({
      description: 'registry (host[:port]) reached over HTTPS without certificate checks, or plain HTTP',
    }),
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
    quiet: Flags.boolean({ char: 'q', description: 'print only the pushed digest' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Push);
    const remote = args.ref ?? args.name;
    const say = (line: string): void => {
      if (!flags.quiet) process.stderr.write(`${line}\n`);
    };
    const client = new RegistryClient({
      insecureRegistries: flags['insecure-registry'] ?? [],
      onRetry: (operation, n) =>
        say(`${operation}: ${n.error.message}; retrying in ${(n.delayMs / 1000).toFixed(1)} s`),
    });
    const root = storeRoot(flags.root);
    if (!(await new ImageStore(root).resolve(args.name))) throw new BuildError(`no such image: ${args.name}`);
    say(`The push refers to repository [${repositoryName(parseDockerReference(remote))}]`);
    const onEvent = (e: PushEvent): void => {
      if (e.type === 'manifest') return;
      const id = shortDigest(e.digest);
      if (e.status === 'exists') say(`${id}: Layer already exists`);
      else if (e.status === 'mounted') say(`${id}: Mounted from ${e.from ?? 'another repository'}`);
      else if (e.status === 'pushed') say(`${id}: Pushed`);
    };
    // A pulled layer whose blob was dropped after unpacking comes again from its registry, if the target lacks it.
    const fetchMissing = originFetcher(new BlobStore(root), client);
    const result = await pushImage(root, args.name, remote, { client, onEvent, fetchMissing });
    const ref = parseDockerReference(remote);
    if (flags.quiet) process.stdout.write(`${result.digest}\n`);
    else process.stdout.write(`${ref.tag ?? ref.digest}: digest: ${result.digest} size: ${result.size}\n`);
  }
}
