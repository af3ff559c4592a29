import { shortDigest } from '../../store/digest';
import { hostPlatform } from '../../platform';
import { Args, Flags } from '@oclif/core';
import { parsePlatformOption } from '../../planner';
import { RegistryClient } from '../../image/registry/client';
import { pullImage, type PullEvent } from '../../image/registry/pull';
import { BaseCommand } from '../base-command';
import { repeatableString } from '../flags';
import { storeRoot } from '../build-options';
import { loadImage } from '../../image/stored-image';
import { BlobStore } from '../../store/blob-store';
import { ensureSnapshots } from '../../layers/snapshots';

export default class Pull extends BaseCommand {
  static override summary = 'Pull an image from a registry into the local store.';

  static override description =
    'Fetches REF (name[:tag] or name@digest; default tag latest) for the platform (default: this machine’s), ' +
    'verifying every blob against its digest, and tags it in the local store. For a multi-platform image ' +
    'only the platform’s manifest and layers are fetched. A tag is always re-checked with the registry; a ' +
    'digest already in the store needs no network. The layers are unpacked into the store, as `docker pull` ' +
    'extracts them, so the first RUN on the image does not wait for it. Credentials come from ~/.docker/config.json ' +
    '($DOCKER_CONFIG), including credential helpers. Registries on localhost, 127.0.0.0/8 and ::1 speak plain HTTP.';

  static override examples = [
    '<%= config.bin %> pull busybox',
    '<%= config.bin %> pull --platform linux/arm64 127.0.0.1:5000/team/app:1.2',
    '<%= config.bin %> pull --insecure-registry registry.lan:5000 registry.lan:5000/base@sha256:…',
  ];

  static override args = {
    ref: Args.string({ ignoreStdin: true, description: 'image reference', required: true }),
  };

  static override flags = {
    platform: Flags.string({ description: 'platform to pull (os/arch[/variant])' }),
    'insecure-registry': repeatableString({
      description: 'registry (host[:port]) reached over HTTPS without certificate checks, or plain HTTP',
    }),
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
    quiet: Flags.boolean({ char: 'q', description: 'print only the image name' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Pull);
    const platform = flags.platform ? parsePlatformOption(flags.platform) : hostPlatform();
    const say = (line: string): void => {
      if (!flags.quiet) process.stderr.write(`${line}\n`);
    };
    const client = new RegistryClient({
      insecureRegistries: flags['insecure-registry'] ?? [],
      onRetry: (operation, n) =>
        say(`${operation}: ${n.error.message}; retrying in ${(n.delayMs / 1000).toFixed(1)} s`),
    });
    const onEvent = (e: PullEvent): void => {
      if (e.type === 'resolved') say(`${e.name}: resolved to ${e.digest}`);
      else if (e.status === 'present') say(`${shortDigest(e.digest)}: Already exists`);
      else if (e.status === 'done') say(`${shortDigest(e.digest)}: Pull complete`);
    };
    const root = storeRoot(flags.root);
    const result = await pullImage(root, args.ref, platform, { client, onEvent });
    const blobs = new BlobStore(root);
    await blobs.init();
    const image = await loadImage(blobs, result.manifest, platform);
    // Unpacked once per layer and machine: a layer already unpacked (another image's, an earlier pull's) is kept.
    if (image !== undefined) await ensureSnapshots(root, blobs, image.layers);
    say(`Digest: ${result.digest}`);
    say(
      result.downloaded > 0
        ? `Status: Downloaded newer image for ${result.name}`
        : `Status: Image is up to date for ${result.name}`,
    );
    process.stdout.write(`${result.name}\n`);
  }
}
