/**
 * What the build command needs from the image room: the local store as a source of base images and a place to
 * tag the result, and the `--output` exporters.
 */
import { createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BlobStore } from '../cache/blob-store';
import type { LayerRecord } from '../cache/key-index';
import type { BuiltImage, ResolvedImage } from '../executor/build';
import { materializeRootfs } from '../executor/rootfs';
import { ImageStore } from '../image/image-store';
import { ociLayoutTar, writeOciLayout } from '../image/oci-layout';
import {
  isIndexMediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
  type Descriptor,
} from '../image/oci-types';
import { normalizeReference, parseDockerReference } from '../image/reference';
import { UserError } from '../errors';
import type { Platform } from '../planner/types';
import type { OutputSpec } from './build-options';
import { writeDockerArchive } from '../image/docker-archive';

export interface BuildImageStore {
  /** `myapp` → `docker.io/library/myapp:latest`; a UserError for an invalid name. */
  normalizeTag(name: string): string;
  resolve(normalizedRef: string, platform: Platform): Promise<ResolvedImage | undefined>;
  tag(name: string, image: BuiltImage): Promise<void>;
}

export async function openImageStore(root: string): Promise<BuildImageStore> {
  const blobs = new BlobStore(root);
  await blobs.init();
  const images = new ImageStore(root);
  return {
    normalizeTag(name: string): string {
      try {
        const ref = parseDockerReference(name);
        if (ref.digest !== undefined) throw new Error('a tag cannot contain a digest');
        return normalizeReference(name);
      } catch (err) {
        throw new UserError(`invalid tag "${name}": ${err instanceof Error ? err.message : String(err)}`);
      }
    },
    async resolve(ref: string, platform: Platform): Promise<ResolvedImage | undefined> {
      const record = await images.resolve(ref);
      if (!record) return undefined;
      return loadImage(blobs, record.target, platform);
    },
    async tag(name: string, image: BuiltImage): Promise<void> {
      await images.tag(name, {
        mediaType: image.manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json',
        digest: image.manifestDigest,
        size: image.manifestSize,
      });
    },
  };
}

/** A manifest (or the platform's manifest of an index) with its config and layers, all read verified. */
export async function loadImage(
  blobs: BlobStore,
  target: Descriptor,
  platform: Platform,
): Promise<ResolvedImage | undefined> {
  let desc = target;
  if (isIndexMediaType(desc.mediaType)) {
    const index = parseIndex(await blobs.readAll(desc.digest));
    const match =
      index.manifests.find(
        (m) =>
          m.platform?.os === platform.os &&
          m.platform.architecture === platform.architecture &&
          (platform.variant === undefined || m.platform.variant === platform.variant),
      ) ?? (index.manifests.length === 1 ? index.manifests[0] : undefined);
    if (!match) return undefined;
    desc = match;
  }
  const manifest = parseManifest(await blobs.readAll(desc.digest));
  const config = parseImageConfig(await blobs.readAll(manifest.config.digest));
  const layers: LayerRecord[] = manifest.layers.map((l, i) => ({
    digest: l.digest,
    diffId: config.rootfs.diff_ids[i],
    size: l.size,
    mediaType: l.mediaType,
  }));
  return { manifestDigest: desc.digest, config, layers };
}

export async function writeOutputs(
  root: string,
  image: BuiltImage,
  outputs: readonly OutputSpec[],
  name: string | undefined,
): Promise<void> {
  const blobs = new BlobStore(root);
  const manifest: Descriptor = {
    mediaType: image.manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json',
    digest: image.manifestDigest,
    size: image.manifestSize,
  };
  const tag = name ? name.slice(name.lastIndexOf(':') + 1) : 'latest';
  for (const out of outputs) {
    const dest = path.resolve(out.dest);
    if (out.type === 'oci') {
      const layout = { manifest, refName: tag, ...(name ? { imageName: name } : {}) };
      if (out.tar)
        await writeAtomically(dest, (tmp) => pipeline(ociLayoutTar(blobs, [layout]), createWriteStream(tmp)));
      else await writeOciLayout(blobs, dest, [layout]);
    } else if (out.type === 'docker') {
      await writeDockerArchive(blobs, [{ manifest, tags: name ? [name] : [] }], dest);
    } else {
      const rootfs = await materializeRootfs(root, blobs, image.layers, 'image');
      await fsp.mkdir(dest, { recursive: true });
      await fsp.cp(rootfs.root, dest, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    }
  }
}

async function writeAtomically(dest: string, write: (tmp: string) => Promise<void>): Promise<void> {
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    await write(tmp);
    await fsp.rename(tmp, dest);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}
