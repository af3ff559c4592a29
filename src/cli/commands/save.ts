import { formatPlatform, hostPlatform, type Platform } from '../../platform';
import { Args, Flags } from '@oclif/core';
import { pipeline } from 'node:stream/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { atomicWriteStream } from '../../store/atomic';
import { BlobStore } from '../../store/blob-store';
import { exportableImage } from '../../image/export-layers';
import { BuildError, UserError } from '../../errors';
import { dockerArchiveTar, type ArchiveImage } from '../../image/docker-archive';
import { ImageStore } from '../../image/image-store';
import { ociLayoutTar, type LayoutImage } from '../../image/oci-layout';
import {
  MediaType,
  isIndexMediaType,
  parseIndex,
  parseManifest,
  serializeManifest,
  type Descriptor,
} from '../../image/oci-types';
import { selectManifest } from '../../image/registry/platform-match';
import { RegistryClient } from '../../image/registry/client';
import { fetchDroppedLayers, originFetcher } from '../../image/registry/origin-fetch';
import { parsePlatformOption } from '../../planner';
import { BaseCommand } from '../base-command';
import { storeRoot } from '../build-options';

export default class Save extends BaseCommand {
  static override summary = 'Write images from the local store to a tar archive.';

  static override description =
    'Writes NAME… to FILE (or standard output when it is not a terminal). `--format docker` (the ' +
    'default, as `docker save`) writes a docker save archive that `docker load` and `podman load` read; ' +
    'layers are uncompressed in it and a multi-platform image is saved for one platform (`--platform`, ' +
    'default this machine’s). `--format oci` writes an OCI image layout tar (`skopeo … oci-archive:`) ' +
    'that keeps the layers, their compression and OCI manifests exactly (a Docker v2 manifest is written ' +
    'with the equivalent OCI media types, since OCI layout readers look for those).';

  static override examples = [
    '<%= config.bin %> save myapp -o myapp.tar',
    '<%= config.bin %> save --format oci myapp:1.0 myapp:1.1 -o myapp.oci.tar',
    '<%= config.bin %> save myapp | podman load',
  ];

  static override strict = false;

  static override args = {
    name: Args.string({ ignoreStdin: true, description: 'image name(s)', required: true }),
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
    // A pulled layer whose blob was dropped after unpacking is fetched again from its registry.
    const fetch = originFetcher(blobs, new RegistryClient());
    for (const r of records) await fetchDroppedLayers(blobs, r.target, fetch);
    let archive: Readable;
    if (flags.format === 'oci') {
      const layout: LayoutImage[] = [];
      for (const r of records) {
        layout.push({
          manifest: await exportableImage(root, blobs, await asOciManifest(blobs, r.target)),
          refName: r.name.slice(r.name.lastIndexOf(':') + 1),
          imageName: r.name,
        });
      }
      archive = ociLayoutTar(blobs, layout);
    } else {
      const platform = flags.platform ? parsePlatformOption(flags.platform) : hostPlatform();
      const byManifest = new Map<string, ArchiveImage>();
      for (const r of records) {
        // Not compressed first: the archive holds layers uncompressed, written from their snapshots.
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

/**
 * OCI layout readers (skopeo's `oci:` and `oci-archive:` among them) only look at OCI manifests, so a
 * Docker v2 manifest (a pulled Docker image, a loaded docker archive) is rewritten with the equivalent OCI
 * media types. Config and layers are the same bytes (the image id does not change); the manifest digest
 * does, since its content does. Indexes are written as they are.
 */
async function asOciManifest(blobs: BlobStore, target: Descriptor): Promise<Descriptor> {
  if (target.mediaType !== MediaType.dockerManifest) return target;
  const m = parseManifest(await blobs.readAll(target.digest));
  const bytes = serializeManifest({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { ...m.config, mediaType: MediaType.ociConfig },
    layers: m.layers.map((l) => ({ ...l, mediaType: OCI_LAYER_TYPES[l.mediaType] ?? l.mediaType })),
    ...(m.annotations ? { annotations: m.annotations } : {}),
  });
  const stored = await blobs.put(bytes);
  return { mediaType: MediaType.ociManifest, digest: stored.digest, size: stored.size };
}

const OCI_LAYER_TYPES: Readonly<Record<string, string>> = {
  [MediaType.dockerLayer]: MediaType.ociLayer,
  [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip,
  [MediaType.dockerForeignLayerGzip]: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
};

/** A docker archive holds one platform's image: the manifest itself, or the platform's entry of an index. */
async function singlePlatform(
  blobs: BlobStore,
  target: Descriptor,
  platform: Platform,
  name: string,
): Promise<Descriptor> {
  if (!isIndexMediaType(target.mediaType)) return target;
  const entry = selectManifest(parseIndex(await blobs.readAll(target.digest)), platform);
  if (entry === undefined || !(await blobs.has(entry.digest))) {
    throw new BuildError(`${name} has no image for ${formatPlatform(platform)} in the local store`);
  }
  return entry;
}
