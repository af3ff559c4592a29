/**
 * An OCI image layout directory as a build source (`--build-context NAME=oci-layout://DIR[:TAG|@DIGEST]`, as buildx
 * has it): the chosen image's blobs are copied into the store, each verified against its digest on the way in.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { BlobStore } from '../../store/blob-store';
import { digestHex, type Digest } from '../../store/digest';
import { BuildError, UserError } from '../../errors';
import { Annotation, isIndexMediaType, parseIndex, parseManifest, type Descriptor } from '../oci-types';

export interface LayoutRef {
  dir: string;
  tag?: string;
  digest?: string;
}

/** `DIR`, `DIR:TAG` or `DIR@sha256:…` (a `:` only counts as a tag separator after the last `/`). */
export function parseLayoutRef(spec: string): LayoutRef {
  const at = spec.lastIndexOf('@');
  if (at > 0) return { dir: spec.slice(0, at), digest: spec.slice(at + 1) };
  const colon = spec.lastIndexOf(':');
  if (colon > spec.lastIndexOf('/')) return { dir: spec.slice(0, colon), tag: spec.slice(colon + 1) };
  return { dir: spec };
}

/** Copies the image `ref` names from the layout into the store; returns its manifest (or index) descriptor. */
export async function importLayoutImage(store: BlobStore, ref: LayoutRef): Promise<Descriptor> {
  const indexPath = path.join(ref.dir, 'index.json');
  let indexBytes: Buffer;
  try {
    indexBytes = await fsp.readFile(indexPath);
  } catch {
    throw new UserError(`oci-layout://${ref.dir}: not an OCI image layout (no index.json)`);
  }
  const index = parseIndex(indexBytes);
  const candidates = index.manifests.filter((m) =>
    ref.digest !== undefined
      ? m.digest === ref.digest
      : ref.tag !== undefined
        ? m.annotations?.[Annotation.refName] === ref.tag
        : true,
  );
  if (candidates.length !== 1) {
    const what = ref.digest ?? (ref.tag !== undefined ? `tag ${ref.tag}` : 'image');
    throw new UserError(
      `oci-layout://${ref.dir}: ${candidates.length === 0 ? `no ${what}` : `${candidates.length} images; name one with :TAG or @DIGEST`}`,
    );
  }
  await copyTree(store, ref.dir, candidates[0]);
  return candidates[0];
}

async function copyTree(store: BlobStore, dir: string, desc: Descriptor): Promise<void> {
  await copyBlob(store, dir, desc.digest, desc.size);
  if (isIndexMediaType(desc.mediaType)) {
    for (const child of parseIndex(await store.readAll(desc.digest)).manifests)
      await copyTree(store, dir, child);
    return;
  }
  const manifest = parseManifest(await store.readAll(desc.digest));
  for (const blob of [manifest.config, ...manifest.layers])
    await copyBlob(store, dir, blob.digest, blob.size);
}

async function copyBlob(store: BlobStore, dir: string, digest: Digest, size: number): Promise<void> {
  if (await store.has(digest)) return;
  const file = path.join(dir, 'blobs', 'sha256', digestHex(digest));
  try {
    await store.put(createReadStream(file), { expectedDigest: digest, expectedSize: size });
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') {
      throw new BuildError(`oci-layout://${dir}: blob ${digest} is missing`);
    }
    throw err;
  }
}
