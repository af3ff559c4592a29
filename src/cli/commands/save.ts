import { Args, Flags } from '@oclif/core';
import { pipeline } from 'node:stream/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { atomicWriteStream } from '../../cache/atomic';
import { BlobStore } from '../../cache/blob-store';
import { BuildError, UserError } from '../../errors';
import { dockerArchiveTar, type ArchiveImage } from '../../image/docker-archive';
import { ImageStore } from '../../image/image-store';
import { ociLayoutTar, type LayoutImage } from '../../image/oci-layout';
import { isIndexMediaType, parseIndex, type Descriptor } from '../../image/oci-types';
import { formatPlatformSpec, selectManifest, type PlatformSpec } from '../../image/registry/platform-match';
import { hostPlatform, parsePlatformOption } from '../../planner';
import { BaseCommand } from '../base-command';
import { storeRoot } from '../build-options';

export default class Save extends BaseCommand {
  static override summary = 'Write images from the local store to a tar archive.';

  static override description =
    'Writes NAME… to FILE (or standard output when it is not a terminal). `--format docker` (the ' +
    'default, as `docker save`) writes a docker save archive that `docker load` and `podman load` read; ' +
    'layers are uncompressed in it and a multi-platform image is saved for one platform (`--platform`, ' +
    'default this machine’s). `--format oci` writes an OCI image layout tar (`skopeo … oci-archive:`) ' +
    'that keeps the manifests, digests and layer compression exactly.';

  static override examples = [
    '<%= config.bin %> save myapp -o myapp.tar',
    '<%= config.bin %> save --format oci myapp:1.0 myapp:1.1 -o myapp.oci.tar',
    '<%= config.bin %> save myapp | podman load',
  ];

  static override strict = false;

  static override args = {
    name: Args.string({ description: 'image name(s)', required: true }),
  };

  static override flags = {
    output: Flags.string({ char: 'o', description: 'archive to write (default: standard output)' }),
    format: Flags.string({ options: ['docker', 'oci'], default: 'docker', description: 'archive format' }),
    platform: Flags.string({ description: 'platform of a multi-platform image, for docker archives' }),
    root: Flags.string({ description: 'store directory (default $TSBUILD_ROOT or ~/.local/share/tsbuild)' }),
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Save);
    const root = storeRoot(flags.root);
    const images = new ImageStore(root);
    const blobs = new BlobStore(root);
    const records = [];
    for (const name of argv as string[]) {
      const record = await images.resolve(name);
      if (!record) throw new BuildError(`no such image: ${name}`);
      records.push(record);
    }
    let archive: Readable;
    if (flags.format === 'oci') {
      const layout: LayoutImage[] = records.map((r) => ({
        manifest: r.target,
        refName: r.name.slice(r.name.lastIndexOf(':') + 1),
        imageName: r.name,
      }));
      archive = ociLayoutTar(blobs, layout);
    } else {
      const platform = flags.platform ? parsePlatformOption(flags.platform) : hostPlatform();
      const byManifest = new Map<string, ArchiveImage>();
      for (const r of records) {
        const manifest = await singlePlatform(blobs, r.target, platform, r.name);
        const entry = byManifest.get(manifest.digest) ?? { manifest, tags: [] };
        byManifest.set(manifest.digest, { ...entry, tags: [...entry.tags, r.name] });
      }
      archive = dockerArchiveTar(blobs, [...byManifest.values()]);
    }
    if (flags.output === undefined || flags.output === '-') {
      if (process.stdout.isTTY)
        throw new UserError('save: refusing to write an archive to a terminal; use -o FILE');
      await pipeline(archive, process.stdout);
    } else {
      await atomicWriteStream(path.resolve(flags.output), archive);
    }
  }
}

/** A docker archive holds one platform's image: the manifest itself, or the platform's entry of an index. */
async function singlePlatform(
  blobs: BlobStore,
  target: Descriptor,
  platform: PlatformSpec,
  name: string,
): Promise<Descriptor> {
  if (!isIndexMediaType(target.mediaType)) return target;
  const entry = selectManifest(parseIndex(await blobs.readAll(target.digest)), platform);
  if (entry === undefined || !(await blobs.has(entry.digest))) {
    throw new BuildError(`${name} has no image for ${formatPlatformSpec(platform)} in the local store`);
  }
  return entry;
}
